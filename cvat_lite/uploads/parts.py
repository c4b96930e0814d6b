"""TUS uploads on an object store (``CVAT_LITE_SHARED_STORE`` set): any web node may take any
chunk, so nothing of an upload is on a node's disk.

Each PATCH becomes one object ``uploads/<id>/<offset, 20 digits>-<unix time>``; the upload's
offset is the sum of its parts' sizes (the store is the truth, as the file is on the default
store), and the time in the name is when the chunk was written (expiry needs no object dates,
which the providers report differently). A Redis lock per upload (shared by every node, released
when the chunk is stored, expiring if its node dies) keeps two chunks from interleaving: the
second gets the same 409 as on the default store. A finished upload stays where it is, as
``StoredParts``, and its consumer concatenates the parts in its own scratch folder.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

import django_rq
from django.conf import settings

from cvat_lite.store import shared_store

UPLOADS_PREFIX = "uploads/"
LOCK_SECONDS = 3600  # a node that dies mid-chunk blocks its upload at most this long
SPOOL_BYTES = 8 * 1024 * 1024


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def parts_prefix(upload_id: str) -> str:
    return f"{UPLOADS_PREFIX}{upload_id}/"


def _parts(upload_id: str) -> list[tuple[int, int, int, str]]:
    """``(offset, size, written at, key)`` of the upload's parts, in offset order."""
    found = []
    for key, size in shared_store().list(parts_prefix(upload_id)):
        offset, _, written = key.rsplit("/", 1)[-1].partition("-")
        with contextlib.suppress(ValueError):
            found.append((int(offset), size, int(written), key))
    return sorted(found)


def parts_offset(upload_id: str) -> int:
    return sum(size for _, size, _, _ in _parts(upload_id))


def parts_last_write(upload_id: str) -> float | None:
    """When the newest part was written (a Unix time), None without parts."""
    return max((written for _, _, written, _ in _parts(upload_id)), default=None)


@contextlib.contextmanager
def parts_locked(upload_id: str, *, busy: Callable[[], Exception]) -> Iterator[int]:
    """Hold the upload's lock for the block and yield its offset; raises ``busy()`` when
    another node holds it."""
    connection = django_rq.get_connection("import")
    lock = connection.lock(f"cvat_lite:upload:{upload_id}", timeout=LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        raise busy()
    try:
        yield parts_offset(upload_id)
    finally:
        with contextlib.suppress(Exception):
            lock.release()


def parts_append(upload_id: str, offset: int, stream: _Readable | None, size: int) -> int:
    """Store up to ``size`` bytes of ``stream`` as the part at ``offset`` (what arrives before
    the client goes away is kept, as TUS allows); returns the new offset."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        remaining = size
        while remaining > 0 and stream is not None:
            try:
                piece = stream.read(min(1024 * 1024, remaining))
            except OSError:  # the client went away mid-chunk
                break
            if not piece:
                break
            spool.write(piece[:remaining])
            remaining -= len(piece)
        received = spool.tell()
        if received:
            spool.seek(0)
            key = f"{parts_prefix(upload_id)}{offset:020d}-{int(time.time())}"
            shared_store().put_stream(key, spool, received)  # type: ignore[arg-type]
    return offset + received


def parts_expire_orphans(*, known: set[str], cutoff: datetime) -> None:
    """Remove the parts of finished or crashed uploads (no row in ``known``) not written since
    ``cutoff`` minus the import queue's timeout: a finished upload waits there for its import,
    which may wait for a worker, and whose job removes the parts when it ends."""
    store = shared_store()
    newest: dict[str, float] = {}
    for key, _ in store.list(UPLOADS_PREFIX):
        upload_id, _, name = key[len(UPLOADS_PREFIX) :].partition("/")
        with contextlib.suppress(ValueError):
            written = float(name.rpartition("-")[2])
            newest[upload_id] = max(newest.get(upload_id, 0.0), written)
    queue_wait = int(settings.RQ_QUEUES.get("import", {}).get("DEFAULT_TIMEOUT", 24 * 3600))
    for upload_id, written in newest.items():
        if upload_id not in known and written <= cutoff.timestamp() - queue_wait:
            store.delete_prefix(parts_prefix(upload_id))
