"""Relinks larger than ``RELINK_SYNC_MAX_IMAGES`` run in the background (contract 7.5,
docs/relink.md): the PATCH answers 202 with a request to follow through the requests API, whose
``progress`` moves and whose ``result`` holds the verification report. Here the limit is 2
images, so a task of 3 images is "large". Real S3 emulator, real Redis queue."""

from __future__ import annotations

import pytest

from cvat_lite.engine.models import Image, Project, Task
from cvat_lite.engine.services.relink.background import task_relink_job
from cvat_lite.requests.models import Request
from tests.backup.relink_helpers import bucket_storage, cloud_task, link_of, objects_for
from tests.fixtures.emulators import EmulatedBucket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def s3(s3_emulator, s3_bucket) -> EmulatedBucket:
    return EmulatedBucket(s3_emulator, s3_bucket)


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.RELINK_SYNC_MAX_IMAGES = 2


def _relink(api, task: Task, storage_id, **body):
    return api.patch(
        f"/api/tasks/{task.id}/data/meta", {"cloud_storage_id": storage_id, **body}, format="json"
    )


def _request(api, rq_id: str) -> dict:
    response = api.get(f"/api/requests/{rq_id}")
    assert response.status_code == 200, response.content
    return response.json()


def _queued(response) -> str:
    assert response.status_code == 202, response.content
    body = response.json()
    rq_id = body["rq_id"]
    assert body["request_url"] == f"http://testserver/api/requests/{rq_id}"
    assert f"GET /api/requests/{rq_id}" in body["message"]
    return rq_id


def test_a_large_relink_answers_202_and_its_request_holds_the_report(api, user, s3, drain):
    objects = objects_for(3)
    storage = bucket_storage(user, s3, objects)
    task = cloud_task(user, objects)
    before = link_of(task)

    response = _relink(api, task, storage.id)

    rq_id = _queued(response)
    assert response.json()["images"] == 3 and response.json()["dry_run"] is False
    assert link_of(task) == before  # nothing yet: the worker does it
    queued = _request(api, rq_id)
    assert queued["status"] == "queued" and queued["result"] is None
    assert queued["operation"]["type"] == "update:data_meta"
    assert queued["operation"]["task_id"] == task.id

    drain()

    done = _request(api, rq_id)
    assert done["status"] == "finished", done
    assert done["progress"] == 1.0
    assert done["result_id"] == task.id
    result = done["result"]
    assert (result["task_id"], result["cloud_storage_id"], result["dry_run"]) == (
        task.id,
        storage.id,
        False,
    )
    assert result["verification"]["ok"] is True
    assert result["verification"]["fingerprints_matched"] == 3
    assert done["message"].startswith(f"Relinked to cloud storage #{storage.id}: one listing")
    assert link_of(task)[0] == storage.id


def test_the_limit_itself_still_answers_200_inline(api, user, s3, settings):
    settings.RELINK_SYNC_MAX_IMAGES = 3
    objects = objects_for(3)
    storage = bucket_storage(user, s3, objects)
    task = cloud_task(user, objects)

    response = _relink(api, task, storage.id)

    assert response.status_code == 200, response.content
    assert response.json()["cloud_storage_id"] == storage.id
    assert response.json()["verification"]["ok"] is True
    assert not Request.objects.exists()


def test_a_large_dry_run_is_queued_and_saves_nothing(api, user, s3, drain):
    objects = objects_for(3)
    keys = list(objects)
    storage = bucket_storage(user, s3, {k: v for k, v in objects.items() if k != keys[1]})
    task = cloud_task(user, objects)
    before = link_of(task)

    rq_id = _queued(_relink(api, task, storage.id, dry_run=True))
    drain()

    done = _request(api, rq_id)
    assert done["status"] == "finished", done  # a dry run reports a failed check
    assert done["result"]["dry_run"] is True
    verification = done["result"]["verification"]
    assert (verification["ok"], verification["missing"]) == (False, [keys[1]])
    assert done["message"].startswith("Dry run, nothing saved: ")
    assert link_of(task) == before


def test_a_large_relink_that_fails_verification_fails_with_the_report(api, user, s3, drain):
    objects = objects_for(3)
    keys = list(objects)
    storage = bucket_storage(user, s3, {keys[0]: objects[keys[0]], keys[2]: b"other"})
    task = cloud_task(user, objects)
    before = link_of(task)

    rq_id = _queued(_relink(api, task, storage.id, deleted_frames=[0]))
    drain()

    failed = _request(api, rq_id)
    assert failed["status"] == "failed"
    assert failed["message"].startswith(
        f"Cloud storage #{storage.id} does not hold the task's media: 1 missing, 1 with other "
        "content (of 3 objects)."
    )
    error = failed["result"]
    assert error["code"] == "relink_verification_failed"
    assert error["message"] == failed["message"]
    assert (error["extra"]["missing"], error["extra"]["mismatched"]) == ([keys[1]], [keys[2]])
    assert error["extra"]["verification"]["ok"] is False
    assert link_of(task) == before
    assert Task.objects.get(pk=task.pk).data.deleted_frames == []


