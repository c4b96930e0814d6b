"""Writing one backup archive to a destination and reading it back: ``backup_archive_write``.

Used by ``cvat-lite backup export`` and by backup policies. One archive per task or project,
named by ``naming`` (kind, id, safe name, mode, UTC second, counter), placed by
``destinations`` (never replacing a file or an object), then **read back**:

- in a local directory: the file's size and sha256 (read from disk) must be those written, and
  the archive must open with the restore's limits with every member matching its line in
  ``checksums.sha256`` (``ArchiveReader.verify_checksums``) and those lines being the ones the
  writer computed;
- in a cloud storage: the object's size (``head``) must be the size written, and its content
  MD5 when the provider reports one (S3 single-part ETag, Azure Content-MD5, GCS md5Hash); an
  archive up to ``settings.BACKUP_READBACK_DOWNLOAD_MAX`` bytes (lightweight ones, typically) is
  also downloaded again and its sha256 compared. Bigger ones are not: downloading every full
  backup again would double the traffic of each run. ``BackupRecord.read_back`` says which
  checks were made.

Any difference makes the record ``failed`` (the archive stays where it is, under its name, for
inspection; it is never reported as a backup). Failures of the export itself (a task without
data, a bucket gone) are ``failed`` records too: one item's failure does not stop a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.backup.archive import CHECKSUMS_NAME, ArchiveReader, ArchiveWriter
from cvat_lite.backup.destinations import (
    CloudStorageDestination,
    Destination,
    LocalDirectory,
    cloud_place,
    local_directory_prepare,
    local_partial,
    local_place,
)
from cvat_lite.backup.export import (
    Progress,
    backup_write_project,
    backup_write_task,
    project_tasks,
    task_lightweight_in_project,
)
from cvat_lite.backup.export_results import partial_result
from cvat_lite.backup.naming import MODES as ARCHIVE_MODES
from cvat_lite.backup.naming import ArchiveMode, archive_name
from cvat_lite.backup.restore import restore_limits
from cvat_lite.cloud.base import CloudProvider
from cvat_lite.engine.cloud import provider_for, storage_prefix
from cvat_lite.engine.models import CloudStorage, Project, Task

KINDS = ("task", "project")
MODES = (*ARCHIVE_MODES, "auto")  # auto: lightweight whenever possible
STATUS_OK = "ok"
STATUS_FAILED = "failed"
CHUNK = 1024 * 1024

MSG_NOT_FOUND = "{kind} #{id} does not exist."
MSG_STORAGE_NOT_FOUND = "Cloud storage #{id} does not exist."
MSG_SIZE = "Read back {actual} bytes at {where}, {expected} were written."
MSG_SHA256 = "The sha256 of {where} read back is not the sha256 written."
MSG_MD5 = "The storage reports an MD5 for {where} that is not the MD5 written."
MSG_MEMBERS = "checksums.sha256 of {where} read back is not the one written."
MSG_UNREADABLE = "{where} cannot be read back: {why}"
MSG_INTERNAL = "Internal error ({error}): see the server log."

logger = logging.getLogger("cvat_lite.backup")


class ReadBackFailed(errors.CvatLiteError):
    """What is at the destination is not what was written."""

    status = 502
    code = "backup_read_back_failed"
    default_message = "The backup read back is not the backup written."


@dataclass
class BackupRecord:
    """One archive written (or not) by ``backup_archive_write``: what the run report lists."""

    id: int
    kind: str  # "task" | "project"
    mode: str  # "full" | "lightweight" (as written; "auto" resolved), the requested one if failed
    destination: str  # the directory, or "cloud_storage:<id>[/<prefix>]"
    name: str = ""  # the archive's name (file name, last segment of the key)
    location: str = ""  # the file's path, or the object's key
    bytes: int | None = None
    sha256: str | None = None
    duration: float = 0.0
    status: str = STATUS_FAILED
    error: str | None = None
    read_back: str = ""  # the checks made after writing, e.g. "size,sha256,checksums.sha256"

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Written:
    """What was sent: counted and hashed as the archive was written."""

    bytes: int
    sha256: str
    md5: str
    members: dict[str, str]  # member → sha256, the lines of checksums.sha256


class _Tee:
    """A write-only stream that hashes and counts what goes through it."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.count = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.md5.update(data)
        self.count += len(data)
        self._stream.write(data)
        return len(data)

    def flush(self) -> None:
        self._stream.flush()


