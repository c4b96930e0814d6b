"""Files in one multipart request (docs/security.md): every endpoint refuses more than
MAX_REQUEST_FILES with a 400 before storing them, task data takes MAX_TASK_UPLOAD_FILES, and
many files never exhaust the process's file descriptors (the test lowers the process's limit
so that one descriptor per file would run out)."""

from __future__ import annotations

import os
import resource

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cvat_lite.api.upload_handlers import MSG_TOO_MANY_FILES
from cvat_lite.engine.frames import local_media_root
from cvat_lite.engine.models import Task
from tests.api.media_helpers import make_image, make_task

pytestmark = pytest.mark.django_db

BOUNDARY = "cvatlitelimitboundary"
SPARE_DESCRIPTORS = 300


def _multipart(count: int, *, field: str = "client_files[{i}]", size: int = 1) -> bytes:
    """``count`` file parts of ``size`` bytes each, built directly (the test client's encoder
    is slow for tens of thousands of parts)."""
    parts = []
    payload = b"x" * size
    for i in range(count):
        name = field.format(i=i)
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="f{i}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + payload
            + b"\r\n"
        )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _post(client, path: str, body: bytes, **headers):
    return client.post(
        path, body, content_type=f"multipart/form-data; boundary={BOUNDARY}", **headers
    )


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def few_descriptors():
    """The soft limit on open files, lowered to what the process uses plus a few hundred."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_open_descriptors() + SPARE_DESCRIPTORS, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _assert_too_many(response, limit: int) -> None:
    assert response.status_code == 400, response.content[:500]
    assert response.json() == {
        "code": "too_many_files",
        "message": MSG_TOO_MANY_FILES.format(limit=limit),
        "extra": {},
    }


def test_anonymous_multipart_with_40000_files_is_a_400(db, few_descriptors):
    body = _multipart(40_000, field="file{i}")
    # The login takes JSON only; the admin login and an endpoint that parses multipart.
    assert _post(APIClient(), "/api/auth/login", body).status_code == 415
    assert _post(Client(), "/admin/login/", body).status_code == 400


def test_multipart_past_the_request_limit_is_refused_before_storing(
    user, api, few_descriptors, tmp_path, settings, monkeypatch
):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    os.mkdir(settings.FILE_UPLOAD_TEMP_DIR)
    body = _multipart(40_000, field="task_file{i}", size=100)  # 4 MB: spooled to disk

    _assert_too_many(_post(api, "/api/tasks/backup", body), 100)
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
    assert not Task.objects.exists()


def test_request_limit_is_a_setting(user, api, settings):
    settings.MAX_REQUEST_FILES = 3
    _assert_too_many(_post(api, "/api/tasks/backup", _multipart(4, field="f{i}")), 3)


def test_task_data_takes_many_files_without_a_descriptor_each(
    user, api, few_descriptors, tmp_path, settings
):
    count = 3 * SPARE_DESCRIPTORS
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    os.mkdir(settings.FILE_UPLOAD_TEMP_DIR)
    task = make_task(user)
    url = f"/api/tasks/{task.id}/data/"
    image = make_image(2, 2)
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="client_files[{i}]"; '
        f'filename="img{i:04}.png"\r\nContent-Type: image/png\r\n\r\n'.encode()
        + image
        + b"\r\n"
        + b""
        for i in range(count)
    ]
    padding = (  # over Django's 2.5 MiB in-memory threshold: the files go to disk
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="padding"\r\n\r\n'.encode()
        + b"p" * (2_700_000)
        + b"\r\n"
    )
    body = b"".join(parts) + padding + f"--{BOUNDARY}--\r\n".encode()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 3_000_000

    assert api.post(url, HTTP_UPLOAD_START="").status_code == 202
    response = _post(api, url, body, HTTP_UPLOAD_MULTIPLE="")

    assert response.status_code == 200, response.content[:500]
    saved = sorted(p.name for p in local_media_root(task.id).iterdir())
    assert saved == [f"img{i:04}.png" for i in range(count)]
    assert (local_media_root(task.id) / "img0007.png").read_bytes() == image
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []  # nothing left behind


def test_task_data_has_its_own_limit(user, api, settings):
    settings.MAX_REQUEST_FILES = 2
    settings.MAX_TASK_UPLOAD_FILES = 5
    task = make_task(user)
    url = f"/api/tasks/{task.id}/data/"
    assert api.post(url, HTTP_UPLOAD_START="").status_code == 202

    assert _post(api, url, _multipart(5), HTTP_UPLOAD_MULTIPLE="").status_code == 200
    _assert_too_many(_post(api, url, _multipart(6), HTTP_UPLOAD_MULTIPLE=""), 5)
