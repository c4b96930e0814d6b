"""Small helpers of the fault tests: posting exports and imports, reading requests, matching
proxied S3 requests, deleting a bucket behind the service's back."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from cvat_lite.errors import ServiceUnavailable
from cvat_lite.requests.models import Request
from tests.backup.restore_helpers import MODELS, Snapshot, _files, snapshot
from tests.faults.proxy import Match
from tests.fixtures.emulators import MotoS3

TERMINAL = ("finished", "failed")


def object_get(key: str) -> Match:
    """Matches the proxied GET of object ``key`` (path-style: /<bucket>/<key>)."""

    def match(method: str, path: str) -> bool:
        return method == "GET" and path.split("?", 1)[0].endswith("/" + key)

    return match


def listing(method: str, path: str) -> bool:
    """Matches a proxied ListObjectsV2."""
    return method == "GET" and "list-type=2" in path


def post_export(api, task_id: int, query: str = "") -> str:
    response = api.post(f"/api/tasks/{task_id}/backup/export{'?' + query if query else ''}")
    assert response.status_code == 202, response.content
    return response.json()["rq_id"]


def post_import(api, archive: Path) -> str:
    upload = SimpleUploadedFile(archive.name, archive.read_bytes(), content_type="application/zip")
    response = api.post("/api/tasks/backup/", {"task_file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()["rq_id"]


def post_cloud_import(api, storage_id: int, key: str) -> str:
    query = f"location=cloud_storage&cloud_storage_id={storage_id}&filename={key}"
    response = api.post(f"/api/tasks/backup/?{query}")
    assert response.status_code == 202, response.content
    return response.json()["rq_id"]


def row(rq_id: str) -> Request | None:
    """The request row as the database has it now (no reconciliation)."""
    return Request.objects.filter(pk=rq_id).first()


def running_with_progress(rq_id: str) -> bool:
    request = row(rq_id)
    return request is not None and request.status == "started" and (request.progress or 0) > 0


def row_ended(rq_id: str) -> Request | None:
    request = row(rq_id)
    return request if request is not None and request.status in TERMINAL else None


def api_request(api, rq_id: str) -> dict:
    response = api.get(f"/api/requests/{rq_id}")
    assert response.status_code == 200, response.content
    return response.json()


def api_ended(api, rq_id: str) -> dict | None:
    """The request through the API (which reconciles it with RQ) once it has ended."""
    request = api_request(api, rq_id)
    return request if request["status"] in TERMINAL else None


def delete_s3_bucket(emulator: MotoS3, resource: str) -> None:
    client = emulator.client()
    for item in client.list_objects_v2(Bucket=resource).get("Contents", []):
        client.delete_object(Bucket=resource, Key=item["Key"])
    client.delete_bucket(Bucket=resource)


def _rows() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def assert_unchanged(before: Snapshot, *, cache: bool = True) -> None:
    """No row (but the request's own), file under DATA_DIR or (with ``cache``) cache entry
    was added or removed since ``before``."""
    if not cache:
        assert (_rows(), _files()) == (before.rows, before.files)
        return
    after = snapshot()
    assert (after.rows, after.files, after.cache_keys) == (
        before.rows,
        before.files,
        before.cache_keys,
    )


def assert_unavailable(response) -> None:
    """A 503 with the error body (contract 8)."""
    assert response.status_code == 503, (response.status_code, response.content)
    assert response.json() == {
        "code": "service_unavailable",
        "message": ServiceUnavailable.default_message,
        "extra": {},
    }
