"""Relinking cloud tasks over the API (contract 7.5): ``PATCH /api/tasks/{id}/data/meta`` with
``cloud_storage_id`` and ``PATCH /api/projects/{id}/cloud_storage``. Real emulators."""

from __future__ import annotations

import io
import zipfile

import pytest

from cvat_lite.engine.models import Data, Project, StorageChoice, Task
from tests.api.media_helpers import create_data, make_image, make_task, manifest_bytes, storage_row
from tests.backup.relink_helpers import (
    bucket_storage,
    cloud_task,
    link_of,
    objects_for,
    put_all,
)
from tests.fixtures.emulators import EmulatedBucket

RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 20)


@pytest.fixture
def s3(s3_emulator, s3_bucket) -> EmulatedBucket:
    return EmulatedBucket(s3_emulator, s3_bucket)


@pytest.fixture
def s3_other(s3_emulator) -> EmulatedBucket:
    return EmulatedBucket(s3_emulator, s3_emulator.create_bucket())


def _meta(task: Task) -> str:
    return f"/api/tasks/{task.id}/data/meta"


def _relink(api, task: Task, storage_id, **body):
    return api.patch(_meta(task), {"cloud_storage_id": storage_id, **body}, format="json")


def _frame(api, task: Task, number: int):
    return api.get(f"/api/tasks/{task.id}/data?type=frame&number={number}&quality=original")


def _chunk(api, task: Task, number: int) -> dict[str, bytes]:
    response = api.get(f"/api/tasks/{task.id}/data?type=chunk&number={number}&quality=original")
    assert response.status_code == 200, response.content
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# --- the whole flow ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_unlink_then_relink_serves_the_new_bucket(api, user, s3, s3_other, drain):
    objects = {
        "ds/a.jpg": make_image(16, 8, "JPEG", RED),
        "ds/b.png": make_image(6, 4, "PNG", BLUE),
        "ds/c.jpg": make_image(5, 5, "JPEG", GREEN),
    }
    put_all(s3, objects)
    entries = [
        {"name": "a", "extension": ".jpg", "width": 16, "height": 8},
        {"name": "b", "extension": ".png", "width": 6, "height": 4},
        {"name": "c", "extension": ".jpg", "width": 5, "height": 5},
    ]
    s3.put("ds/manifest.jsonl", manifest_bytes(entries))  # no checksums
    first = storage_row(user, s3.config)
    task = make_task(user, segment_size=2)
    body = {"server_files": ["ds/manifest.jsonl"], "cloud_storage_id": first.id, "chunk_size": 2}
    assert create_data(api, task, body, drain)["status"] == "finished"
    assert _chunk(api, task, 0) == {
        "000000.jpg": objects["ds/a.jpg"],
        "000001.png": objects["ds/b.png"],
    }

    unlinked = _relink(api, task, None)
    assert unlinked.status_code == 200
    assert unlinked.json()["cloud_storage_id"] is None
    assert _frame(api, task, 0).status_code == 409
    assert _frame(api, task, 0).json()["code"] == "cloud_storage_unlinked"

    moved = {**objects, "ds/a.jpg": make_image(16, 8, "JPEG", GREEN)}  # other bytes, same key
    second = bucket_storage(user, s3_other, moved)
    before = link_of(task)
    response = _relink(api, task, second.id)

    assert response.status_code == 200, response.content
    meta = response.json()
    assert (meta["storage"], meta["cloud_storage_id"]) == ("cloud_storage", second.id)
    assert [f["name"] for f in meta["frames"]] == list(objects)
    storage_id, chunks_updated, updated = link_of(task)
    assert storage_id == second.id
    assert chunks_updated > before[1] and updated > before[2]
    for number, key in enumerate(moved):
        assert _frame(api, task, number).content == moved[key]  # byte-identical
    assert _chunk(api, task, 0)["000000.jpg"] == moved["ds/a.jpg"]  # not the cached chunk
    assert api.get(_meta(task)).json()["cloud_storage_id"] == second.id


