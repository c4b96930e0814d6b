"""The REST calls a benchmark makes, through DRF's in-process ``APIClient`` (the same views,
serializers and middleware a live server runs; the jobs run in the worker subprocess)."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlsplit

from rest_framework.test import APIClient

from bench.services import Worker, wait_until

TUS_CHUNK = 10 * 1024 * 1024  # cvat-sdk's upload chunk size


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Api:
    def __init__(self, user, worker: Worker) -> None:
        self.client = APIClient()
        self.client.force_authenticate(user)
        self.worker = worker

    def _ok(self, response, status: int = 200):
        if response.status_code != status:
            raise RuntimeError(f"HTTP {response.status_code}: {response.content[:500]!r}")
        return response

    def finished(self, rq_id: str, timeout: float = 3600) -> dict:
        def done():
            self.worker.check()
            request = self._ok(self.client.get(f"/api/requests/{rq_id}")).json()
            return request if request["status"] in ("finished", "failed") else None

        request = wait_until(done, timeout=timeout)
        if request["status"] != "finished":
            raise RuntimeError(f"request {rq_id} failed: {request['message']}")
        return request

    def task_create(self, name: str) -> int:
        body = {"name": name, "labels": [{"name": "car"}]}
        return self._ok(self.client.post("/api/tasks", body, format="json"), 201).json()["id"]

    def data_create(self, task_id: int, storage_id: int, manifest: str) -> None:
        body = {"server_files": [manifest], "cloud_storage_id": storage_id}
        response = self.client.post(f"/api/tasks/{task_id}/data", body, format="json")
        self.finished(self._ok(response, 202).json()["rq_id"])

    def meta(self, task_id: int) -> dict:
        return self._ok(self.client.get(f"/api/tasks/{task_id}/data/meta")).json()

    def backup_export(self, task_id: int, *, lightweight: bool, into: Path) -> Path:
        flag = "true" if lightweight else "false"
        url = f"/api/tasks/{task_id}/backup/export?lightweight={flag}&location=local"
        request = self.finished(self._ok(self.client.post(url), 202).json()["rq_id"])
        parts = urlsplit(request["result_url"])
        response = self._ok(self.client.get(f"{parts.path}?{parts.query}"))
        with into.open("wb") as out:
            for block in response.streaming_content:
                out.write(block)
        response.close()
        return into

    def backup_import(self, archive: Path) -> int:
        """cvat-sdk's TUS flow: Upload-Start, create, PATCH chunks, Upload-Finish."""
        url = "/api/tasks/backup/"
        self._ok(self.client.post(f"{url}?filename={archive.name}", HTTP_UPLOAD_START=""), 202)
        size = archive.stat().st_size
        created = self._ok(
            self.client.post(
                url, HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH=str(size),
                HTTP_UPLOAD_METADATA=f"filename {_b64(archive.name)}",
            ),
            201,
        )  # fmt: skip
        location = urlsplit(created["Location"]).path
        with archive.open("rb") as source:
            offset = 0
            while chunk := source.read(TUS_CHUNK):
                self._ok(
                    self.client.patch(
                        location, data=chunk, content_type="application/offset+octet-stream",
                        HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_OFFSET=str(offset),
                    ),
                    204,
                )  # fmt: skip
                offset += len(chunk)
        finish = f"{url}?filename={created['Upload-Filename']}"
        response = self._ok(self.client.post(finish, HTTP_UPLOAD_FINISH=""), 202)
        return self.finished(response.json()["rq_id"])["result_id"]

    def relink(self, task_id: int, storage_id: int, **options) -> dict:
        body = {"cloud_storage_id": storage_id, **options}
        response = self.client.patch(f"/api/tasks/{task_id}/data/meta", body, format="json")
        if response.status_code == 202:  # a large relink runs in the background: its report
            return self.finished(response.json()["rq_id"])["result"]
        return self._ok(response).json()
