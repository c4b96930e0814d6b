"""Helpers shared by the task data and media tests: images, storages, tasks, data creation."""

from __future__ import annotations

import io
import json
from urllib.parse import quote

from PIL import Image as PILImage

from cvat_lite.cloud.base import StorageConfig
from cvat_lite.engine.cloud import CREDENTIAL_FIELDS
from cvat_lite.engine.models import CloudStorage, Task


def make_image(width: int, height: int, fmt: str = "JPEG", color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


def manifest_bytes(entries: list[dict]) -> bytes:
    lines = [{"version": "1.1"}, {"type": "images"}, *entries]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def storage_row(owner, config: StorageConfig, *, manifests=()) -> CloudStorage:
    """A CloudStorage row for an emulator bucket (written directly: no status check)."""
    credentials = {
        name: value for name in CREDENTIAL_FIELDS if (value := getattr(config.credentials, name))
    }
    attributes = "&".join(f"{k}={quote(v, safe='')}" for k, v in config.attributes.items())
    return CloudStorage.objects.create(
        owner=owner,
        provider_type=str(config.provider_type),
        resource=config.resource,
        display_name="bucket",
        credentials_type=str(config.credentials_type),
        credentials=credentials,
        specific_attributes=attributes,
        manifests=list(manifests),
    )


def make_task(owner, name: str = "task", segment_size: int = 0) -> Task:
    return Task.objects.create(owner=owner, name=name, segment_size=segment_size)


def create_data(api, task: Task, body: dict, drain, *, fmt: str = "json") -> dict:
    """POST the data request, run the worker, return the finished (or failed) request."""
    response = api.post(f"/api/tasks/{task.id}/data/", body, format=fmt)
    assert response.status_code == 202, response.content
    drain("create")
    rq_id = response.json()["rq_id"]
    return api.get(f"/api/requests/{rq_id}").json()
