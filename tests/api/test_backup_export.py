"""Backup export through the API (contract 6, 7.1-7.3): the archive of a cloud task on each
provider (full and lightweight), refusals, parameters, requests, downloads, expiry, uploads to a
cloud storage, projects, and the legacy endpoint."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from cvat_lite.backup.archive import ArchiveReader
from cvat_lite.backup.export_results import exports_dir
from cvat_lite.backup.format import check_task_layout
from cvat_lite.backup.housekeeping import housekeeping_run
from cvat_lite.engine.models import Project, Task
from cvat_lite.errors import CloudStorageUnlinked
from cvat_lite.requests.models import Request
from tests.api.test_media import _delete_bucket as delete_bucket
from tests.backup.export_helpers import (
    MANIFEST_ENTRIES,
    compress_types,
    make_cloud_task,
    make_labelled_task,
    make_local_task,
    make_unlinked_task,
    manifest_lines,
    read_zip,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _export(api, task_or_url, drain, query: str = "") -> dict:
    """POST the export, run the worker, return the request."""
    url = task_or_url if isinstance(task_or_url, str) else f"/api/tasks/{task_or_url.id}"
    response = api.post(f"{url}/backup/export{'?' + query if query else ''}")
    assert response.status_code == 202, response.content
    assert set(response.json()) == {"rq_id"}
    drain("export")
    return api.get(f"/api/requests/{response.json()['rq_id']}").json()


def _download(api, request: dict) -> bytes:
    assert request["status"] == "finished", request["message"]
    response = api.get(request["result_url"])
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def _layout(tmp_path, content: bytes, prefix: str = "", **expected):
    """The archive's task layout at ``prefix``, checksums verified."""
    archive = tmp_path / "archive.zip"
    archive.write_bytes(content)
    with ArchiveReader(archive) as reader:
        reader.verify_checksums()
        return check_task_layout(reader, prefix, **expected)


def _export_files() -> list[str]:
    folder = exports_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- archive contents, on each provider --------------------------------------------------------


def test_full_backup_of_a_cloud_task(api, user, cloud_bucket, drain, tmp_path):
    cloud = make_cloud_task(api, user, cloud_bucket, drain)
    request = _export(api, cloud.task, drain)
    assert request["operation"]["lightweight"] is False
    assert request["operation"]["type"] == "export:backup"
    content = _download(api, request)
    members = read_zip(content)

    assert sorted(members) == [
        "annotations.json",
        "checksums.sha256",
        "data/a.jpg",
        "data/b.png",
        "data/c.jpg",
        "data/manifest.jsonl",
        "data/related_images/b_png/ctx.jpg",
        "task.json",
    ]
    for key, data in cloud.objects.items():
        assert members["data/" + key.removeprefix("ds/")] == data  # byte-identical
    task_json = json.loads(members["task.json"])
    assert task_json["version"] == "1.0"
    assert task_json["name"] == "cloud task"
    assert task_json["data"]["storage"] == "local"
    assert "cloud_storage" not in task_json
    assert task_json["data"]["chunk_type"] == "imageset"
    assert task_json["data"]["storage_method"] == "cache"
    assert (task_json["data"]["start_frame"], task_json["data"]["stop_frame"]) == (0, 2)
    assert [(j["start_frame"], j["stop_frame"], j["type"]) for j in task_json["jobs"]] == [
        (0, 1, "annotation"),
        (2, 2, "annotation"),
    ]
    assert [label["name"] for label in task_json["labels"]] == ["cat", "dog"]
    assert task_json["labels"][0]["attributes"][0]["name"] == "fluffy"

    annotations = json.loads(members["annotations.json"])
    assert len(annotations) == 2
    assert annotations[0]["tags"][0]["label"] == "cat"
    assert annotations[0]["tags"][0]["attributes"] == [{"value": "true", "name": "fluffy"}]
    assert annotations[0]["shapes"][0]["label"] == "dog"
    assert annotations[0]["shapes"][0]["points"] == [1.0, 2.0, 3.5, 4.0]
    track = annotations[1]["tracks"][0]
    assert track["label"] == "cat"
    assert track["shapes"][0]["attributes"] == [{"value": "false", "name": "fluffy"}]
    assert "label_id" not in str(annotations)

    assert manifest_lines(members["data/manifest.jsonl"]) == [
        {"version": "1.1"},
        {"type": "images"},
        *MANIFEST_ENTRIES,
    ]
    lines = members["checksums.sha256"].decode().splitlines()
    assert sorted(line.split("  ")[1] for line in lines) == sorted(
        set(members) - {"checksums.sha256"}
    )
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256(members[name]).hexdigest() == digest
    types = compress_types(content)
    assert types["data/a.jpg"] == types["data/b.png"] == zipfile.ZIP_STORED
    assert types["task.json"] == types["annotations.json"] == zipfile.ZIP_DEFLATED

    assert _layout(tmp_path, content, lightweight_expected=False).image_count == 3


