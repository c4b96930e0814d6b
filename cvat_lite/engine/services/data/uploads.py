"""Upload staging: ``Upload-Start`` / ``Upload-Multiple`` save the files of a data request in
the shared store (``tasks/<id>/raw/``) before it is submitted."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from cvat_lite import errors
from cvat_lite.engine.frames import local_media_prefix, local_media_root
from cvat_lite.engine.models import Task
from cvat_lite.engine.services.data.options import (
    MSG_CREATE_RUNNING,
    MSG_DUPLICATE_UPLOAD,
    MSG_HAS_DATA,
    MSG_UPLOAD_TOO_LARGE,
)
from cvat_lite.media.paths import shown, validate_relative_path
from cvat_lite.requests.models import Request, RequestAction
from cvat_lite.requests.services import ACTIVE_STATUSES, reconcile
from cvat_lite.store import shared_store


def _check_no_data(task: Task) -> None:
    if task.data_id is not None:
        raise errors.BadRequest(MSG_HAS_DATA, code="task_has_data")
    for request in Request.objects.filter(
        action=RequestAction.CREATE, task_id=task.id, status__in=ACTIVE_STATUSES
    ):
        if reconcile(request).status in ACTIVE_STATUSES:
            raise errors.Conflict(
                MSG_CREATE_RUNNING, code="request_already_running", extra={"rq_id": request.id}
            )


def task_data_upload_start(*, task: Task) -> None:
    """``Upload-Start``: begin a fresh set of uploads for the task."""
    _check_no_data(task)
    store = shared_store()
    store.delete_prefix(local_media_prefix(task.id))
    if store.is_local:  # an empty folder, as before the shared store
        local_media_root(task.id).mkdir(parents=True)


def _uploaded(prefix: str) -> dict[str, int]:
    """The files saved under ``prefix``: name → size."""
    return {key.removeprefix(prefix): size for key, size in shared_store().list(prefix)}


def _uploaded_names(prefix: str) -> list[str]:
    return sorted(_uploaded(prefix))


def _save_uploads(prefix: str, files: Sequence[UploadedFile]) -> list[str]:
    names = [os.path.basename(f.name or "") for f in files]
    for name in names:
        validate_relative_path(name)
    duplicates = {name for name, count in Counter(names).items() if count > 1}
    if duplicates:
        raise errors.BadRequest(MSG_DUPLICATE_UPLOAD.format(name=shown(min(duplicates))))
    limit = settings.MAX_UPLOAD_SIZE
    existing = _uploaded(prefix)
    if sum(existing.values()) + sum(f.size or 0 for f in files) > limit:
        raise errors.TooLarge(MSG_UPLOAD_TOO_LARGE.format(limit=limit))
    store = shared_store()
    for name, upload in zip(names, files, strict=True):
        if name in existing:
            raise errors.BadRequest(MSG_DUPLICATE_UPLOAD.format(name=shown(name)))
        store.put_chunks(prefix + name, upload.chunks(), upload.size)
    return names


def task_data_upload_files(*, task: Task, files: Sequence[UploadedFile]) -> int:
    """``Upload-Multiple``: save a batch of uploaded files. Returns how many."""
    _check_no_data(task)
    prefix = local_media_prefix(task.id)
    try:
        return len(_save_uploads(prefix, files))
    except BaseException:  # the upload is abandoned: keep nothing
        shared_store().delete_prefix(prefix)
        raise
