"""The shared store in a bucket, for nodes that share no disk: S3, Azure Blob or GCS through
the project's own provider classes (``cvat_lite.cloud``), so the store gets their outbound
guard, timeouts, retries and error translation. Keys live under the URL's prefix."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from cvat_lite import errors
from cvat_lite.cloud.base import CloudProvider
from cvat_lite.store.base import READ_CHUNK, SharedStore, check_key


class ObjectStore(SharedStore):
    is_local = False

    def __init__(self, provider: CloudProvider, prefix: str = ""):
        self.provider = provider
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def object_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    @contextlib.contextmanager
    def _missing(self, key: str) -> Iterator[None]:
        try:
            yield
        except errors.CloudObjectNotFound:
            raise FileNotFoundError(key) from None

    def put_file(self, key: str, path: Path, *, replace: bool = True) -> None:
        # the conditional write is the guarantee; the check first covers stores that ignore it
        if not replace and self.size(key) is not None:
            raise FileExistsError(key)
        with open(path, "rb") as stream:
            try:
                self.provider.upload(
                    self.object_key(key), stream, path.stat().st_size, overwrite=replace
                )
            except errors.CloudObjectExists:
                raise FileExistsError(key) from None
        path.unlink()

    def put_stream(self, key: str, stream: IO[bytes], size: int | None = None) -> None:
        self.provider.upload(self.object_key(key), stream, size)

    def put_chunks(self, key: str, chunks: Iterable[bytes], size: int | None = None) -> None:
        # spooled first: the SDKs want a seekable stream (Azure signs its length, GCS rewinds)
        with tempfile.SpooledTemporaryFile(max_size=READ_CHUNK) as spool:
            for chunk in chunks:
                spool.write(chunk)
            written = spool.tell()
            spool.seek(0)
            self.provider.upload(self.object_key(key), spool, written)  # type: ignore[arg-type]

    def put_tree(self, prefix: str, folder: Path) -> None:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.put_file(prefix + path.relative_to(folder).as_posix(), path)
        shutil.rmtree(folder, ignore_errors=True)

    def size(self, key: str) -> int | None:
        try:
            return self.provider.head(self.object_key(key)).size
        except errors.CloudObjectNotFound:
            return None

    def iter_chunks(self, key: str, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        full = self.object_key(key)
        with self._missing(key):
            total = self.provider.head(full).size
        start = 0
        while start < total:
            with self._missing(key):
                chunk = self.provider.download_range(full, start, min(chunk_size, total - start))
            if not chunk:
                return
            yield chunk
            start += len(chunk)

    def read_head(self, key: str, length: int) -> bytes:
        with self._missing(key):
            size = self.provider.head(self.object_key(key)).size
            if size == 0:
                return b""
            return self.provider.download_range(self.object_key(key), 0, min(length, size))

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        for info in self.provider.iter_objects(self.object_key(prefix)):
            yield info.key[len(self.prefix) :], info.size

    def delete(self, key: str) -> None:
        self.provider.delete(self.object_key(key))

    def delete_prefix(self, prefix: str) -> None:
        for key, _ in list(self.list(prefix)):
            self.delete(key)

    @contextlib.contextmanager
    def staged(self, key: str, scratch: Path) -> Iterator[Path]:
        scratch.mkdir(parents=True, exist_ok=True)
        path = scratch / f"staged-{uuid.uuid4().hex}{Path(key).suffix}"
        try:
            with open(path, "xb") as out, self._missing(key):
                self.provider.download_to(self.object_key(key), out)
            yield path
        finally:
            path.unlink(missing_ok=True)