def test_lightweight_backup_reads_no_media(api, user, cloud_bucket, drain, tmp_path):
    cloud = make_cloud_task(api, user, cloud_bucket, drain)
    delete_bucket(cloud_bucket)  # any cloud call would now fail

    request = _export(api, cloud.task, drain, "lightweight=true")
    assert request["operation"]["lightweight"] is True
    content = _download(api, request)
    members = read_zip(content)
    assert sorted(members) == [
        "annotations.json",
        "checksums.sha256",
        "data/manifest.jsonl",
        "task.json",
    ]
    task_json = json.loads(members["task.json"])
    assert task_json["data"]["storage"] == "cloud_storage"
    assert task_json["cloud_storage"] == {
        "provider_type": cloud.storage.provider_type,
        "resource": cloud.storage.resource,
        "prefix": "ds",
    }
    assert [line.get("name") for line in manifest_lines(members["data/manifest.jsonl"])[2:]] == [
        "a",
        "b",
        "c",
    ]
    assert _layout(tmp_path, content, lightweight_expected=True).image_count == 3


def test_full_backup_after_the_bucket_is_gone_fails_cleanly(api, user, cloud_bucket, drain):
    cloud = make_cloud_task(api, user, cloud_bucket, drain)
    delete_bucket(cloud_bucket)

    request = _export(api, cloud.task, drain)
    assert request["status"] == "failed"
    assert request["message"] == "The cloud storage resource was not found."
    assert request["result_url"] is None
    assert _export_files() == []


# --- refusals before queueing ------------------------------------------------------------------


def test_lightweight_of_a_local_task_is_refused(api, user, drain):
    task, _ = make_local_task(api, drain)
    response = api.post(f"/api/tasks/{task.id}/backup/export?lightweight=true")
    assert response.status_code == 400
    assert response.json() == {
        "code": "lightweight_not_possible",
        "message": (
            "A lightweight backup is only possible for a task whose media are in a cloud storage."
        ),
        "extra": {},
    }
    assert not Request.objects.filter(action="export").exists()


def test_full_backup_of_an_unlinked_task_is_409(api, user):
    task = make_unlinked_task(user)
    response = api.post(f"/api/tasks/{task.id}/backup/export/")
    assert response.status_code == 409
    assert response.json() == {
        "code": "cloud_storage_unlinked",
        "message": CloudStorageUnlinked.MESSAGE.format(id=task.id),
        "extra": {"task_id": task.id},
    }
    assert not Request.objects.filter(action="export").exists()


def test_task_without_data_and_other_users_tasks(api, other_api, user):
    task = make_labelled_task(api)
    response = api.post(f"/api/tasks/{task.id}/backup/export")
    assert response.status_code == 400
    assert response.json()["code"] == "task_has_no_data"
    unlinked = make_unlinked_task(user)
    for url in (f"/api/tasks/{unlinked.id}/backup/export", "/api/tasks/999999/backup/export"):
        assert other_api.post(url + "?lightweight=true").status_code == 404
    assert not Request.objects.filter(action="export").exists()


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("lightweight=kind-of", 400, "invalid_lightweight"),
        ("lightweight=", 400, "invalid_lightweight"),
        ("lightweight=true&location=ftp", 400, "invalid_location"),
        ("lightweight=true&location=cloud_storage", 400, "cloud_storage_id_required"),
        (
            "lightweight=true&location=cloud_storage&cloud_storage_id=x",
            400,
            "invalid_cloud_storage_id",
        ),
        (
            "lightweight=true&location=cloud_storage&cloud_storage_id=999",
            400,
            "cloud_storage_not_found",
        ),
        ("lightweight=true&filename=../x.zip", 400, "invalid_path"),
    ],
)
def test_bad_parameters(api, user, query, status, code):
    task = make_unlinked_task(user)
    response = api.post(f"/api/tasks/{task.id}/backup/export?{query}")
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not Request.objects.filter(action="export").exists()


