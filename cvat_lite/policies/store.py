"""Where a policy's archives are: ``DATA_DIR/backups/<prefix>/`` or ``<prefix>/`` in a cloud
storage. Writing never replaces anything (local: exclusive create; cloud: a key checked
absent); deleting touches exactly one recorded name, never a listing.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

from cvat_lite import errors
from cvat_lite.backup.archive import ArchiveWriter
from cvat_lite.backup.export import Progress, backup_write_project, backup_write_task
from cvat_lite.backup.export_results import partial_result
from cvat_lite.backup.naming import ArchiveName, archive_name
from cvat_lite.cloud.base import Status
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.models import CloudStorage, Project, Task
from cvat_lite.policies.models import BackupPolicy, Location

BACKUPS_DIR = "backups"
CHUNK = 1024 * 1024
MAX_COUNTER = 999

MSG_STORAGE_GONE = "The policy's cloud storage was deleted: there is nowhere to write."
MSG_NO_FREE_NAME = "Every name for this archive is taken at the destination."
MSG_SIZE_MISMATCH = "The archive at the destination has {found} bytes, {expected} were written."


@dataclass(frozen=True)
class Written:
    name: str
    key: str  # object key, or the path relative to DATA_DIR/backups
    bytes: int
    sha256: str


def backups_dir() -> Path:
    return Path(settings.DATA_DIR) / BACKUPS_DIR


def clean_prefix(prefix: str) -> str:
    """The prefix as ``a/b`` (no leading/trailing slash, no ``.``/``..`` segments, no empty
    segment); BadRequest otherwise."""
    parts = prefix.strip().strip("/").split("/")
    if parts == [""]:
        return ""
    if any(part in ("", ".", "..") or "\\" in part or "\x00" in part for part in parts):
        raise errors.BadRequest(
            "The prefix must be a relative path without '.' or '..' segments.",
            code="invalid_prefix",
        )
    return "/".join(parts)


def storage_of(storage_id: int | None) -> CloudStorage | None:
    return None if storage_id is None else CloudStorage.objects.filter(pk=storage_id).first()


def _storage(policy: BackupPolicy) -> CloudStorage:
    storage = storage_of(policy.cloud_storage_id)
    if storage is None:
        raise errors.BadRequest(MSG_STORAGE_GONE, code="cloud_storage_gone")
    return storage


def _key(prefix: str, name: str) -> str:
    return posixpath.join(prefix, name) if prefix else name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def archive_write(
    *,
    policy: BackupPolicy,
    obj: Task | Project,
    lightweight: bool,
    now: datetime,
    progress: Progress,
) -> Written:
    """Write the backup of ``obj`` to the policy's destination under a new unique name."""
    kind = "task" if isinstance(obj, Task) else "project"
    base = archive_name(kind=kind, id=obj.id, name=obj.name, lightweight=lightweight, now=now)
    with partial_result() as (stream, partial), ArchiveWriter(stream) as writer:
        if isinstance(obj, Task):
            backup_write_task(task=obj, lightweight=lightweight, writer=writer, progress=progress)
        else:
            backup_write_project(
                project=obj, lightweight=lightweight, writer=writer, progress=progress
            )
    try:
        size, sha = partial.stat().st_size, _sha256(partial)
        prefix = clean_prefix(policy.prefix)
        if policy.location == Location.LOCAL:
            return _write_local(prefix, base, partial, size, sha)
        return _write_cloud(_storage(policy), prefix, base, partial, size, sha)
    finally:
        partial.unlink(missing_ok=True)


def _write_local(prefix: str, base: ArchiveName, partial: Path, size: int, sha: str) -> Written:
    folder = backups_dir() / prefix
    folder.mkdir(parents=True, exist_ok=True)
    for counter in range(1, MAX_COUNTER + 1):
        name = str(base.with_counter(counter))
        try:
            target = (folder / name).open("xb")
        except FileExistsError:
            continue
        with target, partial.open("rb") as source:
            shutil.copyfileobj(source, target, CHUNK)
            target.flush()
            os.fsync(target.fileno())
        found = (folder / name).stat().st_size
        if found != size:
            raise errors.CvatLiteError(MSG_SIZE_MISMATCH.format(found=found, expected=size))
        if _sha256(folder / name) != sha:
            raise errors.CvatLiteError("The archive read back differs from what was written.")
        return Written(name, _key(prefix, name), size, sha)
    raise errors.Conflict(MSG_NO_FREE_NAME, code="no_free_name")


def _write_cloud(
    storage: CloudStorage, prefix: str, base: ArchiveName, partial: Path, size: int, sha: str
) -> Written:
    provider = provider_for(storage)
    for counter in range(1, MAX_COUNTER + 1):
        name = str(base.with_counter(counter))
        key = _key(prefix, name)
        if provider.object_status(key) != Status.NOT_FOUND:
            continue
        with partial.open("rb") as source:
            provider.upload(key, source, size)
        found = provider.head(key).size
        if found != size:
            raise errors.CvatLiteError(MSG_SIZE_MISMATCH.format(found=found, expected=size))
        return Written(name, key, size, sha)
    raise errors.Conflict(MSG_NO_FREE_NAME, code="no_free_name")


def archive_exists(*, policy: BackupPolicy, location: str, key: str) -> bool:
    if location == Location.LOCAL:
        return (backups_dir() / key).is_file()
    storage = storage_of(policy.cloud_storage_id)
    if storage is None:
        return False
    return provider_for(storage).object_status(key) == Status.AVAILABLE


def archive_delete(
    *, policy: BackupPolicy, location: str, cloud_storage_id: int | None, key: str
) -> None:
    """Delete exactly ``key`` (a missing one is not an error)."""
    if location == Location.LOCAL:
        (backups_dir() / key).unlink(missing_ok=True)
        return
    storage = storage_of(cloud_storage_id)
    if storage is None:
        raise errors.BadRequest(MSG_STORAGE_GONE, code="cloud_storage_gone")
    provider_for(storage).delete(key)
