"""Helpers for the backup import API tests: posting an archive and running the import."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile


def post_archive(api, path: Path, *, target: str = "task", slash: bool = True):
    """The multipart form: ``task_file`` / ``project_file``."""
    url = f"/api/{target}s/backup" + ("/" if slash else "")
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="application/zip")
    return api.post(url, {f"{target}_file": upload}, format="multipart")


def run_import(api, path: Path, drain, *, target: str = "task") -> dict:
    """POST the archive (multipart), run the import worker, return the request."""
    response = post_archive(api, path, target=target)
    assert response.status_code == 202, response.content
    assert set(response.json()) == {"rq_id"}
    drain("import")
    return api.get(f"/api/requests/{response.json()['rq_id']}").json()


def finished(request: dict) -> int:
    """The new object's id of a finished import."""
    assert request["status"] == "finished", request["message"]
    assert isinstance(request["result_id"], int)
    return request["result_id"]