def test_deleted_frames_sent_with_a_large_relink_are_saved_with_it(api, user, s3, drain):
    objects = objects_for(3)
    storage = bucket_storage(user, s3, objects)
    task = cloud_task(user, objects)

    rq_id = _queued(_relink(api, task, storage.id, deleted_frames=[2]))
    drain()

    assert _request(api, rq_id)["status"] == "finished"
    task = Task.objects.select_related("data").get(pk=task.pk)
    assert (task.data.cloud_storage_id, task.data.deleted_frames) == (storage.id, [2])


def test_what_needs_no_listing_is_refused_at_once(api, user, s3, drain):
    objects = objects_for(3)
    task = cloud_task(user, objects)
    storage = bucket_storage(user, s3, objects)

    unknown = _relink(api, task, 999_999)
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "cloud_storage_not_found"
    bad_frame = api.patch(
        f"/api/tasks/{task.id}/data/meta",
        {"cloud_storage_id": storage.id, "deleted_frames": [7]},
        format="json",
    )
    assert bad_frame.status_code == 400
    assert bad_frame.json()["code"] == "frame_out_of_range"
    bad_prefix = _relink(api, task, storage.id, prefix="x/", prefix_from="nowhere/")
    assert bad_prefix.status_code == 400
    assert bad_prefix.json()["code"] == "invalid_prefix"
    assert not Request.objects.exists()
    assert drain() == 0


def test_a_second_large_relink_of_the_task_while_one_is_queued_is_409(api, user, s3, drain):
    objects = objects_for(3)
    storage = bucket_storage(user, s3, objects)
    task = cloud_task(user, objects)

    rq_id = _queued(_relink(api, task, storage.id))
    again = _relink(api, task, storage.id, dry_run=True)

    assert again.status_code == 409
    assert again.json()["extra"] == {"rq_id": rq_id}
    drain()
    assert _request(api, rq_id)["status"] == "finished"
    assert _queued(_relink(api, task, storage.id, dry_run=True)) == rq_id  # done: a new one


def test_unlinking_a_large_task_stays_inline(api, user, s3):
    objects = objects_for(3)
    storage = bucket_storage(user, s3, objects)
    task = cloud_task(user, objects, storage=storage)

    response = _relink(api, task, None)

    assert response.status_code == 200, response.content
    assert link_of(task)[0] is None


def test_a_large_project_relink_answers_202_and_its_result_is_the_body(api, user, s3, drain):
    project = Project.objects.create(owner=user, name="p")
    good, bad = objects_for(2, "a/"), objects_for(2, "b/")
    storage = bucket_storage(user, s3, good)
    a = cloud_task(user, good, project=project, name="a")
    b = cloud_task(user, bad, project=project, name="b")

    response = api.patch(
        f"/api/projects/{project.id}/cloud_storage", {"cloud_storage_id": storage.id}, format="json"
    )

    rq_id = _queued(response)
    assert response.json()["images"] == 4
    drain()
    done = _request(api, rq_id)
    assert done["status"] == "finished", done
    assert done["operation"]["type"] == "update:cloud_storage"
    assert done["operation"]["project_id"] == project.id
    assert done["message"] == "1 task(s) relinked, 1 not."
    result = done["result"]
    assert result["relinked"] == [a.id] and result["dry_run"] is False
    assert [f["task_id"] for f in result["failed"]] == [b.id]
    assert result["failed"][0]["code"] == "relink_verification_failed"
    assert [v["task_id"] for v in result["verifications"]] == [a.id, b.id]
    assert (link_of(a)[0], link_of(b)[0]) == (storage.id, None)


def test_the_job_reports_progress_as_it_verifies_then_saves(user, s3, monkeypatch):
    """The request's progress: rows verified (to 0.9), then rows saved (to 1)."""
    from cvat_lite.engine.services.relink import verify

    monkeypatch.setattr(verify, "LEARN_BATCH", 2)
    objects = objects_for(6)
    storage = bucket_storage(user, s3, objects)
    task = cloud_task(user, objects, checksums=False)  # every row learns its evidence
    seen: list[float] = []

    result = task_relink_job(
        progress=seen.append,
        task_id=task.id,
        user_id=user.id,
        cloud_storage_id=storage.id,
        options={"prefix": None, "prefix_from": None, "content_sample": None, "dry_run": False},
    )

    assert seen == sorted(seen)
    verifying = [p for p in seen if p <= 0.9]
    saving = [p for p in seen if p > 0.9]
    assert len(verifying) == 6 and verifying[-1] == pytest.approx(0.9)  # one per row
    assert len(saving) == 3 and saving[-1] == pytest.approx(1.0)  # one per batch of 2
    assert result.result["verification"]["present"] == 6
    assert Image.objects.filter(data_id=task.data_id, object_size__isnull=True).count() == 0
    assert link_of(task)[0] == storage.id


def test_another_user_cannot_read_the_request(api, user, s3, drain, make_user):
    from tests.conftest import _client_for

    objects = objects_for(3)
    storage = bucket_storage(user, s3, objects)
    task = cloud_task(user, objects)
    rq_id = _queued(_relink(api, task, storage.id))

    other = _client_for(make_user("mallory"))
    assert other.get(f"/api/requests/{rq_id}").status_code == 404
    drain()
    assert other.get(f"/api/requests/{rq_id}").status_code == 404
    assert _request(api, rq_id)["status"] == "finished"
