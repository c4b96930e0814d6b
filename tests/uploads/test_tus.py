"""CVAT's TUS flow on an upload endpoint (contract 7.4): create, PATCH, HEAD, finish."""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

import pytest

from cvat_lite.uploads import services
from cvat_lite.uploads.models import Upload
from cvat_lite.uploads.sources import LocalFile
from tests.uploads.tus import (
    URL,
    b64,
    imports_area,
    tus_create,
    tus_finish,
    tus_patch,
    uploads_area,
)

pytestmark = [pytest.mark.urls("tests.uploads.urls"), pytest.mark.django_db]

DATA = bytes(range(256)) * 40  # 10,240 bytes


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    return body


def _started(api, length: int = len(DATA), **kwargs):
    response = tus_create(api, length, **kwargs)
    assert response.status_code == 201, response.content
    return response["Location"], response["Upload-Filename"]


def _uploaded(api, data: bytes = DATA, **kwargs):
    location, filename = _started(api, len(data), **kwargs)
    response = tus_patch(api, location, 0, data)
    assert response.status_code == 204, response.content
    return location, filename


# --- the whole flow ----------------------------------------------------------------------------


def test_full_flow_in_several_chunks(api, received):
    start = api.post(f"{URL}?filename=my%20backup.zip", HTTP_UPLOAD_START="")
    assert start.status_code == 202
    assert not Upload.objects.exists()  # Upload-Start keeps no state

    created = tus_create(api, len(DATA), name="my backup.zip")
    assert created.status_code == 201
    location = created["Location"]
    assert re.fullmatch(r"http://testserver/api/tasks/backup/[0-9a-f-]{36}", location)
    assert re.fullmatch(r"[0-9a-f]{32}\.zip", created["Upload-Filename"])
    assert created["Tus-Resumable"] == "1.0.0"

    offset = 0
    for size in (4000, 4000, len(DATA) - 8000):
        response = tus_patch(api, location, offset, DATA[offset : offset + size])
        assert response.status_code == 204, response.content
        offset += size
        assert response["Upload-Offset"] == str(offset)
        assert response["Tus-Resumable"] == "1.0.0"

    finished = tus_finish(api, created["Upload-Filename"])
    assert finished.status_code == 202
    assert finished.json() == {"rq_id": "x"}
    [source] = received
    assert isinstance(source, LocalFile)
    assert source.original_name == "my backup.zip"
    assert source.path.read_bytes() == DATA
    assert source.path.parent == imports_area()[0].parent
    assert not Upload.objects.exists()
    assert uploads_area() == []


def test_create_without_trailing_slash_and_finish_with_it(api, received):
    location, filename = _uploaded(api, url="/api/tasks/backup")
    assert location.startswith("http://testserver/api/tasks/backup/")
    assert tus_finish(api, filename).status_code == 202
    assert received[0].path.read_bytes() == DATA


def test_location_is_absolute_with_the_request_host(api, settings):
    settings.ALLOWED_HOSTS = ["cvat.example.com"]
    response = tus_create(api, 10, HTTP_HOST="cvat.example.com", secure=True)
    assert response["Location"].startswith("https://cvat.example.com/api/tasks/backup/")


def test_empty_upload_can_be_finished(api, received):
    _, filename = _started(api, 0)
    assert tus_finish(api, filename).status_code == 202
    assert received[0].path.read_bytes() == b""


def test_server_name_keeps_only_a_safe_extension(api):
    _, filename = _started(api, 1, name="../../etc/passwd")
    assert re.fullmatch(r"[0-9a-f]{32}", filename)
    assert Upload.objects.get().original_name == "passwd"


# --- PATCH -------------------------------------------------------------------------------------


def test_wrong_offset_is_409_with_the_real_offset_and_the_upload_resumes(api, received):
    location, filename = _started(api)
    assert tus_patch(api, location, 0, DATA[:1000]).status_code == 204

    ahead = tus_patch(api, location, 5000, DATA[5000:6000])
    body = _error(ahead, 409, "upload_offset_conflict")
    assert ahead["Upload-Offset"] == "1000"
    assert body["extra"] == {"offset": 1000}
    assert body["message"] == services.MSG_OFFSET_MISMATCH.format(sent=5000, offset=1000)
    replayed = tus_patch(api, location, 0, DATA[:1000])
    assert replayed.status_code == 409 and replayed["Upload-Offset"] == "1000"

    assert tus_patch(api, location, 1000, DATA[1000:]).status_code == 204
    assert tus_finish(api, filename).status_code == 202
    assert received[0].path.read_bytes() == DATA


def test_head_reports_offset_and_length(api):
    location, _ = _started(api)
    tus_patch(api, location, 0, DATA[:300])
    response = api.head(location)
    assert response.status_code == 200
    assert response["Upload-Offset"] == "300"
    assert response["Upload-Length"] == str(len(DATA))
    assert response["Cache-Control"] == "no-store"
    assert response["Tus-Resumable"] == "1.0.0"


def test_chunk_past_the_length_is_413_and_writes_nothing(api):
    location, _ = _started(api, 100)
    tus_patch(api, location, 0, b"a" * 60)
    body = _error(tus_patch(api, location, 60, b"b" * 41), 413, "upload_past_length")
    assert body["extra"] == {"offset": 60, "length": 100}
    assert api.head(location)["Upload-Offset"] == "60"


def test_concurrent_chunk_is_409_busy(api):
    location, _ = _started(api)
    tus_patch(api, location, 0, DATA[:10])
    [path] = uploads_area()
    with open(path, "r+b") as other_writer:
        fcntl.flock(other_writer.fileno(), fcntl.LOCK_EX)
        response = tus_patch(api, location, 10, DATA[10:20])
    _error(response, 409, "upload_busy")
    assert response["Upload-Offset"] == "10"
    assert path.stat().st_size == 10


