"""Backup import requests (contract 6, 7.4): queueing an import, and fetching its archive.

``backup_import_submit`` takes what the upload machinery received (``LocalFile`` for multipart
and TUS, ``StoredParts`` for TUS on an object store, ``CloudFile`` for
``location=cloud_storage``), refuses a file that is not a ZIP at once (400), and submits an
``import:backup`` request with a unique id. A ``LocalFile`` is moved to the shared store's key
``scratch/<request id>/archive.zip`` (on the default store: a rename into the request's scratch
folder). In the worker, ``import_archive`` yields the archive as a local file: that one (on an
object store, downloaded into the worker's scratch folder; TUS parts concatenated there), or the
cloud object downloaded (streaming, within ``MAX_UPLOAD_SIZE``); it is deleted, with what the
store held, when the import ends, successfully or not, or when its worker is found dead.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from django.conf import settings
from django.contrib.auth import get_user_model

from cvat_lite import errors
from cvat_lite.backup.archive.reader import NOT_A_ZIP
from cvat_lite.backup.export import Progress
from cvat_lite.backup.restore import backup_restore_project, backup_restore_task
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.selectors import cloud_storage_for
from cvat_lite.requests.jobs import RequestResult
from cvat_lite.requests.models import Request, RequestAction
from cvat_lite.requests.scratch import (
    current_request_id,
    current_scratch_dir,
    scratch_key,
    scratch_remove,
)
from cvat_lite.requests.services import RequestSpec, new_request_id, request_submit
from cvat_lite.store import shared_store
from cvat_lite.uploads.parts import UPLOADS_PREFIX
from cvat_lite.uploads.services import IMPORTS_DIRNAME, upload_size_check
from cvat_lite.uploads.sources import CloudFile, LocalFile, StoredParts, UploadSource

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TARGETS = ("task", "project")
ZIP_MAGIC = b"PK"
ARCHIVE_NAME = "archive.zip"

MSG_NOT_AN_UPLOAD = "The archive to import is not a file received by this server."
MSG_USER_GONE = "The user who asked for this import no longer exists."


def backup_import_submit(*, owner: User, target: str, source: UploadSource) -> Request:
    """Queue the import of a ``target`` ("task" | "project") backup from ``source``. A local
    file that does not start like a ZIP is refused now (the caller deletes it); an accepted
    one moves into the request's scratch folder (removed with it, even if a worker dies)."""
    assert target in TARGETS
    rq_id = new_request_id(RequestAction.IMPORT, target, None, "backup")
    where: dict[str, Any]
    if isinstance(source, LocalFile):
        with open(source.path, "rb") as stream:
            if stream.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
                raise errors.ArchiveError(NOT_A_ZIP)
        key = f"{scratch_key(rq_id)}{ARCHIVE_NAME}"
        shared_store().put_file(key, source.path)
        where = {"stored": key, "name": source.original_name}
    elif isinstance(source, StoredParts):
        keys = _part_keys(source.prefix)
        if not keys or shared_store().read_head(keys[0], len(ZIP_MAGIC)) != ZIP_MAGIC:
            raise errors.ArchiveError(NOT_A_ZIP)
        where = {"parts": source.prefix, "name": source.original_name}
    else:
        where = {"cloud_storage_id": source.cloud_storage_id, "key": source.key}
    try:
        return request_submit(
            owner=owner,
            rq_id=rq_id,
            spec=RequestSpec(
                action=RequestAction.IMPORT,
                target=target,
                subresource="backup",
                func=import_backup,
                kwargs={"target": target, "user_id": owner.id, "source": where},
            ),
        )
    except BaseException:
        scratch_remove(rq_id)
        raise


# --- in the worker -----------------------------------------------------------------------------


def _imports_dir() -> Path:
    return Path(settings.DATA_DIR) / IMPORTS_DIRNAME


def _part_keys(prefix: str) -> list[str]:
    return sorted(key for key, _ in shared_store().list(prefix))


