"""The scratch folder of a running background request: ``DATA_DIR/scratch/<request id>/``.

A request's temporary files (a partial export, a restore's staging folder, the archive of an
import) live there, so that what a killed worker left behind is found by the request's id:
``run_request`` removes the folder when the request ends, and ``services.reconcile`` removes it
when it finds the request interrupted (its worker died). Outside a request (the ``backup``
command) ``current_scratch_dir()`` is None and callers use their own folders as before.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from django.conf import settings

from cvat_lite.store import shared_store

SCRATCH_DIRNAME = "scratch"

_current: ContextVar[str | None] = ContextVar("cvat_lite_request_id", default=None)


def scratch_dir(request_id: str) -> Path:
    """The scratch folder of ``request_id`` (request ids are URL-safe: one path segment)."""
    if not request_id or "/" in request_id or "\\" in request_id or request_id in (".", ".."):
        raise ValueError(f"Not a request id: {request_id!r}")  # never a path (python -O too)
    return Path(settings.DATA_DIR) / SCRATCH_DIRNAME / request_id


def scratch_key(request_id: str) -> str:
    """The shared store's prefix for what a request was given by another process (on the
    default store it is the scratch folder itself)."""
    scratch_dir(request_id)  # the same checks
    return f"{SCRATCH_DIRNAME}/{request_id}/"


def scratch_remove(request_id: str) -> None:
    """Remove the request's scratch folder, and what the shared store holds for it."""
    shutil.rmtree(scratch_dir(request_id), ignore_errors=True)
    store = shared_store()
    if not store.is_local:
        store.delete_prefix(scratch_key(request_id))


@contextlib.contextmanager
def scratch_for(request_id: str) -> Iterator[Path]:
    """Run the block as request ``request_id``, with its scratch folder (which may hold what
    the request was given, e.g. an uploaded archive); the folder is removed on exit."""
    folder = scratch_dir(request_id)
    folder.mkdir(parents=True, exist_ok=True)
    token = _current.set(request_id)
    try:
        yield folder
    finally:
        _current.reset(token)
        scratch_remove(request_id)


def current_request_id() -> str | None:
    return _current.get()


def current_scratch_dir() -> Path | None:
    """The scratch folder of the request running in this context, or None."""
    request_id = _current.get()
    return scratch_dir(request_id) if request_id else None