@pytest.mark.parametrize("offset", ["", "-1", "1.5", "abc", "+3"])
def test_bad_upload_offset_is_400(api, offset):
    location, _ = _started(api)
    _error(tus_patch(api, location, offset, b"x"), 400, "invalid_header")
    assert api.head(location)["Upload-Offset"] == "0"


def test_patch_without_upload_offset_is_400(api):
    location, _ = _started(api)
    response = api.patch(location, data=b"x", content_type="application/offset+octet-stream")
    _error(response, 400, "header_required")


def test_patch_with_another_content_type_is_415(api):
    location, _ = _started(api)
    response = api.patch(location, data=b"x", content_type="application/octet-stream")
    _error(response, 415, "unsupported_media_type")
    assert api.head(location)["Upload-Offset"] == "0"


def test_another_users_upload_is_404_to_patch_and_head(api, other_api):
    location, _ = _started(api)
    _error(tus_patch(other_api, location, 0, DATA), 404, "not_found")
    assert other_api.head(location).status_code == 404
    assert api.head(location)["Upload-Offset"] == "0"


def test_unknown_upload_is_404(api):
    location = "/api/tasks/backup/00000000-0000-4000-8000-000000000000"
    _error(tus_patch(api, location, 0, b"x"), 404, "not_found")
    assert api.head(location).status_code == 404


def test_upload_belongs_to_its_endpoint(api):
    location, filename = _uploaded(api)
    elsewhere = location.replace("/tasks/backup/", "/projects/backup/")
    _error(tus_patch(api, elsewhere, len(DATA), b""), 404, "not_found")
    _error(tus_finish(api, filename, url="/api/projects/backup/"), 400, "upload_not_found")
    assert Upload.objects.count() == 1


def test_anonymous_is_401(api, anon_api):
    location, _ = _started(api)
    assert tus_patch(anon_api, location, 0, DATA).status_code == 401
    assert tus_create(anon_api, 10).status_code == 401
    assert Upload.objects.count() == 1


# --- create ------------------------------------------------------------------------------------


def test_length_above_the_limit_is_413(api, settings):
    settings.MAX_UPLOAD_SIZE = 1000
    body = _error(tus_create(api, 1001), 413, "upload_too_large")
    assert body["message"] == services.MSG_TOO_LARGE.format(limit=1000)
    assert not Upload.objects.exists()
    assert uploads_area() == []
    assert tus_create(api, 1000).status_code == 201


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", ""])
def test_bad_upload_length_is_400(api, length):
    _error(tus_create(api, length), 400, "invalid_header")
    assert not Upload.objects.exists()


def test_missing_upload_length_is_400(api):
    response = api.post(
        URL, HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_METADATA=f"filename {b64('a')}"
    )
    _error(response, 400, "header_required")
    assert not Upload.objects.exists()


@pytest.mark.parametrize(
    "metadata", ["filename not*base64", "filename //79", "other YQ==", "filename", ""]
)
def test_bad_metadata_is_400(api, metadata):
    response = tus_create(api, 10, HTTP_UPLOAD_METADATA=metadata)
    _error(response, 400, "invalid_upload_metadata")
    assert not Upload.objects.exists()


def test_metadata_with_several_pairs(api):
    response = tus_create(
        api, 10, HTTP_UPLOAD_METADATA=f"filetype {b64('zip')}, filename {b64('b.zip')},flag"
    )
    assert response.status_code == 201
    assert Upload.objects.get().original_name == "b.zip"


# --- finish ------------------------------------------------------------------------------------


def test_finish_of_an_incomplete_upload_is_400_and_keeps_it(api, received):
    location, filename = _started(api)
    tus_patch(api, location, 0, DATA[:100])
    body = _error(tus_finish(api, filename), 400, "upload_incomplete")
    assert body["extra"] == {"offset": 100, "length": len(DATA)}
    assert received == []
    assert imports_area() == []
    assert tus_patch(api, location, 100, DATA[100:]).status_code == 204  # it can go on


def test_finish_of_an_unknown_filename_is_400(api, received):
    body = _error(tus_finish(api, "0123456789abcdef0123456789abcdef.zip"), 400, "upload_not_found")
    assert body["message"] == services.MSG_UNKNOWN_UPLOAD.format(
        filename="'0123456789abcdef0123456789abcdef.zip'"
    )
    assert received == []


def test_finish_of_another_users_upload_is_400(api, other_api, received):
    _, filename = _uploaded(api)
    _error(tus_finish(other_api, filename), 400, "upload_not_found")
    assert received == []
    assert Upload.objects.count() == 1
    assert tus_finish(api, filename).status_code == 202


def test_finish_twice_is_400(api, received):
    _, filename = _uploaded(api)
    assert tus_finish(api, filename).status_code == 202
    _error(tus_finish(api, filename), 400, "upload_not_found")
    assert len(received) == 1


def test_finish_without_filename_is_400(api):
    response = api.post(URL, HTTP_UPLOAD_FINISH="")
    _error(response, 400, "filename_required")


def test_a_failing_handler_leaves_no_file(api, received):
    _, filename = _uploaded(api, url="/api/failing/backup/")
    response = tus_finish(api, filename, url="/api/failing/backup/")
    assert response.status_code == 400
    [source] = received
    assert not Path(source.path).exists()
    assert imports_area() == []
    assert uploads_area() == []
    assert not Upload.objects.exists()


def test_a_finished_file_is_owned_by_the_handler(api, received):
    _, filename = _uploaded(api)
    tus_finish(api, filename)
    [source] = received
    assert source.path.exists()
    source.discard()
    assert imports_area() == []
    assert os.listdir(source.path.parent) == []