@contextlib.contextmanager
def import_archive(*, user: User | None, source: Mapping[str, Any]) -> Iterator[Path]:
    """The archive of an import request as a local file, deleted on exit. ``user`` is None
    when the requesting user was deleted meanwhile."""
    scratch = current_scratch_dir()
    if "stored" in source or "parts" in source:
        with _stored_archive(user, source, scratch or _imports_dir()) as path:
            yield path
        return
    if "path" in source:
        path = Path(source["path"])
        # Only the file submitted with this request (in its scratch folder; in the imports
        # folder for requests queued by an earlier version), never another path.
        folders = {folder.resolve() for folder in (scratch, _imports_dir()) if folder}
        if path.parent.resolve() not in folders:
            raise errors.BadRequest(MSG_NOT_AN_UPLOAD)
    else:
        path = (scratch or _imports_dir()) / f"{uuid.uuid4().hex}.zip"
    try:
        if user is None:
            raise errors.BadRequest(MSG_USER_GONE)
        if "path" not in source:
            _download(user, CloudFile(source["cloud_storage_id"], source["key"]), path)
        yield path
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _stored_archive(user: User | None, source: Mapping[str, Any], scratch: Path) -> Iterator[Path]:
    """An archive the web left in the shared store: only this request's own key, or the parts
    of a finished TUS upload; removed from the store when the import ends."""
    store = shared_store()
    request_id = current_request_id()
    if "stored" in source:
        key = str(source["stored"])
        if request_id is None or key != f"{scratch_key(request_id)}{ARCHIVE_NAME}":
            raise errors.BadRequest(MSG_NOT_AN_UPLOAD)
        try:
            if user is None:
                raise errors.BadRequest(MSG_USER_GONE)
            with store.staged(key, scratch) as path:
                yield path
        finally:
            store.delete(key)
        return
    prefix = str(source["parts"])
    if not prefix.startswith(UPLOADS_PREFIX) or prefix.count("/") != 2:
        raise errors.BadRequest(MSG_NOT_AN_UPLOAD)
    path = scratch / f"{uuid.uuid4().hex}.zip"
    try:
        if user is None:
            raise errors.BadRequest(MSG_USER_GONE)
        scratch.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as out:
            for key in _part_keys(prefix):
                store.fetch_to(key, out)
        yield path
    finally:
        path.unlink(missing_ok=True)
        store.delete_prefix(prefix)


class _Limited:
    """A write-only stream that refuses more than ``MAX_UPLOAD_SIZE`` bytes (a cloud object
    can grow between ``head`` and the download)."""

    def __init__(self, stream: BinaryIO):
        self.stream, self.written = stream, 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        upload_size_check(size=self.written)
        return self.stream.write(data)

    def tell(self) -> int:
        return self.written

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def _download(user: User, source: CloudFile, path: Path) -> None:
    storage = cloud_storage_for(user, source.cloud_storage_id)
    provider = provider_for(storage)
    upload_size_check(size=provider.head(source.key).size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as out:
        provider.download_to(source.key, _Limited(out))  # type: ignore[arg-type]


# --- the request's job (run by ``cvat_lite.requests.jobs.run_request``) ------------------------


def import_backup(*, progress: Progress, target: str, user_id: int, source: dict) -> RequestResult:
    """The ``import:backup`` request: restore a task or project backup from an uploaded file
    (``{"path", "name"}``) or a cloud storage object (``{"cloud_storage_id", "key"}``); the
    archive file is deleted when the import ends, successfully or not."""
    restore = backup_restore_task if target == "task" else backup_restore_project
    user = get_user_model().objects.filter(pk=user_id).first()
    with import_archive(user=user, source=source) as path:  # refuses a user that is gone
        outcome = restore(owner=cast("User", user), archive_path=path, progress=progress)
    return RequestResult(result_id=outcome.id, message=outcome.message)
