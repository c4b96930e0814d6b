"""Round trips through the API (contract 7): export a task or project, import the archive, and get
the same task back: fields, labels, data, manifest, jobs, annotations, and byte-identical
frames (full backups: from the archive; lightweight ones: from the bucket, once linked)."""

from __future__ import annotations

import hashlib

import pytest

from cvat_lite.backup.restore import TASK_LINKED, TASK_RESTORED, TASK_UNLINKED
from cvat_lite.engine.models import Task
from tests.api.media_helpers import storage_row
from tests.backup.export_helpers import LABELS, make_cloud_task, make_local_task
from tests.backup.restore_helpers import cvat_backup_path, task_state

from .backup_import_helpers import finished, run_import

pytestmark = pytest.mark.django_db(transaction=True)


def _cloud_task(api, user, bucket, drain, **fields):
    """The export tests' cloud task, with the objects' real MD5s in its manifest (theirs has
    a made-up one, which a verified relink rightly refuses)."""
    cloud = make_cloud_task(api, user, bucket, drain, **fields)
    for image in cloud.task.data.images.all():
        image.checksum = hashlib.md5(cloud.objects[image.path]).hexdigest()
        image.save(update_fields=["checksum"])
    return cloud


def _export(api, url: str, drain, query: str = "") -> bytes:
    response = api.post(f"{url}/backup/export{'?' + query if query else ''}")
    assert response.status_code == 202, response.content
    drain("export")
    request = api.get(f"/api/requests/{response.json()['rq_id']}").json()
    assert request["status"] == "finished", request["message"]
    return b"".join(api.get(request["result_url"]).streaming_content)


def _import(api, content: bytes, drain, tmp_path, *, target: str = "task") -> dict:
    path = tmp_path / f"{target}.zip"
    path.write_bytes(content)
    return run_import(api, path, drain, target=target)


def _frames(api, task_id: int, size: int) -> list[bytes]:
    result = []
    for number in range(size):
        response = api.get(f"/api/tasks/{task_id}/data?type=frame&number={number}&quality=original")
        assert response.status_code == 200, response.content
        result.append(response.content)
    return result


def _meta(api, task_id: int, *, key_prefix: str = "") -> dict:
    meta = api.get(f"/api/tasks/{task_id}/data/meta").json()
    meta.pop("chunks_updated_date")
    for frame in meta["frames"]:
        frame["name"] = frame["name"].removeprefix(key_prefix)
    return meta


def test_full_round_trip_of_a_cloud_task(api, user, cloud_bucket, drain, tmp_path):
    cloud = make_cloud_task(api, user, cloud_bucket, drain)
    original = cloud.task
    request = _import(api, _export(api, f"/api/tasks/{original.id}", drain), drain, tmp_path)
    assert request["message"] == TASK_RESTORED
    restored = Task.objects.get(pk=finished(request))

    assert task_state(restored) == task_state(original, key_prefix="ds/")
    before, after = _meta(api, original.id, key_prefix="ds/"), _meta(api, restored.id)
    assert (after.pop("storage"), after.pop("cloud_storage_id")) == ("local", None)
    assert (before.pop("storage"), before.pop("cloud_storage_id")) == (
        "cloud_storage", cloud.storage.id
    )  # fmt: skip
    assert after == before
    size = original.data.size
    assert _frames(api, restored.id, size) == _frames(api, original.id, size)


def test_lightweight_round_trip_relinks_to_the_same_storage(
    api, user, cloud_bucket, drain, tmp_path
):
    cloud = _cloud_task(api, user, cloud_bucket, drain)
    original = cloud.task
    content = _export(api, f"/api/tasks/{original.id}", drain, "lightweight=true")
    request = _import(api, content, drain, tmp_path)
    restored = Task.objects.get(pk=finished(request))
    storage = cloud.storage
    assert request["message"] == TASK_LINKED.format(name=storage.display_name, id=storage.id)

    assert task_state(restored) == task_state(original)
    assert _meta(api, restored.id) == _meta(api, original.id)
    size = original.data.size
    assert _frames(api, restored.id, size) == _frames(api, original.id, size)


def test_lightweight_round_trip_to_another_user_then_relinked(
    api, other_api, user, other_user, s3_emulator, drain, tmp_path
):
    from tests.fixtures.emulators import EmulatedBucket

    bucket = EmulatedBucket(s3_emulator, s3_emulator.create_bucket())
    cloud = _cloud_task(api, user, bucket, drain)
    original = cloud.task
    content = _export(api, f"/api/tasks/{original.id}", drain, "lightweight=True")
    request = _import(other_api, content, drain, tmp_path)
    restored = Task.objects.get(pk=finished(request))
    assert request["message"] == TASK_UNLINKED.format(id=restored.id)
    assert other_api.get(f"/api/tasks/{restored.id}/data?type=frame&number=0").status_code == 409

    own = storage_row(other_user, bucket.config)
    response = other_api.patch(
        f"/api/tasks/{restored.id}/data/meta", {"cloud_storage_id": own.id}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["cloud_storage_id"] == own.id
    assert task_state(restored) == task_state(original)
    size = original.data.size
    assert _frames(other_api, restored.id, size) == _frames(api, original.id, size)


def test_full_round_trip_of_a_local_task(api, user, drain, tmp_path):
    original, files = make_local_task(api, drain)
    request = _import(api, _export(api, f"/api/tasks/{original.id}", drain), drain, tmp_path)
    restored = Task.objects.get(pk=finished(request))
    assert task_state(restored) == task_state(original)
    assert _meta(api, restored.id) == _meta(api, original.id)
    assert _frames(api, restored.id, 2) == list(files.values())


def test_project_round_trip_lightweight_whenever_possible(api, user, s3_emulator, drain, tmp_path):
    from tests.fixtures.emulators import EmulatedBucket

    response = api.post("/api/projects", {"name": "zoo", "labels": LABELS}, format="json")
    assert response.status_code == 201, response.content
    project_id = response.json()["id"]
    bucket = EmulatedBucket(s3_emulator, s3_emulator.create_bucket())
    cloud = _cloud_task(api, user, bucket, drain, project_id=project_id)
    local, _ = make_local_task(api, drain, project_id=project_id)

    content = _export(api, f"/api/projects/{project_id}", drain, "lightweight=true")
    request = _import(api, content, drain, tmp_path, target="project")
    new_id = finished(request)
    assert request["message"] == (
        "Restored the project with 2 tasks. 1 lightweight task connected to a cloud storage."
    )
    restored = list(Task.objects.filter(project_id=new_id).order_by("id"))
    originals = sorted([cloud.task, local], key=lambda task: task.id)
    assert [t.data.storage for t in restored] == [t.data.storage for t in originals]
    for new, old in zip(restored, originals, strict=True):
        assert task_state(new) == task_state(old)
        assert _frames(api, new.id, old.data.size) == _frames(api, old.id, old.data.size)
    assert restored[0].data.cloud_storage_id == cloud.storage.id


def test_a_cvat_backup_round_trips(api, user, drain, tmp_path):
    request = _import(api, cvat_backup_path().read_bytes(), drain, tmp_path)
    first = Task.objects.get(pk=finished(request))
    content = _export(api, f"/api/tasks/{first.id}", drain)
    second = Task.objects.get(pk=finished(_import(api, content, drain, tmp_path)))
    assert task_state(second) == task_state(first)
    assert _frames(api, second.id, 10) == _frames(api, first.id, 10)
