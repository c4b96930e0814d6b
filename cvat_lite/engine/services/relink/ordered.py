"""Streams in byte order, so that a relink merges a task's rows with a bucket listing without
holding either (contract 7.5).

One order everywhere: the UTF-8 bytes of a key, which is the order of Python's ``str``
comparison (code points) — not a database's locale collation, where ``"a_b" < "aB"`` may hold
or not. PostgreSQL orders by ``COLLATE "C"`` (bytes of the UTF-8 database), SQLite by its
default ``BINARY`` collation (bytes); ``ascending`` checks it as the rows go by.

S3 lists keys in UTF-8 byte order; GCS and Azure document a lexicographic order without naming
the comparison, and emulators differ. A listing is therefore used as it comes while it is in
byte order; a key out of order makes the merge start again over ``external_sorted`` (sorted
runs spilled to temporary files, merged), which holds ``run`` items at most.
"""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

from django.db import connection
from django.db.models import F
from django.db.models.functions import Collate

T = TypeVar("T")

SORT_RUN = 100_000  # items held in memory by external_sorted


class OutOfOrder(Exception):
    """A stream that should be in byte order is not (the listing: sort it, then merge)."""


class RowsOutOfOrder(RuntimeError):
    """The database did not return the rows in byte order: a bug, never a user's error."""


def bytewise(field: str) -> Any:
    """An ORDER BY expression on ``field`` in UTF-8 byte order on every supported database."""
    if connection.vendor == "postgresql":
        return Collate(F(field), "C")
    return F(field)


def ascending(
    items: Iterable[T], key: Callable[[T], str], error: type[Exception] = OutOfOrder
) -> Iterator[T]:
    """``items``, raising ``error`` as soon as one's key is below the previous one's."""
    previous: str | None = None
    for item in items:
        current = key(item)
        if previous is not None and current < previous:
            raise error(current)
        previous = current
        yield item


def _spill(items: list[Any]) -> IO[bytes]:
    stream = tempfile.TemporaryFile()  # noqa: SIM115 - read back, closed by _read
    for start in range(0, len(items), 1000):
        pickle.dump(items[start : start + 1000], stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.seek(0)
    return stream


def _read(stream: IO[bytes]) -> Iterator[Any]:
    with stream:
        while True:
            try:
                chunk = pickle.load(stream)  # noqa: S301 - our own temporary file
            except EOFError:
                return
            yield from chunk


def external_sorted(
    items: Iterable[T], key: Callable[[T], Any], *, run: int | None = None
) -> Iterator[T]:
    """``items`` sorted by ``key`` with at most ``run`` (default ``SORT_RUN``) of them in
    memory: full runs are sorted and spilled to temporary files, then merged (one item of each
    run in memory)."""
    run = run or SORT_RUN
    runs: list[IO[bytes]] = []
    buffer: list[T] = []
    try:
        for item in items:
            buffer.append(item)
            if len(buffer) >= run:
                buffer.sort(key=key)
                runs.append(_spill(buffer))
                buffer = []
        buffer.sort(key=key)
    except BaseException:
        for stream in runs:
            stream.close()
        raise
    if not runs:
        return iter(buffer)
    return heapq.merge(*(_read(stream) for stream in runs), iter(buffer), key=key)


class Spill:
    """Tuples written in batches to a temporary file and read back in the same batches (the
    learnt rows of a relink, saved once it succeeds)."""

    def __init__(self, batch: int):
        self.batch = batch
        self.count = 0
        self._pending: list[tuple] = []
        self._stream: IO[bytes] | None = None

    def add(self, item: tuple) -> None:
        self._pending.append(item)
        self.count += 1
        if len(self._pending) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._stream is None:
            self._stream = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        pickle.dump(self._pending, self._stream, protocol=pickle.HIGHEST_PROTOCOL)
        self._pending = []

    def batches(self) -> Iterator[list[tuple]]:
        if self._stream is not None:
            self._stream.seek(0)
            while True:
                try:
                    yield pickle.load(self._stream)  # noqa: S301 - our own temporary file
                except EOFError:
                    break
        if self._pending:
            yield self._pending

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self._pending = []
