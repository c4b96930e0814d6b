"""Where a policy's archives are: ``DATA_DIR/backups/<prefix>/`` or ``<prefix>/`` in a cloud
storage. Writing is ``backup.writing.backup_archive_write`` (a new unique name, never replacing
a file or an object, read back after writing); deleting touches exactly one recorded key, never
a listing.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

from cvat_lite import errors
from cvat_lite.backup.destinations import CloudStorageDestination, Destination, LocalDirectory
from cvat_lite.backup.export import Progress
from cvat_lite.backup.naming import ArchiveMode
from cvat_lite.backup.writing import backup_archive_write
from cvat_lite.cloud.base import Status
from cvat_lite.engine.choices import Location
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.models import CloudStorage
from cvat_lite.policies.models import BackupPolicy, PolicyArchive

BACKUPS_DIR = "backups"
CHUNK = 1024 * 1024

MSG_STORAGE_GONE = "The policy's cloud storage was deleted: there is nowhere to write."
MSG_NOT_WRITTEN = "The archive was not written."


@dataclass(frozen=True)
class Written:
    name: str
    key: str  # object key, or the path relative to DATA_DIR/backups
    bytes: int
    sha256: str
    read_back: str  # the checks made after writing
    mode: str  # "full" | "lightweight", as written (a project without cloud tasks: full)


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


def archive_write(
    *,
    policy: BackupPolicy,
    kind: str,
    obj_id: int,
    lightweight: bool,
    now: datetime,
    progress: Progress,
) -> Written:
    """Write the backup of ``kind`` ``obj_id`` to the policy's destination under a new unique
    name (``backup_archive_write``: never replaces anything, reads the archive back)."""
    prefix = clean_prefix(policy.prefix)
    destination: Destination
    if policy.location == Location.LOCAL:
        destination = LocalDirectory(backups_dir() / prefix)
    else:
        storage = _storage(policy)
        destination = CloudStorageDestination(storage.id, prefix)
    record = backup_archive_write(
        kind=kind,
        id=obj_id,
        mode=ArchiveMode.of(lightweight).value,
        destination=destination,
        progress=progress,
        now=now,
    )
    if not record.ok or record.bytes is None or record.sha256 is None:
        raise errors.CvatLiteError(record.error or MSG_NOT_WRITTEN, code="backup_failed")
    key = (
        posixpath.join(prefix, record.name)
        if policy.location == Location.LOCAL
        else (record.location)
    )
    return Written(record.name, key, record.bytes, record.sha256, record.read_back, record.mode)


def at_destination(*, policy: BackupPolicy, archive: PolicyArchive) -> bool:
    """Is ``archive`` where the policy writes now (same location, storage and prefix)?"""
    return (
        archive.location == policy.location
        and archive.cloud_storage_id == policy.cloud_storage_id
        and posixpath.dirname(archive.key) == clean_prefix(policy.prefix)
    )


def archive_exists(*, location: str, cloud_storage_id: int | None, key: str) -> bool:
    if location == Location.LOCAL:
        return (backups_dir() / key).is_file()
    storage = storage_of(cloud_storage_id)
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
