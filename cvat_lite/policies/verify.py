""" "Verify after writing": the archive is read back from its destination and checked.

The copy at the destination (downloaded for a cloud storage) must have the recorded size and
SHA-256, open as a backup archive within the reading limits, and every member must match
``checksums.sha256``. Nothing is restored or written.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from cvat_lite.backup.verify import backup_archive_verify
from cvat_lite.engine.choices import Location
from cvat_lite.engine.cloud import provider_for
from cvat_lite.policies import store
from cvat_lite.policies.models import BackupPolicy, PolicyArchive

MSG_SIZE = "the copy has {found} bytes, {expected} were written"
MSG_SHA = "the copy's SHA-256 differs from the one of what was written"


def _check(path: Path, archive: PolicyArchive) -> str | None:
    size = path.stat().st_size
    if size != archive.bytes:
        return MSG_SIZE.format(found=size, expected=archive.bytes)
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(store.CHUNK), b""):
            digest.update(block)
    if digest.hexdigest() != archive.sha256:
        return MSG_SHA
    result = backup_archive_verify(path)
    return None if result.ok else "; ".join(result.problems)


def archive_verify(*, policy: BackupPolicy, archive: PolicyArchive) -> str | None:
    """None when the archive at its destination holds; else what is wrong."""
    if archive.location == Location.LOCAL:
        path = store.backups_dir() / archive.key
        if not path.is_file():
            return "the archive is missing"
        return _check(path, archive)
    storage = store.storage_of(archive.cloud_storage_id)
    if storage is None:
        return store.MSG_STORAGE_GONE
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "archive.zip"
        with path.open("wb") as stream:
            provider_for(storage).download_to(archive.key, stream)
        return _check(path, archive)