def test_lightweight_parameter_parsing(api, user, drain):
    """Python's True/False (what the SDK sends), true/false/1/0 in any case. The task is an
    unlinked cloud task: a full backup of it is refused (409), a lightweight one is queued."""
    task = make_unlinked_task(user)
    url = f"/api/tasks/{task.id}/backup/export"
    for value in ("True", "true", "TRUE", "1", " tRuE "):
        response = api.post(f"{url}?lightweight={value}")
        assert response.status_code == 202, (value, response.content)
        drain("export")
        request = Request.objects.get(pk=response.json()["rq_id"])
        assert request.lightweight is True
        assert request.status == "finished", request.message
    for query in (
        "lightweight=False",
        "lightweight=false",
        "lightweight=0",
        "lightweight=FALSE",
        "",
    ):
        response = api.post(f"{url}?{query}")
        assert response.status_code == 409, (query, response.content)
        assert response.json()["code"] == "cloud_storage_unlinked"
    assert api.post(f"{url}?lightweight=yes").status_code == 400


def test_unlinked_task_lightweight_names_the_remembered_origin(
    api, user, s3_emulator, s3_bucket, drain
):
    from tests.fixtures.emulators import EmulatedBucket

    cloud = make_cloud_task(api, user, EmulatedBucket(s3_emulator, s3_bucket), drain)
    cloud.storage.delete()  # the task is unlinked (SET_NULL)
    cloud.task.refresh_from_db()
    assert cloud.task.data.cloud_storage_id is None

    request = _export(api, cloud.task, drain, "lightweight=1")
    task_json = json.loads(read_zip(_download(api, request))["task.json"])
    assert task_json["cloud_storage"] == {
        "provider_type": "AWS_S3_BUCKET",
        "resource": s3_bucket.resource,
        "prefix": "ds",
    }
    response = api.post(f"/api/tasks/{cloud.task.id}/backup/export?lightweight=0")
    assert response.status_code == 409


# --- requests ----------------------------------------------------------------------------------


def test_full_and_lightweight_are_two_requests_and_a_repeat_is_409(
    api, user, s3_emulator, s3_bucket, drain
):
    from tests.fixtures.emulators import EmulatedBucket

    cloud = make_cloud_task(api, user, EmulatedBucket(s3_emulator, s3_bucket), drain)
    url = f"/api/tasks/{cloud.task.id}/backup/export"
    full = api.post(url).json()["rq_id"]
    light = api.post(url + "?lightweight=True").json()["rq_id"]
    assert full == f"export-task-{cloud.task.id}-backup-full-u{user.id}-local"
    assert light == f"export-task-{cloud.task.id}-backup-lightweight-u{user.id}-local"

    again = api.post(url + "?lightweight=False")
    assert again.status_code == 409
    assert again.json()["code"] == "request_already_running"
    assert again.json()["extra"] == {"rq_id": full}

    drain("export")
    listed = api.get("/api/requests?action=export").json()["results"]
    assert {r["id"]: r["operation"]["lightweight"] for r in listed} == {full: False, light: True}
    assert all(r["status"] == "finished" for r in listed)
    for item in listed:
        assert item["result_url"].startswith("http://testserver/api/tasks/")
        assert item["operation"]["task_id"] == cloud.task.id
        assert 0 <= item["progress"] <= 1
    assert api.post(url).status_code == 202  # a finished export is replaced


