"""The chunk and preview cache (Redis, the ``media`` cache alias).

Entries are per task: their key names the task, the data's ``chunks_updated_date`` and a
per-task *generation*. Changing a task's storage link moves ``chunks_updated_date``, and
``media_cache_drop`` moves the generation, so either makes every older entry of the task
unreachable at once (one Redis write, however many chunks were cached); the unreachable entries
expire after the cache's ``TIMEOUT``. Values larger than ``MAX_CACHED_BYTES`` are built and
served but not stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.core.cache import caches

from cvat_lite.engine.models import Data, Task

CACHE_ALIAS = "media"
MAX_CACHED_BYTES = 64 * 1024**2


def _cache():
    return caches[CACHE_ALIAS]


def _generation_key(task_id: int) -> str:
    return f"task:{task_id}:generation"


def _generation(task_id: int) -> int:
    return int(_cache().get(_generation_key(task_id), 0))


def _entry_key(task_id: int, data: Data, name: str) -> str:
    stamp = data.chunks_updated_date.timestamp() if data.chunks_updated_date else 0
    return f"task:{task_id}:{_generation(task_id)}:{stamp:.6f}:{name}"


def media_cache_get_or_build(
    *, task: Task, data: Data, name: str, build: Callable[[], bytes]
) -> bytes:
    """The cached bytes of ``name`` (e.g. ``chunk:3:original``) for ``task``; on a miss,
    ``build()`` them and store them."""
    key = _entry_key(task.id, data, name)
    cache = _cache()
    value = cache.get(key)
    if value is None:
        value = build()
        if len(value) <= MAX_CACHED_BYTES:
            cache.set(key, value)
    return value


def media_cache_drop(*, task: Task) -> None:
    """Make every cached chunk and preview of ``task`` unreachable (used when the storage link
    changes). A new generation never equals an old one: it is the current time in ns."""
    _cache().set(_generation_key(task.id), time.time_ns(), timeout=None)
