"""The shared store: where a request leaves files for another process (contract 1).

One interface, two backends: ``LocalStore`` (a folder, the data directory: a key is a path
under it, so a single node keeps its files where they always were and nothing is copied) and
``ObjectStore`` (a bucket of one of the cloud providers, for nodes that share no disk). Keys are
relative POSIX paths (``exports/<name>.zip``, ``uploads/<id>/…``, ``scratch/<request id>/…``,
``tasks/<id>/raw/…``). A missing key is ``FileNotFoundError`` on both backends.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

READ_CHUNK = 8 * 1024 * 1024


def check_key(key: str) -> str:
    """``key`` if it is a relative path without empty, ``.`` or ``..`` segments."""
    parts = key.rstrip("/").split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a store key: {key!r}")
    return key


class SharedStore(abc.ABC):
    """Files shared between the web and the workers, by key."""

    is_local: bool

    @abc.abstractmethod
    def put_file(self, key: str, path: Path, *, replace: bool = True) -> None:
        """Move the local file ``path`` to ``key`` (``path`` is gone afterwards). With
        ``replace=False`` an existing ``key`` raises ``FileExistsError`` and is kept."""

    @abc.abstractmethod
    def put_stream(self, key: str, stream: IO[bytes], size: int | None = None) -> None:
        """Write ``stream`` (to its end) to ``key``, replacing it."""

    @abc.abstractmethod
    def put_chunks(self, key: str, chunks: Iterable[bytes], size: int | None = None) -> None:
        """Write the concatenated ``chunks`` (``size`` bytes, when known) to ``key``,
        replacing it."""

    @abc.abstractmethod
    def put_tree(self, prefix: str, folder: Path) -> None:
        """Move every file under ``folder`` to ``prefix`` + its relative path."""

    @abc.abstractmethod
    def size(self, key: str) -> int | None:
        """The size of ``key``, None when it does not exist."""

    @abc.abstractmethod
    def iter_chunks(self, key: str, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """The bytes of ``key``, streamed in pieces of at most ``chunk_size``."""

    @abc.abstractmethod
    def read_head(self, key: str, length: int) -> bytes:
        """The first ``length`` bytes of ``key`` (fewer when it is shorter)."""

    @abc.abstractmethod
    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        """``(key, size)`` of every file under ``prefix`` (ending with "/"), in no order."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; a missing one is not an error."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove everything under ``prefix`` (ending with "/")."""

    @abc.abstractmethod
    def staged(self, key: str, scratch: Path) -> contextlib.AbstractContextManager[Path]:
        """``key`` as a local file for the block: the file itself on a local store, else a
        copy downloaded into ``scratch`` and removed on exit."""

    def fetch_to(self, key: str, stream: IO[bytes]) -> int:
        """Append the bytes of ``key`` to ``stream``; returns how many."""
        written = 0
        for chunk in self.iter_chunks(key):
            stream.write(chunk)
            written += len(chunk)
        return written