def test_download_headers_and_access(api, other_api, user, drain):
    task = make_unlinked_task(user)
    task.name = "My task: ünïcode/../x"
    task.save()
    request = _export(api, task, drain, "lightweight=true")
    url = request["result_url"]
    assert url.startswith("http://testserver/api/tasks/") and f"rq_id={request['id']}" in url

    response = api.get(url)
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    filename = disposition.removeprefix('attachment; filename="').removesuffix('"')
    assert re.fullmatch(
        r"task_My_task_n_code_x_backup-lightweight_\d{4}(_\d\d){5}\.zip", filename
    ), disposition
    assert response["Content-Type"] == "application/zip"
    assert "Content-Encoding" not in response
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None

    assert other_api.get(url).status_code == 404
    wrong_object = url.replace(f"/tasks/{task.id}/", f"/tasks/{task.id + 1}/")
    assert api.get(wrong_object).status_code == 404
    assert (
        api.get(f"/api/projects/{task.id}/backup/download?rq_id={request['id']}").status_code == 404
    )
    missing = api.get(f"/api/tasks/{task.id}/backup/download")
    assert missing.status_code == 400 and missing.json()["code"] == "rq_id_required"

    named = _export(api, task, drain, "lightweight=true&filename=dir/My%20Backup!.zip")
    disposition = api.get(named["result_url"])["Content-Disposition"]
    assert disposition == 'attachment; filename="My Backup_.zip"'


def test_download_before_the_export_ran_is_409(api, user):
    task = make_unlinked_task(user)
    rq_id = api.post(f"/api/tasks/{task.id}/backup/export?lightweight=true").json()["rq_id"]
    response = api.get(f"/api/tasks/{task.id}/backup/download?rq_id={rq_id}")
    assert response.status_code == 409
    assert response.json()["code"] == "export_not_finished"


def test_expired_results_are_cleaned_up(api, user, drain):
    from django.core.management import call_command

    task = make_unlinked_task(user)
    first = _export(api, task, drain, "lightweight=true")
    path = Request.objects.get(pk=first["id"]).result_file
    assert _export_files() == [os.path.basename(path)]

    Request.objects.filter(pk=first["id"]).update(expiry_date=timezone.now() - timedelta(seconds=1))
    response = api.get(first["result_url"])
    assert response.status_code == 404
    assert response.json()["code"] == "export_expired"
    assert api.get(f"/api/requests/{first['id']}").json()["result_url"] is None
    # The GETs only report it gone: the file and the row stay for the housekeeping.
    assert _export_files() == [os.path.basename(path)]
    assert Request.objects.get(pk=first["id"]).result_file == path
    assert housekeeping_run()["exports_removed"] == 1
    assert _export_files() == []
    assert Request.objects.get(pk=first["id"]).result_file == ""
    response = api.get(first["result_url"])
    assert response.status_code == 404
    assert response.json()["code"] == "export_expired"

    second = _export(api, task, drain, "lightweight=true")
    assert len(_export_files()) == 1
    Request.objects.filter(pk=second["id"]).update(expiry_date=timezone.now())
    call_command("cleanup_exports", stdout=io.StringIO())
    assert _export_files() == []


# --- location=cloud_storage --------------------------------------------------------------------


def test_upload_to_a_cloud_storage(api, user, s3_emulator, s3_bucket, drain, tmp_path):
    from tests.api.media_helpers import storage_row
    from tests.fixtures.emulators import EmulatedBucket

    target = EmulatedBucket(s3_emulator, s3_emulator.create_bucket())
    storage = storage_row(user, target.config)
    task = make_unlinked_task(user)
    query = f"lightweight=true&location=cloud_storage&cloud_storage_id={storage.id}"
    request = _export(api, task, drain, query + "&filename=backups/one.zip")
    assert request["status"] == "finished", request["message"]
    assert request["result_url"] is None
    assert request["id"].endswith("-cloud")
    assert _layout(tmp_path, target.provider().download("backups/one.zip")).lightweight
    assert _export_files() == []
    response = api.get(f"/api/tasks/{task.id}/backup/download?rq_id={request['id']}")
    assert response.status_code == 404
    assert response.json()["code"] == "export_in_cloud_storage"

    # the task's target_storage is the default destination, under a generated name
    task.target_storage = {"location": "cloud_storage", "cloud_storage_id": storage.id}
    task.save()
    request = _export(api, task, drain, "lightweight=true")
    assert request["status"] == "finished", request["message"]
    keys = sorted(info.key for info in target.provider().iter_objects(""))
    assert len(keys) == 2
    assert re.fullmatch(rf"task-{task.id}_unlinked_lightweight_\d{{8}}T\d{{6}}Z\.zip", keys[1])