def _silent(fraction: float, *, force: bool = False) -> None:
    return None


# --- the service -------------------------------------------------------------------------------


def resolve_lightweight(obj: Task | Project, mode: str) -> bool:
    """``mode`` for ``obj``: "auto" is lightweight for a cloud task; for a project "auto" and
    "lightweight" mean "lightweight whenever possible" (cloud tasks lightweight, the others
    full), and the archive is called lightweight only when one of its tasks is. "lightweight"
    of a task that is not in a cloud storage is refused by the export's checks."""
    if mode == ArchiveMode.FULL:
        return False
    if isinstance(obj, Project):
        return any(task_lightweight_in_project(t, True) for t in project_tasks(obj))
    if mode == "auto":
        return task_lightweight_in_project(obj, True)
    return True


def backup_archive_write(
    *,
    kind: str,
    id: int,
    mode: str,
    destination: Destination,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> BackupRecord:
    """Write the backup of ``kind`` ``id`` to ``destination`` under a new name, read it back,
    and return what happened (see the module docstring). Never raises for one item's failure."""
    assert kind in KINDS and mode in MODES, (kind, mode)
    started = time.monotonic()
    record = BackupRecord(id=id, kind=kind, mode=mode, destination=str(destination))
    try:
        obj = _load(kind, id)
        lightweight = resolve_lightweight(obj, mode)
        record.mode = ArchiveMode.of(lightweight).value
        name = archive_name(
            kind=kind, id=id, name=obj.name, lightweight=lightweight, now=now or timezone.now()
        )
        write = _to_directory if isinstance(destination, LocalDirectory) else _to_cloud
        write(record, obj, lightweight, destination, name, progress or _silent)  # type: ignore[arg-type]
        record.status, record.error = STATUS_OK, None
    except errors.CvatLiteError as exc:
        record.status, record.error = STATUS_FAILED, exc.message
    except OSError as exc:  # the local disk: full, read-only, permissions
        record.status, record.error = STATUS_FAILED, f"{exc.strerror or exc} ({exc.filename})"
    except Exception as exc:  # a bug: logged, and this item fails, not the whole run
        logger.exception("Backup of %s %s failed with an internal error", kind, id)
        record.status, record.error = STATUS_FAILED, MSG_INTERNAL.format(error=type(exc).__name__)
    finally:
        record.duration = round(time.monotonic() - started, 3)
    return record


def _load(kind: str, id: int) -> Task | Project:
    model = Task if kind == "task" else Project
    related = ("data", "data__cloud_storage", "project") if model is Task else ()
    obj = model.objects.select_related(*related).filter(pk=id).first()
    if obj is None:
        message = MSG_NOT_FOUND.format(kind=kind.capitalize(), id=id)
        raise errors.NotFound(message, code=f"{kind}_not_found")
    return obj


def archive_write(
    stream: IO[bytes], *, obj: Task | Project, lightweight: bool, progress: Progress
) -> Written:
    """Write ``obj``'s backup archive to ``stream``, counting and hashing it."""
    tee = _Tee(stream)
    with ArchiveWriter(tee) as writer:  # type: ignore[arg-type]
        if isinstance(obj, Task):
            backup_write_task(task=obj, lightweight=lightweight, writer=writer, progress=progress)
        else:
            backup_write_project(
                project=obj, lightweight=lightweight, writer=writer, progress=progress
            )
    members = {name: digest for name, digest in writer.checksums if name != CHECKSUMS_NAME}
    return Written(tee.count, tee.sha256.hexdigest(), tee.md5.hexdigest(), members)


def _to_directory(
    record: BackupRecord,
    obj: Task | Project,
    lightweight: bool,
    destination: LocalDirectory,
    name: Any,
    progress: Progress,
) -> None:
    local_directory_prepare(destination.path)
    with local_partial(destination.path) as (stream, partial):
        written = archive_write(stream, obj=obj, lightweight=lightweight, progress=progress)
    final = local_place(partial, name)
    record.name, record.location = final.name, str(final)
    record.bytes, record.sha256 = written.bytes, written.sha256
    record.read_back = read_back_file(final, written)


def _to_cloud(
    record: BackupRecord,
    obj: Task | Project,
    lightweight: bool,
    destination: CloudStorageDestination,
    name: Any,
    progress: Progress,
) -> None:
    storage = CloudStorage.objects.filter(pk=destination.storage_id).first()
    if storage is None:
        raise errors.NotFound(MSG_STORAGE_NOT_FOUND.format(id=destination.storage_id))
    provider = provider_for(storage)
    prefix = storage_prefix(storage) if destination.prefix is None else destination.prefix
    with partial_result() as (stream, partial):
        try:
            written = archive_write(stream, obj=obj, lightweight=lightweight, progress=progress)
            stream.flush()
            key = cloud_place(provider, prefix, name, partial)
        finally:
            partial.unlink(missing_ok=True)
    record.name, record.location = key.rsplit("/", 1)[-1], key
    record.bytes, record.sha256 = written.bytes, written.sha256
    record.read_back = read_back_object(provider, key, written)


# --- reading back ------------------------------------------------------------------------------


def read_back_file(path: Path, written: Written) -> str:
    """Check the file at ``path`` against ``written``; returns the checks made."""
    where = str(path)
    size = path.stat().st_size
    if size != written.bytes:
        raise ReadBackFailed(MSG_SIZE.format(actual=size, where=where, expected=written.bytes))
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        _drop_cached_pages(stream.fileno())
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    if digest.hexdigest() != written.sha256:
        raise ReadBackFailed(MSG_SHA256.format(where=where))
    try:
        with ArchiveReader(path, limits=restore_limits()) as reader:
            if reader.checksums != written.members:
                raise ReadBackFailed(MSG_MEMBERS.format(where=where))
            reader.verify_checksums()
    except errors.ArchiveError as exc:
        raise ReadBackFailed(MSG_UNREADABLE.format(where=where, why=exc.message)) from None
    return "size,sha256,checksums.sha256"


def _drop_cached_pages(fd: int) -> None:
    """Ask the kernel to forget the file's cached pages (they are clean: the file was synced),
    so that reading it back reads the storage, not the memory the writer filled. Advisory:
    where it is not supported the read may come from the cache."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        with contextlib.suppress(OSError):
            advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def read_back_object(provider: CloudProvider, key: str, written: Written) -> str:
    """Check the object at ``key`` against ``written``; returns the checks made."""
    info = provider.head(key)
    if info.size != written.bytes:
        raise ReadBackFailed(MSG_SIZE.format(actual=info.size, where=key, expected=written.bytes))
    checks = ["size"]
    if info.md5 is not None:
        if info.md5 != written.md5:
            raise ReadBackFailed(MSG_MD5.format(where=key))
        checks.append("md5")
    if written.bytes <= settings.BACKUP_READBACK_DOWNLOAD_MAX:
        digest = hashlib.sha256()
        with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as spool:
            provider.download_to(key, spool)  # type: ignore[arg-type]
            spool.seek(0)
            for chunk in iter(lambda: spool.read(CHUNK), b""):
                digest.update(chunk)
        if digest.hexdigest() != written.sha256:
            raise ReadBackFailed(MSG_SHA256.format(where=key))
        checks.append("sha256")
    return ",".join(checks)
