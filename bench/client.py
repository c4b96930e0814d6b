"""The REST calls a benchmark makes, over HTTP to the web subprocess (``bench.services.Web``)
with ``requests`` and a DRF token, as a client on another machine would make them; the jobs
run in the worker subprocess. Large bodies (data/meta, archives) are streamed to files, never
parsed whole in this process."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench.services import Web, Worker, wait_until

TUS_CHUNK = 10 * 1024 * 1024  # cvat-sdk's upload chunk size
_SIZE = re.compile(rb'"size":(\d+)')


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Api:
    def __init__(self, user, web: Web, worker: Worker) -> None:
        from rest_framework.authtoken.models import Token

        token, _ = Token.objects.get_or_create(user=user)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token.key}"
        self.url = web.url
        self.web, self.worker = web, worker

    def _call(
        self, method: str, path: str, status: int | tuple[int, ...] = 200, **kwargs
    ) -> requests.Response:
        response = self.session.request(method, self.url + path, **kwargs)
        if response.status_code not in (status if isinstance(status, tuple) else (status,)):
            raise RuntimeError(
                f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}"
            )
        return response

    def finished(self, rq_id: str, timeout: float = 3600) -> dict:
        def done():
            self.worker.check()
            request = self._call("GET", f"/api/requests/{rq_id}").json()
            return request if request["status"] in ("finished", "failed") else None

        request = wait_until(done, timeout=timeout)
        if request["status"] != "finished":
            raise RuntimeError(f"request {rq_id} failed: {request['message']}")
        return request

    def task_create(self, name: str) -> int:
        body = {"name": name, "labels": [{"name": "car"}]}
        return self._call("POST", "/api/tasks", 201, json=body).json()["id"]

    def data_create(self, task_id: int, storage_id: int, manifest: str) -> None:
        body = {"server_files": [manifest], "cloud_storage_id": storage_id}
        response = self._call("POST", f"/api/tasks/{task_id}/data", 202, json=body)
        self.finished(response.json()["rq_id"])

    def meta(self, task_id: int, into: Path) -> tuple[int, int]:
        """data/meta streamed into ``into``: (its ``size`` field, the body's bytes)."""
        response = self._call("GET", f"/api/tasks/{task_id}/data/meta", stream=True)
        head, total = b"", 0
        with into.open("wb") as out:
            for block in response.iter_content(1024 * 1024):
                if len(head) < 4096:
                    head += block[:4096]
                total += len(block)
                out.write(block)
        match = _SIZE.search(head)
        assert match, head[:200]
        return int(match.group(1)), total

    def backup_export(self, task_id: int, *, lightweight: bool, into: Path) -> Path:
        flag = "true" if lightweight else "false"
        url = f"/api/tasks/{task_id}/backup/export?lightweight={flag}&location=local"
        request = self.finished(self._call("POST", url, 202).json()["rq_id"])
        parts = urlsplit(request["result_url"])
        response = self._call("GET", f"{parts.path}?{parts.query}", stream=True)
        with into.open("wb") as out:
            for block in response.iter_content(1024 * 1024):
                out.write(block)
        return into

    def backup_import(self, archive: Path) -> int:
        """cvat-sdk's TUS flow: Upload-Start, create, PATCH chunks, Upload-Finish."""
        url = "/api/tasks/backup/"
        self._call("POST", f"{url}?filename={archive.name}", 202, headers={"Upload-Start": ""})
        size = archive.stat().st_size
        created = self._call(
            "POST", url, 201,
            headers={
                "Tus-Resumable": "1.0.0", "Upload-Length": str(size),
                "Upload-Metadata": f"filename {_b64(archive.name)}",
            },
        )  # fmt: skip
        location = urlsplit(created.headers["Location"]).path
        with archive.open("rb") as source:
            offset = 0
            while chunk := source.read(TUS_CHUNK):
                self._call(
                    "PATCH", location, 204, data=chunk,
                    headers={
                        "Content-Type": "application/offset+octet-stream",
                        "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                    },
                )  # fmt: skip
                offset += len(chunk)
        finish = f"{url}?filename={created.headers['Upload-Filename']}"
        response = self._call("POST", finish, 202, headers={"Upload-Finish": ""})
        return self.finished(response.json()["rq_id"])["result_id"]

    def relink(self, task_id: int, storage_id: int, **options) -> dict:
        body = {"cloud_storage_id": storage_id, **options}
        response = self._call("PATCH", f"/api/tasks/{task_id}/data/meta", (200, 202), json=body)
        if response.status_code == 202:  # a large relink runs in the background: its report
            return self.finished(response.json()["rq_id"])["result"]
        return json.loads(response.content)
