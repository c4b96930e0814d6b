"""Backup import through the API (contract 7.4): the upload forms, full and lightweight restores,
auto-relink on each provider, projects, and the request a client polls."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvat_lite.backup.format import OriginSpec
from cvat_lite.backup.restore import TASK_LINKED, TASK_RESTORED, TASK_UNLINKED
from cvat_lite.engine.models import Project, Task
from cvat_lite.errors import CloudStorageUnlinked
from cvat_lite.media.images import pixel_md5
from cvat_lite.media.manifest import ManifestEntry
from tests.api.media_helpers import storage_row
from tests.backup.archives import manifest, png, task_backup, task_spec
from tests.backup.restore_helpers import project_backup, snapshot
from tests.uploads.tus import b64, imports_area, tus_patch

from .backup_import_helpers import finished, post_archive, run_import

pytestmark = pytest.mark.django_db(transaction=True)


def _frame(api, task_id: int, number: int):
    return api.get(f"/api/tasks/{task_id}/data?type=frame&number={number}&quality=original")


# --- full backups ------------------------------------------------------------------------------


@pytest.mark.parametrize("slash", [True, False])
def test_a_full_backup_restores_through_multipart(api, user, drain, tmp_path, slash):
    backup = task_backup(3)
    path = backup.write(tmp_path / "b.zip")
    response = post_archive(api, path, slash=slash)
    assert response.status_code == 202, response.content
    drain("import")
    request = api.get(f"/api/requests/{response.json()['rq_id']}").json()

    task_id = finished(request)
    assert request["message"] == TASK_RESTORED
    assert request["progress"] == 1.0
    assert request["operation"]["type"] == "import:backup"
    assert request["operation"]["target"] == "task"
    assert request["owner"]["id"] == user.id
    assert imports_area() == []  # the uploaded file is gone

    task = api.get(f"/api/tasks/{task_id}").json()
    assert (task["name"], task["owner"]["id"]) == ("cats and dogs", user.id)
    meta = api.get(f"/api/tasks/{task_id}/data/meta").json()
    assert (meta["storage"], meta["cloud_storage_id"], meta["size"]) == ("local", None, 3)
    assert [frame["name"] for frame in meta["frames"]] == ["img0.png", "img1.png", "img2.png"]
    for number in range(3):
        response = _frame(api, task_id, number)
        assert response.status_code == 200
        assert response.content == backup.members[f"data/img{number}.png"]
    jobs = api.get(f"/api/jobs?task_id={task_id}").json()
    assert jobs["count"] == 2
    annotations = api.get(f"/api/tasks/{task_id}/annotations/").json()
    assert (len(annotations["tags"]), len(annotations["shapes"]), len(annotations["tracks"])) == (
        2, 2, 2
    )  # fmt: skip


def test_the_import_belongs_to_the_caller(api, other_api, user, drain, tmp_path):
    request = run_import(api, task_backup(1).write(tmp_path / "b.zip"), drain)
    task_id = finished(request)
    assert Task.objects.get(pk=task_id).owner == user
    assert other_api.get(f"/api/requests/{request['id']}").status_code == 404
    assert other_api.get(f"/api/tasks/{task_id}").status_code == 404


def test_anonymous_imports_are_refused(anon_api, tmp_path):
    assert post_archive(anon_api, task_backup(1).write(tmp_path / "b.zip")).status_code == 401


def test_the_tus_flow(api, user, drain, tmp_path):
    content = task_backup(2).write(tmp_path / "b.zip").read_bytes()
    url = "/api/tasks/backup/"
    assert api.post(f"{url}?filename=b.zip", HTTP_UPLOAD_START="").status_code == 202
    created = api.post(
        url,
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH=str(len(content)),
        HTTP_UPLOAD_METADATA=f"filename {b64('b.zip')}",
    )
    assert created.status_code == 201
    location = created["Location"]
    middle = len(content) // 2
    assert tus_patch(api, location, 0, content[:middle]).status_code == 204
    assert tus_patch(api, location, middle, content[middle:]).status_code == 204
    response = api.post(f"{url}?filename={created['Upload-Filename']}", HTTP_UPLOAD_FINISH="")
    assert response.status_code == 202
    drain("import")
    request = api.get(f"/api/requests/{response.json()['rq_id']}").json()
    assert Task.objects.get(pk=finished(request)).data.size == 2
    assert imports_area() == []


# --- a ZIP in a cloud storage ------------------------------------------------------------------


def _cloud_import(api, storage_id: int, key: str, drain) -> dict:
    response = api.post(
        f"/api/tasks/backup/?location=cloud_storage&cloud_storage_id={storage_id}&filename={key}"
    )
    assert response.status_code == 202, response.content
    drain("import")
    return api.get(f"/api/requests/{response.json()['rq_id']}").json()


def test_an_archive_read_from_a_cloud_storage(api, user, drain, tmp_path, s3_emulator, s3_bucket):
    content = task_backup(2).write(tmp_path / "b.zip").read_bytes()
    s3_emulator.put(s3_bucket, "backups/b.zip", content)
    storage = storage_row(user, s3_bucket)
    request = _cloud_import(api, storage.id, "backups/b.zip", drain)
    assert Task.objects.get(pk=finished(request)).data.size == 2
    assert imports_area() == []


def test_a_cloud_archive_over_the_upload_limit(
    api, user, drain, tmp_path, settings, s3_emulator, s3_bucket
):
    content = task_backup(2).write(tmp_path / "b.zip").read_bytes()
    s3_emulator.put(s3_bucket, "b.zip", content)
    storage = storage_row(user, s3_bucket)
    settings.MAX_UPLOAD_SIZE = len(content) - 1
    before = snapshot()
    request = _cloud_import(api, storage.id, "b.zip", drain)
    assert request["status"] == "failed"
    assert request["message"] == f"The file is larger than the limit of {len(content) - 1} bytes."
    after = snapshot()
    assert (after.rows, after.files) == (before.rows, before.files)


def test_a_missing_cloud_archive(api, user, drain, s3_bucket):
    storage = storage_row(user, s3_bucket)
    before = snapshot()
    request = _cloud_import(api, storage.id, "nope.zip", drain)
    assert request["status"] == "failed"
    assert request["message"] == "The object 'nope.zip' was not found in the cloud storage."
    assert snapshot().files == before.files


def test_another_users_cloud_storage_is_not_found(api, other_user, s3_bucket):
    storage = storage_row(other_user, s3_bucket)
    response = api.post(
        f"/api/tasks/backup/?location=cloud_storage&cloud_storage_id={storage.id}&filename=b.zip"
    )
    assert response.status_code == 404


# --- lightweight backups -----------------------------------------------------------------------


def _lightweight(bucket_config, images: int = 3) -> tuple[Path, dict[str, bytes]]:
    """A lightweight backup whose origin is ``bucket_config``'s bucket, folder ``set1``, with
    CVAT's checksums (MD5 of the decoded pixels) in the manifest; and the objects it names."""
    objects = {f"set1/img{i}.png": png(color=(i * 60, 10, 10)) for i in range(images)}
    spec = task_spec(images, lightweight=True)
    spec.origin = OriginSpec(str(bucket_config.provider_type), bucket_config.resource, "set1")
    backup = task_backup(images, lightweight=True, spec=spec)
    entries = [
        ManifestEntry(f"img{i}", ".png", 4, 3, checksum=pixel_md5(content))
        for i, content in enumerate(objects.values())
    ]
    backup.members["data/manifest.jsonl"] = manifest(entries)
    return backup, objects


