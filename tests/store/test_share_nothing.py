"""Share-nothing nodes (contract 1): the web and two workers as separate processes whose data
directories share no file, each a tmpfs of its own over the same path in its own mount
namespace (``unshare -m``: another machine, as far as files go). They share PostgreSQL, Redis
and the bucket named by ``CVAT_LITE_SHARED_STORE`` (the moto server). Every flow that hands a
file from one process to another goes through that bucket.
"""

from __future__ import annotations

import base64
import io
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings
from PIL import Image

from tests.conftest import PASSWORD
from tests.faults.workers import database_url
from tests.fixtures.emulators import MotoS3
from tests.processes import free_port

pytestmark = pytest.mark.slow

WAIT_S = 120
TUS_CHUNK = 700  # bytes: a backup of two tiny images takes a few chunks


def _jpeg(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(out, "JPEG")
    return out.getvalue()


class _Node:
    """One process in its own mount namespace with a fresh tmpfs over ``data_dir``."""

    def __init__(self, name: str, data_dir: Path, env: dict[str, str], command: list[str]):
        self.name = name
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        script = f'mount -t tmpfs tmpfs {shlex.quote(str(data_dir))} && exec "$@"'
        self.process = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script, name, *command],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # its session: gunicorn's children too
            self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def store_bucket(s3_emulator: MotoS3) -> tuple[str, str]:
    """A fresh bucket for the shared store: (resource, endpoint URL)."""
    config = s3_emulator.create_bucket()
    return config.resource, config.attributes["endpoint_url"]


