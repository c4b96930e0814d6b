"""Where backup archives go, and the rule for putting them there: never replace anything.

- A **local directory**: the archive is written to a hidden partial file in that directory
  (``.partial-<uuid>.zip``, created exclusively), synced, then given its name with ``os.link``,
  which fails when the name exists: the next counter is tried. The partial name is removed
  afterwards. A file system without hard links (some network mounts) gets an exclusive create
  (``open(name, "xb")``) and a copy instead: same rule, but the name exists while the copy runs.
- A **cloud storage** (and an optional prefix): a key with no object yet (``object_status``
  first, the next counter when one is there), written with the provider's conditional put
  (``upload(overwrite=False)``), so that an object created in between is not replaced either:
  the next counter is tried. A key the caller chose (the API's ``filename``) has no counter:
  CloudObjectExists (409).

Reading the archive back after writing it is ``writing``'s job.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cvat_lite import errors
from cvat_lite.backup.naming import MAX_COUNTER, ArchiveName
from cvat_lite.cloud.base import CloudProvider, Status

PARTIAL_PREFIX = ".partial-"
MSG_NO_FREE_NAME = "Every name for {name} up to counter {limit} is taken."
MSG_NOT_A_DIRECTORY = "The backup destination {path} is not a directory."

# os.link failures that mean "this file system has no hard links", not "the name exists"
_NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK}


@dataclass(frozen=True)
class LocalDirectory:
    """A directory of this machine (created when missing)."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class CloudStorageDestination:
    """A cloud storage of this server; archives go under ``prefix`` ("" for the top, None for
    the storage's own ``prefix`` attribute)."""

    storage_id: int
    prefix: str | None = None

    def __str__(self) -> str:
        where = f"cloud_storage:{self.storage_id}"
        return f"{where}/{self.prefix.strip('/')}" if self.prefix else where


Destination = LocalDirectory | CloudStorageDestination


# --- local -------------------------------------------------------------------------------------


def local_directory_prepare(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if not directory.is_dir():
        raise errors.BadRequest(MSG_NOT_A_DIRECTORY.format(path=directory))


@contextlib.contextmanager
def local_partial(directory: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """A new partial file in ``directory``, open for writing; removed if the block fails."""
    path = directory / f"{PARTIAL_PREFIX}{uuid.uuid4().hex}.zip"
    try:
        with path.open("xb") as stream:
            yield stream, path
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def local_place(partial: Path, name: ArchiveName) -> Path:
    """Give the complete file ``partial`` the first free name among ``name``, ``name-2``,
    ... in its directory, without ever replacing a file; ``partial`` is gone afterwards."""
    directory = partial.parent
    try:
        for counter in range(name.counter, MAX_COUNTER + 1):
            final = directory / str(name.with_counter(counter))
            if _link_new(partial, final):
                _sync_directory(directory)
                return final
    finally:
        partial.unlink(missing_ok=True)
    raise errors.Conflict(
        MSG_NO_FREE_NAME.format(name=name, limit=MAX_COUNTER), code="no_free_archive_name"
    )


def local_place_exactly(partial: Path, final: Path) -> Path:
    """``partial`` under the name ``final`` (on the same disk), which must not exist yet:
    FileExistsError otherwise, and ``partial`` is kept."""
    if not _link_new(partial, final):
        raise FileExistsError(errno.EEXIST, "exists", str(final))
    partial.unlink(missing_ok=True)
    _sync_directory(final.parent)
    return final


def _link_new(partial: Path, final: Path) -> bool:
    """Create ``final`` with ``partial``'s content; False when ``final`` exists."""
    try:
        os.link(partial, final)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
    try:
        target = final.open("xb")
    except FileExistsError:
        return False
    try:
        with target, partial.open("rb") as source:
            shutil.copyfileobj(source, target, 1024 * 1024)
            target.flush()
            os.fsync(target.fileno())
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    return True


def _sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be synced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- cloud -------------------------------------------------------------------------------------


def cloud_key(prefix: str, name: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{name}" if prefix else name


def cloud_place(provider: CloudProvider, prefix: str, name: ArchiveName, source: Path) -> str:
    """Upload the file ``source`` under ``prefix`` as the first free name among ``name``,
    ``name-2``, ...; never replaces an object. Returns the key."""
    for counter in range(name.counter, MAX_COUNTER + 1):
        key = cloud_key(prefix, str(name.with_counter(counter)))
        if provider.object_status(key) == Status.AVAILABLE:
            continue
        try:
            _upload_new(provider, key, source)
        except errors.CloudObjectExists:
            continue  # created since we looked
        return key
    raise errors.Conflict(
        MSG_NO_FREE_NAME.format(name=name, limit=MAX_COUNTER), code="no_free_archive_name"
    )


def cloud_place_exactly(provider: CloudProvider, key: str, source: Path) -> str:
    """Upload ``source`` as ``key``, which must not exist (CloudObjectExists otherwise)."""
    if provider.object_status(key) == Status.AVAILABLE:
        raise errors.CloudObjectExists(key)
    _upload_new(provider, key, source)
    return key


def _upload_new(provider: CloudProvider, key: str, source: Path) -> None:
    with source.open("rb") as stream:
        provider.upload(key, stream, source.stat().st_size, overwrite=False)