def test_a_lightweight_backup_without_a_matching_storage_stays_unlinked(
    api, user, drain, tmp_path, s3_bucket
):
    backup, _ = _lightweight(s3_bucket)
    request = run_import(api, backup.write(tmp_path / "b.zip"), drain)
    task_id = finished(request)
    assert request["message"] == TASK_UNLINKED.format(id=task_id)

    meta = api.get(f"/api/tasks/{task_id}/data/meta")
    assert meta.status_code == 200
    body = meta.json()
    assert (body["storage"], body["cloud_storage_id"], body["size"]) == ("cloud_storage", None, 3)
    assert [frame["name"] for frame in body["frames"]] == [f"set1/img{i}.png" for i in range(3)]
    assert api.get(f"/api/tasks/{task_id}").status_code == 200
    assert api.get(f"/api/jobs?task_id={task_id}").json()["count"] == 2
    assert api.get(f"/api/tasks/{task_id}/annotations/").status_code == 200
    response = _frame(api, task_id, 0)
    assert response.status_code == 409
    assert response.json()["code"] == "cloud_storage_unlinked"
    assert response.json()["message"] == CloudStorageUnlinked.MESSAGE.format(id=task_id)


def test_a_lightweight_backup_is_linked_to_the_owners_matching_storage(
    api, user, drain, tmp_path, cloud_bucket
):
    backup, objects = _lightweight(cloud_bucket.config)
    for key, content in objects.items():
        cloud_bucket.put(key, content)
    storage = storage_row(user, cloud_bucket.config)

    request = run_import(api, backup.write(tmp_path / "b.zip"), drain)
    task_id = finished(request)
    assert request["message"] == TASK_LINKED.format(name=storage.display_name, id=storage.id)
    assert request["message"] == "Restored and connected to the cloud storage “bucket”."
    meta = api.get(f"/api/tasks/{task_id}/data/meta").json()
    assert (meta["storage"], meta["cloud_storage_id"]) == ("cloud_storage", storage.id)
    for number, content in enumerate(objects.values()):
        response = _frame(api, task_id, number)
        assert response.status_code == 200
        assert response.content == content