@pytest.mark.django_db(transaction=True)
def test_relink_drops_cached_chunks_of_the_same_storage(api, user, s3, drain):
    objects = {"ds/a.jpg": make_image(4, 4, "JPEG", RED)}
    storage = bucket_storage(user, s3, objects)
    task = cloud_task(user, objects, storage=storage, checksums=False)
    cached = _chunk(api, task, 0)
    s3.put("ds/a.jpg", make_image(4, 4, "JPEG", BLUE))
    assert _chunk(api, task, 0) == cached  # served from the cache

    assert _relink(api, task, storage.id).status_code == 200
    assert _chunk(api, task, 0) == {"000000.jpg": make_image(4, 4, "JPEG", BLUE)}


# --- refusals: nothing changes ------------------------------------------------------------------


@pytest.fixture
def linked(user, s3):
    """A task linked to a storage holding its media (with checksums)."""
    objects = objects_for(3)
    storage = bucket_storage(user, s3, objects)
    return cloud_task(user, objects, storage=storage), objects


def _refused(api, task: Task, storage_id, status: int, code: str, **body) -> dict:
    before = link_of(task)
    deleted = Data.objects.get(pk=task.data_id).deleted_frames
    response = _relink(api, task, storage_id, **body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert link_of(task) == before
    assert Data.objects.get(pk=task.data_id).deleted_frames == deleted
    return response.json()


@pytest.mark.django_db
def test_unknown_storage_is_refused_naming_the_id(api, linked):
    task, _ = linked
    body = _refused(api, task, 999999, 400, "cloud_storage_not_found")
    assert body["message"] == "Cloud storage #999999 does not exist or is not visible to you."
    assert body["extra"] == {"cloud_storage_id": 999999}


@pytest.mark.django_db
def test_another_users_storage_is_refused_like_an_unknown_one(api, other_user, linked, s3_other):
    task, objects = linked
    theirs = bucket_storage(other_user, s3_other, objects)
    body = _refused(api, task, theirs.id, 400, "cloud_storage_not_found")
    assert body["message"] == f"Cloud storage #{theirs.id} does not exist or is not visible to you."


@pytest.mark.django_db
def test_a_superuser_may_use_any_storage(admin_api, user, linked, s3_other):
    task, objects = linked
    storage = bucket_storage(user, s3_other, objects)
    assert _relink(admin_api, task, storage.id).status_code == 200
    assert link_of(task)[0] == storage.id


@pytest.mark.django_db
def test_another_users_task_is_404(other_api, linked):
    task, _ = linked
    before = link_of(task)
    assert _relink(other_api, task, None).status_code == 404
    assert link_of(task) == before


@pytest.mark.django_db
def test_a_storage_whose_bucket_is_gone_is_not_available(api, user, linked, s3_emulator):
    task, _ = linked
    config = s3_emulator.create_bucket()
    storage = storage_row(user, config)
    s3_emulator.client().delete_bucket(Bucket=config.resource)

    body = _refused(api, task, storage.id, 400, "cloud_storage_not_available")
    assert body["message"] == f"Cloud storage #{storage.id} is not available (NOT_FOUND)."
    assert body["extra"] == {"status": "NOT_FOUND"}


@pytest.mark.django_db
def test_a_forbidden_storage_is_not_available(api, user, linked, s3, s3_emulator):
    task, _ = linked
    storage = storage_row(user, s3_emulator.forbidden_config(s3.config.resource))

    body = _refused(api, task, storage.id, 400, "cloud_storage_not_available")
    assert body["message"] == f"Cloud storage #{storage.id} is not available (FORBIDDEN)."
    assert body["extra"] == {"status": "FORBIDDEN"}


@pytest.mark.django_db
def test_an_endpoint_outside_the_allowlist_is_refused(api, user, linked, s3_emulator):
    task, _ = linked
    config = s3_emulator.config_at("http://10.255.255.1:9000", "bucket")
    storage = storage_row(user, config)
    _refused(api, task, storage.id, 400, "endpoint_not_allowed")


@pytest.mark.django_db
def test_missing_objects_are_listed(api, user, linked, s3_other):
    task, objects = linked
    keys = list(objects)
    storage = bucket_storage(user, s3_other, {keys[1]: objects[keys[1]]})

    body = _refused(api, task, storage.id, 400, "relink_verification_failed")
    assert body["message"] == (
        f"Cloud storage #{storage.id} does not hold the task's media: 2 missing, "
        "0 with other content (of 3 objects). Checked: one listing under 'ds/' (1 objects "
        "listed), 1 of 3 present; 1 compared by size/fingerprint (1 matched); 0 of 0 known "
        "only by CVAT's pixel checksum downloaded and compared (0 matched); 0 present but not "
        "compared."
    )
    verification = body["extra"].pop("verification")
    assert body["extra"] == {
        "missing": [keys[0], keys[2]],
        "missing_count": 2,
        "mismatched": [],
        "mismatched_count": 0,
    }
    assert verification["ok"] is False
    assert verification["method"] == ["listing", "fingerprint"]
    assert (verification["expected"], verification["present"]) == (3, 1)
    assert verification["missing"] == [keys[0], keys[2]]


@pytest.mark.django_db
def test_objects_with_other_bytes_are_mismatched(api, user, linked, s3_other):
    task, objects = linked
    keys = list(objects)
    storage = bucket_storage(user, s3_other, {**objects, keys[2]: b"not the same bytes"})

    body = _refused(api, task, storage.id, 400, "relink_verification_failed")
    verification = body["extra"].pop("verification")
    assert body["extra"] == {
        "missing": [],
        "missing_count": 0,
        "mismatched": [keys[2]],
        "mismatched_count": 1,
    }
    assert (verification["fingerprints_compared"], verification["fingerprints_matched"]) == (3, 2)
    assert verification["mismatched"] == [keys[2]]


@pytest.mark.django_db
def test_a_local_task_cannot_be_relinked(api, user, s3):
    task = cloud_task(user, objects_for(1))
    Data.objects.filter(pk=task.data_id).update(storage=StorageChoice.LOCAL)
    storage = bucket_storage(user, s3, objects_for(1))
    body = _refused(api, task, storage.id, 400, "not_a_cloud_task")
    assert body["message"] == (
        "The task's media are not in a cloud storage; there is no storage link to change."
    )


@pytest.mark.django_db
def test_deleted_frames_are_not_saved_when_the_relink_is_refused(api, linked):
    task, _ = linked
    _refused(api, task, 999999, 400, "cloud_storage_not_found", deleted_frames=[1])


@pytest.mark.django_db
def test_deleted_frames_and_relink_in_one_patch(api, user, linked, s3_other):
    task, objects = linked
    storage = bucket_storage(user, s3_other, objects)

    response = _relink(api, task, storage.id, deleted_frames=[2, 0])

    assert response.status_code == 200
    assert (response.json()["deleted_frames"], response.json()["cloud_storage_id"]) == (
        [0, 2],
        storage.id,
    )
    data = Data.objects.get(pk=task.data_id)
    assert (data.deleted_frames, data.cloud_storage_id) == ([0, 2], storage.id)


# --- across providers --------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_s3_task_moves_to_azure_then_gcs(api, user, s3, azurite, gcs_emulator):
    objects = {
        "set/a.jpg": make_image(8, 8, "JPEG", RED),
        "set/b.png": make_image(4, 2, "PNG", BLUE),
    }
    task = cloud_task(user, objects, storage=bucket_storage(user, s3, objects))
    assert _frame(api, task, 1).content == objects["set/b.png"]

    for emulator in (azurite, gcs_emulator):
        bucket = EmulatedBucket(emulator, emulator.create_bucket())
        missing = bucket_storage(user, bucket, {"set/a.jpg": objects["set/a.jpg"]})
        assert _relink(api, task, missing.id).json()["extra"]["missing"] == ["set/b.png"]
        bucket.put("set/b.png", b"other bytes")  # every emulator lists MD5s
        assert _relink(api, task, missing.id).json()["extra"]["mismatched"] == ["set/b.png"]

        bucket.put("set/b.png", objects["set/b.png"])
        response = _relink(api, task, missing.id)
        assert response.status_code == 200, response.content
        assert response.json()["cloud_storage_id"] == missing.id
        for number, key in enumerate(objects):
            assert _frame(api, task, number).content == objects[key]
        data = Data.objects.get(pk=task.data_id)
        assert data.cloud_origin == {
            "provider_type": str(emulator.provider_type),
            "resource": bucket.config.resource,
        }


# --- projects ----------------------------------------------------------------------------------


@pytest.fixture
def project(user):
    return Project.objects.create(owner=user, name="p")


def _project_relink(api, project: Project, storage_id):
    return api.patch(
        f"/api/projects/{project.id}/cloud_storage", {"cloud_storage_id": storage_id}, format="json"
    )


@pytest.mark.django_db
def test_project_relink_links_the_tasks_that_verify(api, user, project, s3, s3_other):
    good, bad = objects_for(2, "a/"), objects_for(2, "b/")
    present = next(iter(bad))
    storage = bucket_storage(user, s3, {**good, present: bad[present]})
    a = cloud_task(user, good, project=project, name="a")
    b = cloud_task(user, bad, project=project, name="b")
    local = cloud_task(user, good, project=project, name="local")
    Data.objects.filter(pk=local.data_id).update(storage=StorageChoice.LOCAL)
    elsewhere = bucket_storage(user, s3_other, good)
    linked = cloud_task(user, good, project=project, name="linked", storage=elsewhere)
    outside = cloud_task(user, good, name="not in the project")

    response = _project_relink(api, project, storage.id)

    assert response.status_code == 200, response.content
    body = response.json()
    verifications = body.pop("verifications")
    extra = body["failed"][0].pop("extra")  # the task relink's error details, for the page
    missing = sorted(set(bad) - {present})
    assert (extra["missing"], extra["missing_count"]) == (missing, 1)
    assert body == {
        "relinked": [a.id],
        "failed": [
            {
                "task_id": b.id,
                "code": "relink_verification_failed",
                "message": (
                    f"Cloud storage #{storage.id} does not hold the task's media: 1 missing, "
                    "0 with other content (of 2 objects). Checked: one listing under 'b/' "
                    "(1 objects listed), 1 of 2 present; 1 compared by size/fingerprint "
                    "(1 matched); 0 of 0 known only by CVAT's pixel checksum downloaded and "
                    "compared (0 matched); 0 present but not compared."
                ),
            }
        ],
        "dry_run": False,
    }
    assert [(v["task_id"], v["verification"]["ok"]) for v in verifications] == [
        (a.id, True),
        (b.id, False),
    ]
    assert link_of(a)[0] == storage.id
    assert link_of(b)[0] is None
    assert link_of(linked)[0] == elsewhere.id
    assert link_of(outside)[0] is None
    assert Data.objects.get(pk=local.data_id).cloud_storage_id is None


@pytest.mark.django_db
def test_project_relink_to_an_unavailable_storage_changes_nothing(api, user, project, s3_emulator):
    task = cloud_task(user, objects_for(1), project=project)
    config = s3_emulator.create_bucket()
    storage = storage_row(user, config)
    s3_emulator.client().delete_bucket(Bucket=config.resource)
    before = link_of(task)

    response = _project_relink(api, project, storage.id)

    assert response.status_code == 400
    assert response.json()["code"] == "cloud_storage_not_available"
    assert response.json()["extra"] == {"status": "NOT_FOUND"}
    assert link_of(task) == before


@pytest.mark.django_db
def test_project_relink_refusals(api, other_api, user, other_user, project, s3):
    task = cloud_task(user, objects_for(1), project=project)
    theirs = bucket_storage(other_user, s3, objects_for(1))
    mine = storage_row(user, s3.config)
    before = link_of(task)

    assert _project_relink(other_api, project, theirs.id).status_code == 404
    unknown = _project_relink(api, project, theirs.id)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "cloud_storage_not_found")
    missing = api.patch(f"/api/projects/{project.id}/cloud_storage/", {}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (400, "invalid")
    assert link_of(task) == before

    body = _project_relink(api, project, mine.id).json()
    assert (body["relinked"], body["failed"], body["dry_run"]) == ([task.id], [], False)
