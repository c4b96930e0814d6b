"""Helpers that speak CVAT's upload protocol through an APIClient."""

from __future__ import annotations

import base64
from pathlib import Path

from django.conf import settings

URL = "/api/tasks/backup/"
TUS = "application/offset+octet-stream"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def tus_create(api, length, *, name: str = "backup.zip", url: str = URL, **headers):
    headers = {
        "HTTP_TUS_RESUMABLE": "1.0.0",
        "HTTP_UPLOAD_LENGTH": str(length),
        "HTTP_UPLOAD_METADATA": f"filename {b64(name)}",
        **headers,
    }
    return api.post(url, **headers)


def tus_patch(api, location: str, offset, chunk: bytes, **headers):
    return api.patch(
        location,
        data=chunk,
        content_type=TUS,
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET=str(offset),
        **headers,
    )


def tus_finish(api, filename: str, *, url: str = URL):
    return api.post(f"{url}?filename={filename}", HTTP_UPLOAD_FINISH="")


def uploads_area() -> list[Path]:
    root = Path(settings.DATA_DIR) / "uploads"
    return sorted(root.iterdir()) if root.exists() else []


def imports_area() -> list[Path]:
    root = Path(settings.DATA_DIR) / "imports"
    return sorted(root.iterdir()) if root.exists() else []