def test_a_matching_storage_without_the_objects_is_not_linked(
    api, user, drain, tmp_path, s3_bucket, s3_emulator
):
    backup, objects = _lightweight(s3_bucket)
    s3_emulator.put(s3_bucket, "set1/img0.png", objects["set1/img0.png"])  # the others missing
    storage_row(user, s3_bucket)
    request = run_import(api, backup.write(tmp_path / "b.zip"), drain)
    task_id = finished(request)
    assert request["message"] == TASK_UNLINKED.format(id=task_id)
    assert Task.objects.get(pk=task_id).data.cloud_storage_id is None


def test_another_users_matching_storage_is_not_used(
    api, user, other_user, drain, tmp_path, s3_bucket, s3_emulator
):
    backup, objects = _lightweight(s3_bucket)
    for key, content in objects.items():
        s3_emulator.put(s3_bucket, key, content)
    storage_row(other_user, s3_bucket)
    request = run_import(api, backup.write(tmp_path / "b.zip"), drain)
    assert request["message"] == TASK_UNLINKED.format(id=finished(request))


# --- projects ----------------------------------------------------------------------------------


def test_a_mixed_project_restores_through_the_api(api, user, drain, tmp_path):
    backup = project_backup((3, False), (2, True))
    request = run_import(api, backup.write(tmp_path / "p.zip"), drain, target="project")
    project_id = finished(request)
    assert request["operation"]["target"] == "project"
    assert request["message"] == (
        "Restored the project with 2 tasks. 1 lightweight task not connected to a cloud storage "
        "yet: connect the project to the storage that holds their images."
    )
    project = api.get(f"/api/projects/{project_id}").json()
    assert project["name"] == "zoo"
    assert api.get(f"/api/tasks?project_id={project_id}").json()["count"] == 2
    restored = Task.objects.filter(project_id=project_id).order_by("id")
    assert [t.data.storage for t in restored] == ["local", "cloud_storage"]
    assert Project.objects.get(pk=project_id).owner == user
    assert imports_area() == []


def test_a_task_archive_sent_to_the_project_endpoint(api, user, drain, tmp_path):
    request = run_import(api, task_backup(1).write(tmp_path / "b.zip"), drain, target="project")
    assert request["status"] == "failed"
    assert request["message"] == "The archive has no project.json: it is not a project backup."
