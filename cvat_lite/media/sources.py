"""Where a task's media files are read from: a bucket or a folder, by path.

``MediaSource`` is the interface: ``CloudSource`` reads a bucket through a cloud provider (an
``Image.path`` is the full object key), ``DirectorySource`` the files under a folder (a task's
upload folder or the share root; paths never escape it), ``StoredSource`` keys under a prefix of
the shared store's bucket (a ``local`` task's media on an object store). No model and no
Django: which source a task has is decided in ``cvat_lite.engine.frames``. A missing file is
``MediaNotFound`` (404); provider errors pass through (409 ``cloud_storage_unavailable``, 404
``cloud_object_not_found``).
"""

from __future__ import annotations

import abc
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

from cvat_lite import errors
from cvat_lite.cloud.base import CloudProvider, Status
from cvat_lite.cloud.evidence import Evidence
from cvat_lite.media.formats import is_image_key
from cvat_lite.media.paths import safe_join, shown

MSG_MEDIA_NOT_FOUND = "The media file {path} was not found."


class MediaNotFound(errors.NotFound):
    code = "media_not_found"


class MediaSource(abc.ABC):
    """Read access to the media files of one storage, by path (an ``Image.path``)."""

    @abc.abstractmethod
    def read(self, path: str) -> bytes: ...

    @abc.abstractmethod
    def read_head(self, path: str, length: int) -> bytes:
        """The first ``length`` bytes (fewer when the file is shorter)."""

    @abc.abstractmethod
    def iter_images(self, prefix: str) -> Iterator[tuple[str, Evidence | None]]:
        """``(path, what the storage said of it)`` of every image under the folder ``prefix``
        ("" or ending with "/"), in no particular order; the evidence is None for files."""

    @abc.abstractmethod
    def open(self, path: str) -> AbstractContextManager[IO[bytes]]:
        """A context manager yielding a readable binary stream of the file."""


class CloudSource(MediaSource):
    """A bucket. A missing object is told apart from a missing bucket (some providers answer
    both with a plain 404) by one status probe, made only when an object is not found."""

    def __init__(self, provider: CloudProvider):
        self.provider = provider

    @contextmanager
    def _object_errors(self) -> Iterator[None]:
        try:
            yield
        except errors.CloudObjectNotFound:
            if self.provider.status() != Status.AVAILABLE:
                raise errors.CloudStorageNotFound() from None
            raise

    def read(self, path: str) -> bytes:
        with self._object_errors():
            return self.provider.download(path)

    def read_head(self, path: str, length: int) -> bytes:
        with self._object_errors():
            return self.provider.download_range(path, 0, length)

    def iter_images(self, prefix: str) -> Iterator[tuple[str, Evidence | None]]:
        for info in self.provider.iter_objects(prefix):
            if is_image_key(info.key):
                yield info.key, Evidence.of(info)

    @contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024**2) as spool:
            with self._object_errors():
                self.provider.download_to(path, spool)  # type: ignore[arg-type]
            spool.seek(0)
            yield spool  # type: ignore[misc]


class DirectorySource(MediaSource):
    """Files under ``root``; paths go through ``safe_join`` (no escape, symlinks followed)."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, path: str) -> Path:
        try:
            return safe_join(self.root, path)
        except errors.BadRequest:
            raise MediaNotFound(MSG_MEDIA_NOT_FOUND.format(path=shown(path))) from None

    @contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        try:
            stream = self._path(path).open("rb")
        except OSError:  # missing, a directory, unreadable
            raise MediaNotFound(MSG_MEDIA_NOT_FOUND.format(path=shown(path))) from None
        with stream:
            yield stream

    def read(self, path: str) -> bytes:
        with self.open(path) as stream:
            return stream.read()

    def read_head(self, path: str, length: int) -> bytes:
        with self.open(path) as stream:
            return stream.read(length)

    def iter_images(self, prefix: str) -> Iterator[tuple[str, Evidence | None]]:
        base = self._path(prefix.rstrip("/")) if prefix else self.root.resolve()
        root = self.root.resolve()
        for folder, dirs, files in os.walk(base):
            dirs.sort()
            for name in sorted(files):
                full = Path(folder, name)
                if is_image_key(name) and full.resolve().is_relative_to(root):
                    yield full.relative_to(root).as_posix(), None


class StoredSource(CloudSource):
    """The media of a ``local`` task in an object store (``cvat_lite.store``): keys under
    ``prefix``; a missing one is the same 404 as a missing file on the default store."""

    def __init__(self, provider: CloudProvider, prefix: str):
        super().__init__(provider)
        self.prefix = prefix

    @contextmanager
    def _object_errors(self) -> Iterator[None]:
        try:
            yield
        except errors.CloudObjectNotFound as exc:
            key = exc.key.removeprefix(self.prefix)
            raise MediaNotFound(MSG_MEDIA_NOT_FOUND.format(path=shown(key))) from None

    def read(self, path: str) -> bytes:
        return super().read(self.prefix + path)

    def read_head(self, path: str, length: int) -> bytes:
        return super().read_head(self.prefix + path, length)

    def iter_images(self, prefix: str) -> Iterator[tuple[str, Evidence | None]]:
        for key, evidence in super().iter_images(self.prefix + prefix):
            yield key.removeprefix(self.prefix), evidence

    @contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        with super().open(self.prefix + path) as stream:
            yield stream
