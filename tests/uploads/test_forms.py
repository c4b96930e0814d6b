"""The other two upload forms (contract 7.4): one multipart POST, and a cloud storage object."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cvat_lite.engine.models import CloudStorage
from cvat_lite.engine.selectors import MSG_CLOUD_STORAGE_NOT_FOUND
from cvat_lite.media.paths import PATH_DOTDOT
from cvat_lite.uploads.sources import CloudFile, LocalFile
from tests.uploads.tus import URL, imports_area, uploads_area

pytestmark = [pytest.mark.urls("tests.uploads.urls"), pytest.mark.django_db]


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    return body


# --- multipart ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1000, 3 * 1024 * 1024])  # in memory / spooled to a temp file
def test_multipart_file_reaches_the_handler(api, received, size):
    data = bytes(range(256)) * (size // 256)
    upload = SimpleUploadedFile("My Backup (1).zip", data, content_type="application/zip")
    response = api.post(URL, {"task_file": upload}, format="multipart")
    assert response.status_code == 202
    assert response.json() == {"rq_id": "x"}
    [source] = received
    assert isinstance(source, LocalFile)
    assert source.original_name == "My Backup _1_.zip"
    assert source.path.read_bytes() == data
    assert source.path.suffix == ".zip"
    assert uploads_area() == []


def test_multipart_field_name_is_the_endpoints(api, received):
    upload = SimpleUploadedFile("p.zip", b"PK")
    assert api.post("/api/projects/backup", {"project_file": upload}).status_code == 202
    assert received[0].path.read_bytes() == b"PK"

    wrong = SimpleUploadedFile("p.zip", b"PK")
    body = _error(api.post("/api/projects/backup", {"task_file": wrong}), 400, "file_required")
    assert body["extra"] == {"field": "project_file"}
    assert len(received) == 1


def test_no_file_at_all_is_400(api, received):
    _error(api.post(URL), 400, "file_required")
    _error(api.post(URL, {"x": 1}, format="json"), 400, "file_required")
    assert received == []
    assert imports_area() == []


def test_multipart_over_the_limit_is_413(api, received, settings):
    settings.MAX_UPLOAD_SIZE = 1000
    upload = SimpleUploadedFile("b.zip", b"x" * 1001)
    body = _error(api.post(URL, {"task_file": upload}), 413, "upload_too_large")
    assert body["extra"] == {"limit": 1000}
    assert received == []
    assert imports_area() == []


def test_multipart_body_far_over_the_limit_is_refused_before_parsing(api, received, settings):
    settings.MAX_UPLOAD_SIZE = 10
    # Not even valid multipart: parsed, it would be a 400 "no file".
    body = b"x" * (2 * 1024 * 1024)
    response = api.post(URL, data=body, content_type="multipart/form-data; boundary=zzz")
    _error(response, 413, "upload_too_large")
    assert received == []
    assert imports_area() == []


def test_a_failing_handler_deletes_the_multipart_file(api, received):
    upload = SimpleUploadedFile("b.zip", b"PK")
    assert api.post("/api/failing/backup/", {"task_file": upload}).status_code == 400
    assert not received[0].path.exists()
    assert imports_area() == []


# --- cloud storage -----------------------------------------------------------------------------


@pytest.fixture
def storage(user):
    return CloudStorage.objects.create(
        owner=user,
        provider_type="AWS_S3_BUCKET",
        resource="backups",
        display_name="backups",
        credentials_type="ANONYMOUS_ACCESS",
    )


def _cloud(api, query: str):
    return api.post(f"{URL}?location=cloud_storage&{query}")


def test_cloud_form_gives_the_handler_the_object(api, received, storage):
    response = _cloud(api, f"cloud_storage_id={storage.pk}&filename=dir/task%201.zip")
    assert response.status_code == 202
    assert received == [CloudFile(cloud_storage_id=storage.pk, key="dir/task 1.zip")]
    assert imports_area() == [] and uploads_area() == []


def test_cloud_form_of_another_users_storage_is_404(other_api, received, storage):
    body = _error(
        _cloud(other_api, f"cloud_storage_id={storage.pk}&filename=b.zip"),
        404,
        "cloud_storage_not_found",
    )
    assert body["message"] == MSG_CLOUD_STORAGE_NOT_FOUND.format(id=storage.pk)
    assert received == []


def test_cloud_form_of_a_missing_storage_is_404(api, received):
    _error(_cloud(api, "cloud_storage_id=999&filename=b.zip"), 404, "cloud_storage_not_found")
    assert received == []


def test_superuser_may_use_any_storage(admin_api, received, storage):
    assert _cloud(admin_api, f"cloud_storage_id={storage.pk}&filename=b.zip").status_code == 202


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("filename=b.zip", "cloud_storage_id"),
        ("cloud_storage_id=abc&filename=b.zip", "cloud_storage_id"),
        ("cloud_storage_id={id}", "filename"),
        ("cloud_storage_id={id}&filename=", "filename"),
    ],
)
def test_cloud_form_needs_its_parameters(api, received, storage, query, field):
    body = _error(_cloud(api, query.format(id=storage.pk)), 400, "invalid")
    assert field in body["extra"]["fields"]
    assert received == []


@pytest.mark.parametrize("key", ["../b.zip", "/abs.zip", "a//b.zip", "a\\b.zip"])
def test_cloud_form_key_must_be_a_safe_relative_path(api, received, storage, key):
    response = api.post(
        f"{URL}?location=cloud_storage&cloud_storage_id={storage.pk}&filename={_quote(key)}"
    )
    body = _error(response, 400, "invalid_path")
    assert body["extra"] == {"path": key}
    assert received == []


def test_cloud_key_error_message_names_the_reason(api, storage):
    response = _cloud(api, f"cloud_storage_id={storage.pk}&filename=a/../b.zip")
    assert PATH_DOTDOT in response.json()["message"]


def test_unknown_location_is_400(api, received):
    body = _error(api.post(f"{URL}?location=ftp"), 400, "invalid")
    assert "location" in body["extra"]["fields"]
    assert received == []


def _quote(text: str) -> str:
    return quote(text, safe="")
