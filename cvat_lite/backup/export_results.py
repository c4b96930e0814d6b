"""Export result files: writing them atomically, finding them for a download, and removing
them once they expire (``CVAT_LITE_EXPORT_TTL``).

A result is written to ``.partial-<uuid>.zip`` in the request's scratch folder
(``DATA_DIR/exports/`` outside a request) and moved to the shared store's key
``exports/<uuid>.zip`` only when complete (on the default store, ``DATA_DIR``, a rename), so a
failed or killed export never leaves a downloadable file; partial files are removed on failure,
with the scratch folder of a request whose worker died, and by ``exports_cleanup`` when old
(run by the scheduled housekeeping, ``backup/housekeeping.py``, and by each new export).
A request's ``result_file`` is that key (an absolute path on rows written before the store).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import unquote

from django.conf import settings
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.engine.choices import Location
from cvat_lite.requests.models import Request, RequestAction, RequestStatus
from cvat_lite.requests.scratch import current_scratch_dir
from cvat_lite.requests.selectors import requests_visible
from cvat_lite.requests.services import ACTIVE_STATUSES
from cvat_lite.store import result_key, shared_store

if TYPE_CHECKING:
    from django.contrib.auth.models import User

EXPORTS_DIR = "exports"
PARTIAL_PREFIX = ".partial-"
SUFFIX = ".zip"
MAX_NAME_ATTEMPTS = 3

MSG_RESULT_NOT_FOUND = "There is no backup export {rq_id} of this {target}."
MSG_NOT_FINISHED = "The backup export {rq_id} is not finished yet (status: {status})."
MSG_FAILED = "The backup export {rq_id} failed: there is nothing to download."
MSG_EXPIRED = "The result of the backup export {rq_id} has expired. Export the backup again."
MSG_IN_CLOUD = (
    "The backup export {rq_id} was uploaded to a cloud storage: there is nothing to download."
)


def exports_dir() -> Path:
    return Path(settings.DATA_DIR) / EXPORTS_DIR


@contextlib.contextmanager
def partial_result() -> Iterator[tuple[IO[bytes], Path]]:
    """A new partial result file, open for writing; removed if the block fails. In a request
    it is in the request's scratch folder (removed if its worker dies)."""
    folder = current_scratch_dir() or exports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}{SUFFIX}"
    try:
        with path.open("xb") as stream:
            yield stream, path
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def result_commit(partial: Path) -> str:
    """Give a complete partial file its final key ``exports/<name>.zip`` in the shared store,
    never replacing one there; a taken name gets a new random one. Returns the key."""
    name = partial.name.removeprefix(PARTIAL_PREFIX)
    for _ in range(MAX_NAME_ATTEMPTS):
        key = f"{EXPORTS_DIR}/{name}"
        try:
            shared_store().put_file(key, partial, replace=False)
            return key
        except FileExistsError:
            name = f"{uuid.uuid4().hex}{SUFFIX}"
    raise FileExistsError(name)


def _stale_age() -> int:
    """No export runs longer than its queue's job timeout: older partial files are dead."""
    return int(settings.RQ_QUEUES.get("export", {}).get("DEFAULT_TIMEOUT", 24 * 3600))


def exports_cleanup(*, now: datetime | None = None) -> int:
    """Remove expired result files (and forget them on their requests), and partial or
    orphaned files older than the longest export. Returns how many files were removed."""
    now = now or timezone.now()
    removed = 0
    store = shared_store()
    expired = Request.objects.filter(expiry_date__lte=now).exclude(result_file="")
    for pk, result_file in expired.values_list("pk", "result_file"):
        with contextlib.suppress(ValueError):
            key = result_key(result_file)
            if store.size(key) is not None:
                store.delete(key)
                removed += 1
        Request.objects.filter(pk=pk, result_file=result_file).update(result_file="")
    if store.is_local:
        return removed + _local_orphans_remove(now)
    return removed


def _local_orphans_remove(now: datetime) -> int:
    """Partial files of ``DATA_DIR/exports`` (written outside a request) and results no request
    names, older than the longest export. On an object store results appear only complete and
    named by their request at once, and partial files stay in a worker's scratch folder."""
    removed = 0
    folder = exports_dir()
    if not folder.is_dir():
        return removed
    horizon = now.timestamp() - _stale_age()
    referenced = set()
    for result_file in Request.objects.exclude(result_file="").values_list(
        "result_file", flat=True
    ):
        with contextlib.suppress(ValueError):
            referenced.add(os.path.realpath(Path(settings.DATA_DIR) / result_key(result_file)))
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime >= horizon:
                continue
            if os.path.realpath(entry.path) not in referenced:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


@dataclass(frozen=True)
class ExportResult:
    """A downloadable result: its key in the shared store, size and download name."""

    key: str
    size: int
    filename: str


def export_request_get(*, user: User, target: str, target_id: int, rq_id: str) -> Request:
    """The backup export request ``rq_id`` of ``target`` ``target_id`` that ``user`` may see
    (NotFound otherwise). Only reads: the caller reads it as it is now
    (``requests.selectors.request_effective``)."""
    rq_id = unquote(rq_id)
    request = (
        requests_visible(user)
        .filter(
            pk=rq_id,
            action=RequestAction.EXPORT,
            subresource="backup",
            target=target,
            target_id=target_id,
        )
        .first()
    )
    if request is None:
        raise errors.NotFound(
            MSG_RESULT_NOT_FOUND.format(rq_id=rq_id, target=target), code="export_not_found"
        )
    return request


def export_result_file(request: Request) -> ExportResult:
    """The result of a backup export request (as ``request_effective`` reads it): Conflict
    while it is not finished or when it failed, NotFound when its result is elsewhere or
    gone."""
    rq_id = request.id
    if request.status in ACTIVE_STATUSES:
        raise errors.Conflict(
            MSG_NOT_FINISHED.format(rq_id=rq_id, status=request.status),
            code="export_not_finished",
            extra={"rq_id": rq_id, "status": request.status},
        )
    if request.status == RequestStatus.FAILED:
        raise errors.Conflict(MSG_FAILED.format(rq_id=rq_id), code="export_failed")
    if request.params.get("location") == Location.CLOUD_STORAGE:
        raise errors.NotFound(MSG_IN_CLOUD.format(rq_id=rq_id), code="export_in_cloud_storage")
    key, size = "", None
    if request.result_file:
        with contextlib.suppress(ValueError):
            key = result_key(request.result_file)
            size = shared_store().size(key)
    expired = request.expiry_date is not None and request.expiry_date <= timezone.now()
    if size is None or expired:
        raise errors.NotFound(MSG_EXPIRED.format(rq_id=rq_id), code="export_expired")
    return ExportResult(key, size, request.result_filename)
