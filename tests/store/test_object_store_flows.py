"""The flows that hand files between processes, in one process, with an object store as the
shared store: nothing of them lands in the data directory, and each is cleaned up in the
bucket (the share-nothing test runs the same flows across processes)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cvat_lite.backup.export_results import exports_cleanup
from cvat_lite.requests.models import Request
from cvat_lite.store import ObjectStore
from tests.backup.export_helpers import make_local_task

pytestmark = pytest.mark.django_db(transaction=True)


def _keys(store: ObjectStore, prefix: str) -> list[str]:
    return sorted(key for key, _ in store.list(prefix))


def _files(folder: str) -> list[Path]:
    root = Path(settings.DATA_DIR) / folder
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _finished(api, rq_id: str) -> dict:
    request = api.get(f"/api/requests/{rq_id}").json()
    assert request["status"] == "finished", request["message"]
    return request


def test_local_task_export_import_and_cleanup(api, user, drain, object_store):
    task, files = make_local_task(api, drain)
    assert _keys(object_store, f"tasks/{task.id}/") == [
        f"tasks/{task.id}/raw/{name}" for name in sorted(files)
    ]
    frame = api.get(f"/api/tasks/{task.id}/data?type=frame&number=0&quality=original")
    assert frame.status_code == 200 and frame.content == files["x.jpg"]
    assert api.get(f"/api/tasks/{task.id}/data?type=frame&number=5").status_code == 400

    response = api.post(f"/api/tasks/{task.id}/backup/export")
    drain("export")
    request = _finished(api, response.json()["rq_id"])
    result_file = Request.objects.get(pk=request["id"]).result_file
    assert result_file.startswith("exports/") and _keys(object_store, "exports/") == [result_file]
    download = api.get(request["result_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment; filename=")
    archive = b"".join(download.streaming_content)
    assert int(download["Content-Length"]) == len(archive)
    assert zipfile.ZipFile(io.BytesIO(archive)).testzip() is None

    imported = api.post(
        "/api/tasks/backup", {"task_file": SimpleUploadedFile("b.zip", archive)}, format="multipart"
    )
    assert imported.status_code == 202, imported.content
    assert _keys(object_store, "scratch/") != []  # the archive waits in the bucket
    drain("import")
    restored = _finished(api, imported.json()["rq_id"])["result_id"]
    assert _keys(object_store, "scratch/") == []
    assert len(_keys(object_store, f"tasks/{restored}/raw/")) == 2
    preview = api.get(f"/api/tasks/{restored}/preview")
    assert preview.status_code == 200

    # nothing of it is in this process's data directory
    assert _files("tasks") == _files("exports") == _files("imports") == []

    Request.objects.filter(pk=request["id"]).update(expiry_date=timezone.now() - timedelta(1))
    assert exports_cleanup() == 1
    assert _keys(object_store, "exports/") == []
    assert api.delete(f"/api/tasks/{task.id}").status_code == 204
    assert _keys(object_store, f"tasks/{task.id}/") == []
    assert len(_keys(object_store, f"tasks/{restored}/raw/")) == 2


def test_a_missing_local_media_file_is_media_not_found(api, user, drain, object_store):
    task, _ = make_local_task(api, drain)
    object_store.delete(f"tasks/{task.id}/raw/x.jpg")
    response = api.get(f"/api/tasks/{task.id}/data?type=frame&number=0&quality=original")
    assert response.status_code == 404
    assert response.json() == {
        "code": "media_not_found",
        "message": "The media file 'x.jpg' was not found.",
        "extra": {},
    }
