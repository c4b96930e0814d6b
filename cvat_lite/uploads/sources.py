"""What an upload endpoint hands to its handler: a local file or a cloud storage object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalFile:
    """A received file, owned by whoever got it: it is out of the uploads area, in
    ``DATA_DIR/imports/``, and its consumer (the import job) deletes it when done."""

    path: Path
    original_name: str  # sanitised, for messages only

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class StoredParts:
    """A finished TUS upload on an object store (``cvat_lite.uploads.parts``): its parts under
    ``prefix``, concatenated by its consumer (the import job, which deletes them when done)."""

    prefix: str
    original_name: str

    def discard(self) -> None:
        from cvat_lite.store import shared_store

        shared_store().delete_prefix(self.prefix)


@dataclass(frozen=True)
class CloudFile:
    """``?location=cloud_storage``: an object of a cloud storage the caller may see, not yet
    downloaded (the worker reads it)."""

    cloud_storage_id: int
    key: str


ReceivedFile = LocalFile | StoredParts
UploadSource = LocalFile | StoredParts | CloudFile
