"""The shared store on a local folder (the data directory): the single-node default.

A key is the path under the root; a file is moved in with a rename (the caller's file is on the
same disk), so the default path makes no copy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from django.core.files.move import file_move_safe

from cvat_lite.store.base import READ_CHUNK, SharedStore, check_key


def _sync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStore(SharedStore):
    is_local = True

    def __init__(self, root: Path):
        self.root = root

    def path(self, key: str) -> Path:
        """Where ``key`` is on disk (it may not exist)."""
        return self.root / check_key(key)

    def put_file(self, key: str, path: Path, *, replace: bool = True) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if replace:
            file_move_safe(str(path), str(target), allow_overwrite=True)
            return
        try:  # a hard link fails when the name is taken: never replace
            os.link(path, target)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links
            with open(path, "rb") as source, open(target, "xb") as out:
                shutil.copyfileobj(source, out, READ_CHUNK)
        path.unlink()
        _sync_directory(target.parent)  # the new name survives a crash

    def put_stream(self, key: str, stream: IO[bytes], size: int | None = None) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            shutil.copyfileobj(stream, out, READ_CHUNK)

    def put_chunks(self, key: str, chunks: Iterable[bytes], size: int | None = None) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            for chunk in chunks:
                out.write(chunk)

    def put_tree(self, prefix: str, folder: Path) -> None:
        target = self.path(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(folder, target)

    def size(self, key: str) -> int | None:
        try:
            path = self.path(key)
            return path.stat().st_size if path.is_file() else None
        except FileNotFoundError:
            return None

    def iter_chunks(self, key: str, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        with open(self.path(key), "rb") as stream:
            while chunk := stream.read(chunk_size):
                yield chunk

    def read_head(self, key: str, length: int) -> bytes:
        with open(self.path(key), "rb") as stream:
            return stream.read(length)

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        base = self.path(prefix)
        if not base.is_dir():
            return
        for folder, _, files in os.walk(base):
            for name in files:
                full = Path(folder, name)
                with contextlib.suppress(FileNotFoundError):
                    yield full.relative_to(self.root).as_posix(), full.stat().st_size

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)

    @contextlib.contextmanager
    def staged(self, key: str, scratch: Path) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path