# --- projects ----------------------------------------------------------------------------------


def test_project_backup_is_lightweight_whenever_possible(
    api, user, s3_emulator, s3_bucket, drain, tmp_path
):
    from tests.fixtures.emulators import EmulatedBucket

    project = api.post(
        "/api/projects",
        {"name": "proj", "labels": [{"name": "cat", "attributes": [
            {"name": "fluffy", "mutable": True, "input_type": "checkbox",
             "default_value": "false", "values": ["false"]}]}, {"name": "dog"}]},
        format="json",
    ).json()  # fmt: skip
    cloud = make_cloud_task(
        api, user, EmulatedBucket(s3_emulator, s3_bucket), drain, project_id=project["id"]
    )
    _, files = make_local_task(api, drain, name="local task", project_id=project["id"])
    api.post("/api/tasks", {"name": "empty", "project_id": project["id"]}, format="json")

    request = _export(api, f"/api/projects/{project['id']}", drain, "lightweight=true")
    assert request["operation"]["lightweight"] is True
    assert request["operation"]["project_id"] == project["id"]
    content = _download(api, request)
    members = read_zip(content)
    assert sorted(members) == [
        "checksums.sha256",
        "project.json",
        "task_0/annotations.json",
        "task_0/data/manifest.jsonl",
        "task_0/task.json",
        "task_1/annotations.json",
        "task_1/data/manifest.jsonl",
        "task_1/data/x.jpg",
        "task_1/data/y.png",
        "task_1/task.json",
    ]
    project_json = json.loads(members["project.json"])
    assert project_json["name"] == "proj" and project_json["version"] == "1.0"
    assert [label["name"] for label in project_json["labels"]] == ["cat", "dog"]
    first, second = json.loads(members["task_0/task.json"]), json.loads(members["task_1/task.json"])
    assert (first["name"], first["data"]["storage"]) == ("cloud task", "cloud_storage")
    assert first["cloud_storage"]["resource"] == s3_bucket.resource
    assert (second["name"], second["data"]["storage"]) == ("local task", "local")
    assert members["task_1/data/x.jpg"] == files["x.jpg"]
    assert json.loads(members["task_0/annotations.json"])[0]["tags"][0]["label"] == "cat"
    assert _layout(tmp_path, content, "task_0/").lightweight
    assert not _layout(tmp_path, content, "task_1/").lightweight

    full = _export(api, f"/api/projects/{project['id']}", drain)
    assert full["operation"]["lightweight"] is False
    full_members = read_zip(_download(api, full))
    assert full_members["task_0/data/a.jpg"] == cloud.objects["ds/a.jpg"]
    assert json.loads(full_members["task_0/task.json"])["data"]["storage"] == "local"


def test_project_full_backup_with_an_unlinked_task_is_409(api, user):
    project = Project.objects.create(owner=user, name="p")
    task = make_unlinked_task(user)
    Task.objects.filter(pk=task.id).update(project=project)
    response = api.post(f"/api/projects/{project.id}/backup/export")
    assert response.status_code == 409
    assert response.json()["code"] == "cloud_storage_unlinked"
    assert api.post(f"/api/projects/{project.id}/backup/export?lightweight=True").status_code == 202


# --- legacy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/tasks/1/backup", "/api/projects/1/backup/"])
def test_legacy_backup_endpoint_is_gone(api, anon_api, url):
    response = api.get(url)
    assert response.status_code == 410
    assert response.json()["code"] == "endpoint_removed"
    assert "backup/export" in response.json()["message"]
    assert anon_api.get(url).status_code == 401