@pytest.fixture
def nodes(transactional_db, tmp_path, store_bucket) -> Iterator[str]:
    """The web and two workers; yields the web's base URL."""
    resource, endpoint = store_bucket
    data_dir = tmp_path / "node-data"  # each process mounts its own tmpfs here
    data_dir.mkdir()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CVAT_LITE_")},
        "DJANGO_SETTINGS_MODULE": "cvat_lite.settings",
        "CVAT_LITE_DATABASE_URL": database_url(),
        "CVAT_LITE_REDIS_URL": settings.REDIS_URL,
        "CVAT_LITE_DATA_DIR": str(data_dir),
        "CVAT_LITE_CLOUD_ENDPOINT_ALLOWLIST": "127.0.0.1:*",
        "CVAT_LITE_SHARED_STORE": f"s3://{resource}/cvat?endpoint_url={endpoint}",
        "CVAT_LITE_SHARED_STORE_KEY": "store-key",
        "CVAT_LITE_SHARED_STORE_SECRET_KEY": "store-secret",
        "CVAT_LITE_LOG_LEVEL": "WARNING",
    }
    web = [
        sys.executable, "-m", "gunicorn", "cvat_lite.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread",
        "--threads", "4", "--timeout", "120", "--no-control-socket",
    ]  # fmt: skip
    worker = [sys.executable, "-m", "cvat_lite.cli", "rqworker", "export", "import", "create"]
    started = [
        _Node("web", data_dir, env, web),
        _Node("worker-1", data_dir, env, [*worker, "--name", f"w1-{port}"]),
        _Node("worker-2", data_dir, env, [*worker, "--name", f"w2-{port}"]),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            for node in started:
                assert node.process.poll() is None, f"{node.name} exited:\n{node.output()}"
            try:
                requests.get(f"{base}/api/server/about", timeout=60)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, "the web node did not answer"
                time.sleep(0.3)
        yield base
        # nothing of any node ever reached the directory under the tmpfs mounts
        assert list(data_dir.iterdir()) == []
    except BaseException:
        for node in started:
            print(f"--- {node.name}\n{node.output()}")
        raise
    finally:
        for node in started:
            node.stop()


class _Api:
    def __init__(self, base: str, username: str):
        """Registered through the web node (its password hasher is the service's own)."""
        self.base = base
        self.session = requests.Session()
        password = f"{PASSWORD}-9x"
        registered = self.session.post(
            f"{base}/api/auth/register",
            json={
                "username": username,
                "email": f"{username}@example.com",
                "password1": password,
                "password2": password,
            },
        )
        assert registered.status_code == 201, registered.text
        login = self.session.post(
            f"{base}/api/auth/login", json={"username": username, "password": password}
        )
        assert login.status_code == 200, login.text
        self.session.headers["Authorization"] = f"Token {login.json()['key']}"

    def __getattr__(self, method: str):
        call = getattr(self.session, method)
        return lambda path, **kw: call(path if path.startswith("http") else self.base + path, **kw)

    def finished(self, rq_id: str) -> dict:
        deadline = time.monotonic() + WAIT_S
        while True:
            request = self.get(f"/api/requests/{rq_id}").json()
            if request["status"] in ("finished", "failed"):
                assert request["status"] == "finished", request["message"]
                return request
            assert time.monotonic() < deadline, f"request {rq_id} still {request['status']}"
            time.sleep(0.3)


def _store_keys(s3_emulator: MotoS3, bucket: str, prefix: str) -> list[str]:
    listing = s3_emulator.client().list_objects_v2(Bucket=bucket, Prefix=f"cvat/{prefix}")
    return sorted(item["Key"] for item in listing.get("Contents", []))


def _local_task(api: _Api, images: dict[str, bytes]) -> int:
    task = api.post("/api/tasks", json={"name": "local", "labels": [{"name": "car"}]}).json()
    files = {f"client_files[{i}]": (name, data) for i, (name, data) in enumerate(images.items())}
    response = api.post(f"/api/tasks/{task['id']}/data", data={"image_quality": "80"}, files=files)
    assert response.status_code == 202, response.text
    api.finished(response.json()["rq_id"])
    return task["id"]


def _frames_served(api: _Api, task_id: int, images: dict[str, bytes]) -> None:
    for number, content in enumerate(images.values()):
        frame = api.get(f"/api/tasks/{task_id}/data?type=frame&number={number}&quality=original")
        assert frame.status_code == 200, frame.text
        assert frame.content == content
    preview = api.get(f"/api/tasks/{task_id}/preview")
    assert preview.status_code == 200, preview.text
    assert preview.headers["Content-Type"] == "image/jpeg"


def _export(api: _Api, task_id: int, query: str = "") -> bytes:
    response = api.post(f"/api/tasks/{task_id}/backup/export?location=local{query}")
    assert response.status_code == 202, response.text
    request = api.finished(response.json()["rq_id"])
    download = api.get(request["result_url"])
    assert download.status_code == 200, download.text
    assert zipfile.is_zipfile(io.BytesIO(download.content))
    return download.content


def _tus_import(api: _Api, archive: bytes) -> str:
    url = "/api/tasks/backup"
    assert api.post(f"{url}?filename=b.zip", headers={"Upload-Start": ""}).status_code == 202
    created = api.post(
        url,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(archive)),
            "Upload-Metadata": f"filename {base64.b64encode(b'b.zip').decode()}",
        },
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    for offset in range(0, len(archive), TUS_CHUNK):
        chunk = archive[offset : offset + TUS_CHUNK]
        patched = api.patch(
            location,
            data=chunk,
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert patched.status_code == 204, patched.text
        assert int(patched.headers["Upload-Offset"]) == offset + len(chunk)
    finished = api.post(
        f"{url}?filename={created.headers['Upload-Filename']}", headers={"Upload-Finish": ""}
    )
    assert finished.status_code == 202, finished.text
    return finished.json()["rq_id"]


def test_web_and_two_workers_share_no_disk(nodes, s3_emulator, store_bucket):
    api = _Api(nodes, "alice")
    bucket = store_bucket[0]
    images = {"a.jpg": _jpeg((200, 20, 20)), "b.jpg": _jpeg((20, 200, 20))}

    # a local task from uploaded client_files: the web stores them, a worker reads them
    task_id = _local_task(api, images)
    _frames_served(api, task_id, images)

    # a lightweight export of a cloud task, downloaded from the web (written by a worker)
    media = s3_emulator.create_bucket()
    for name, content in images.items():
        s3_emulator.put(media, name, content)
    storage = api.post(
        "/api/cloudstorages",
        json={
            "provider_type": "AWS_S3_BUCKET",
            "resource": media.resource,
            "display_name": "media",
            "credentials_type": "KEY_SECRET_KEY_PAIR",
            "key": "k",
            "secret_key": "s",
            "specific_attributes": f"endpoint_url={media.attributes['endpoint_url']}",
        },
    )
    assert storage.status_code == 201, storage.text
    cloud_task = api.post("/api/tasks", json={"name": "cloud", "labels": [{"name": "car"}]})
    data = api.post(
        f"/api/tasks/{cloud_task.json()['id']}/data",
        json={
            "image_quality": 70,
            "cloud_storage_id": storage.json()["id"],
            "server_files": ["a.jpg", "b.jpg"],
        },
    )
    assert data.status_code == 202, data.text
    api.finished(data.json()["rq_id"])
    lightweight = _export(api, cloud_task.json()["id"], "&lightweight=true")
    assert "data/manifest.jsonl" in zipfile.ZipFile(io.BytesIO(lightweight)).namelist()

    # a full backup of the local task: exported by a worker, restored by a worker (twice:
    # multipart and TUS), its frames and preview served by the web
    full = _export(api, task_id)
    multipart = api.post("/api/tasks/backup", files={"task_file": ("full.zip", full)})
    assert multipart.status_code == 202, multipart.text
    tus = _tus_import(api, full)
    for rq_id in (multipart.json()["rq_id"], tus):
        restored = api.finished(rq_id)["result_id"]
        assert restored not in (None, task_id)
        _frames_served(api, restored, images)

    # what the requests left for each other is gone; a deleted task's media too
    assert _store_keys(s3_emulator, bucket, "uploads/") == []
    assert _store_keys(s3_emulator, bucket, "scratch/") == []
    assert _store_keys(s3_emulator, bucket, f"tasks/{task_id}/") != []
    assert api.delete(f"/api/tasks/{task_id}").status_code == 204
    assert _store_keys(s3_emulator, bucket, f"tasks/{task_id}/") == []
