"""Reads for uploads: where their bytes are, how far they got, what a cloud source names."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from cvat_lite import errors
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.selectors import cloud_storage_for
from cvat_lite.media.paths import validate_relative_path
from cvat_lite.store import shared_store
from cvat_lite.uploads.models import Upload
from cvat_lite.uploads.parts import parts_offset
from cvat_lite.uploads.sources import CloudFile

if TYPE_CHECKING:
    from django.contrib.auth.models import User

UPLOADS_DIRNAME = "uploads"


def uploads_dir() -> Path:
    return Path(settings.DATA_DIR) / UPLOADS_DIRNAME


def upload_path(upload: Upload) -> Path:
    return uploads_dir() / str(upload.pk)


def upload_get(*, owner: User, endpoint: str, upload_id: str) -> Upload:
    """The caller's own upload on this endpoint (uploads are private: superusers included);
    NotFound otherwise, and when its file is gone."""
    try:
        pk = uuid.UUID(upload_id)
    except ValueError:
        raise errors.NotFound() from None
    upload = Upload.objects.filter(pk=pk, owner=owner, endpoint=endpoint).first()
    if upload is None or (shared_store().is_local and not upload_path(upload).is_file()):
        raise errors.NotFound()
    return upload


def upload_offset(*, upload: Upload) -> int:
    """How many bytes were received (the file is the truth, so a crash mid-chunk leaves an
    offset that matches the bytes kept)."""
    if not shared_store().is_local:
        return parts_offset(str(upload.pk))
    try:
        return upload_path(upload).stat().st_size
    except FileNotFoundError:
        raise errors.NotFound() from None


def cloud_file_get(*, user: User, cloud_storage_id: int, key: str) -> CloudFile:
    """``?location=cloud_storage``: the storage must be visible to ``user`` (404 otherwise, the
    project's rule for another user's object), its endpoint allowed (400, no connection), and
    ``key`` a valid relative object key (400)."""
    validate_relative_path(key)
    provider_for(cloud_storage_for(user, cloud_storage_id, error=errors.NotFound))
    return CloudFile(cloud_storage_id=cloud_storage_id, key=key)
