"""Writing task and project backups (contract 7.1-7.3) into an ``ArchiveWriter``.

A task backup is ``task.json``, ``annotations.json``, ``data/manifest.jsonl`` (rendered from
the task's Image rows), in a lightweight one ``cloud_objects.jsonl`` (what the bucket said of
each object: size, MD5, ETag, CRC32C, for the relink) and, in a full backup, every media file
at ``data/<manifest name>`` (repeated honeypot images once, related images too),
byte-identical to the object or file.

- A **lightweight** backup (cloud tasks only) reads no media and makes no cloud call: it works
  when the task's storage is unlinked or its bucket is gone.
- A **full** backup of a cloud task streams: ``fetch_concurrency`` objects are downloaded at
  once by a thread pool, each into memory (spilling to a temporary file past 8 MiB), and
  written to the archive in frame order as soon as its turn comes. At most
  ``fetch_concurrency`` objects are held at a time; there is never a copy of all media.
- Refusals come before any work (``backup_task_check``): a task without data, a lightweight
  backup of a task whose media are not in a cloud storage, a full backup of an unlinked task.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.db.models import Q

from cvat_lite import errors
from cvat_lite.backup.archive import ArchiveWriter
from cvat_lite.backup.export_spec import (
    MediaRoot,
    annotation_specs,
    image_rows,
    manifest_entries,
    media_root,
    project_spec,
    task_spec,
)
from cvat_lite.backup.format import (
    ANNOTATIONS_JSON,
    DATA_DIR,
    MANIFEST,
    PROJECT_JSON,
    TASK_JSON,
    build_annotations_json,
    build_project_json,
    build_task_json,
    task_folder,
)
from cvat_lite.cloud.base import CloudProvider, Status
from cvat_lite.cloud.evidence import CLOUD_OBJECTS, Evidence, write_records
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.frames import source_for
from cvat_lite.engine.manifest_store import StoredManifest, media_prefix, stored_manifest
from cvat_lite.engine.models import Data, Project, StorageChoice, Task
from cvat_lite.media.manifest import write_manifest
from cvat_lite.media.sources import CloudSource, MediaSource, StoredSource

Progress = Callable[..., None]

CHUNK = 1024 * 1024
SPOOL_SIZE = 8 * 1024 * 1024  # an object larger than this is spooled to a temporary file

MSG_NO_DATA = "The task has no data: there is nothing to back up."
MSG_LIGHTWEIGHT_NOT_POSSIBLE = (
    "A lightweight backup is only possible for a task whose media are in a cloud storage."
)


def _no_progress(fraction: float, *, force: bool = False) -> None:
    return None


# --- checks ------------------------------------------------------------------------------------


def backup_task_check(*, task: Task, lightweight: bool) -> Data:
    """Refuse what cannot be backed up, before any work; returns the task's data."""
    data = task.data
    if data is None:
        raise errors.BadRequest(MSG_NO_DATA, code="task_has_no_data")
    cloud = data.storage == StorageChoice.CLOUD_STORAGE
    if lightweight and not cloud:
        raise errors.BadRequest(MSG_LIGHTWEIGHT_NOT_POSSIBLE, code="lightweight_not_possible")
    if not lightweight and cloud and data.cloud_storage_id is None:
        raise errors.CloudStorageUnlinked(task.id)
    if not lightweight and cloud and data.cloud_storage is not None:
        provider_for(data.cloud_storage)  # an endpoint no longer allowed: 400, no connection
    return data


def project_tasks(project: Project) -> list[Task]:
    """The tasks a project backup holds (those with data), in id order."""
    return list(
        Task.objects.filter(project=project, data__isnull=False)
        .select_related("data", "data__cloud_storage")
        .order_by("id")
    )


def task_lightweight_in_project(task: Task, lightweight: bool) -> bool:
    """In a project, "lightweight" means "whenever possible": for cloud tasks only."""
    return (
        lightweight and task.data is not None and task.data.storage == StorageChoice.CLOUD_STORAGE
    )


def _size(task: Task) -> int:
    return task.data.size if task.data is not None else 0


def backup_project_check(*, project: Project, lightweight: bool) -> list[Task]:
    tasks = project_tasks(project)
    for task in tasks:
        backup_task_check(task=task, lightweight=task_lightweight_in_project(task, lightweight))
    return tasks


# --- media -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Media:
    path: str  # where the source reads it (Image.path, a related file's path)
    member: str  # its archive member name
    frames_done: int  # Image rows consumed once it is written (progress)


def _media_items(data: Data, root: MediaRoot, prefix: str) -> Iterator[_Media]:
    """Every media file once, in frame order, each frame's related images after it."""
    seen: set[str] = set()
    for done, (path, related) in enumerate(image_rows(data, ("path", "related_files")), 1):
        for item in (path, *(related or ())):
            if item not in seen:
                seen.add(item)
                yield _Media(item, prefix + DATA_DIR + root.name(item), done)


def _download(provider: CloudProvider, key: str) -> IO[bytes]:
    """The object in a spooled temporary file, rewound. A missing object is told apart from a
    missing bucket (some providers answer both with a plain 404), as media reads do."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115 - caller closes
    try:
        provider.download_to(key, spool)  # type: ignore[arg-type]
    except errors.CloudObjectNotFound:
        spool.close()
        if provider.status() != Status.AVAILABLE:
            raise errors.CloudStorageNotFound() from None
        raise
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool  # type: ignore[return-value]


def _add_file(writer: ArchiveWriter, name: str, stream: IO[bytes], size: int | None) -> None:
    writer.add_stream(name, iter(lambda: stream.read(CHUNK), b""), size=size)


def _write_local_media(
    writer: ArchiveWriter, source: MediaSource, items: Iterator[_Media], report: Progress
) -> None:
    for item in items:
        with source.open(item.path) as stream:
            try:
                size: int | None = os.fstat(stream.fileno()).st_size
            except (AttributeError, OSError, ValueError):
                size = None
            _add_file(writer, item.member, stream, size)
        report(item.frames_done)


def _write_cloud_media(
    writer: ArchiveWriter,
    provider: CloudProvider,
    items: Iterator[_Media],
    report: Progress,
    concurrency: int,
    *,
    key_prefix: str = "",
) -> None:
    """Download ``concurrency`` objects ahead, write them in order: a bounded pipeline."""
    pending: deque[tuple[_Media, Future[IO[bytes]]]] = deque()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="backup-fetch")
    try:
        for item in items:
            pending.append((item, pool.submit(_download, provider, key_prefix + item.path)))
            if len(pending) < concurrency:
                continue
            _write_next(writer, pending, report)
        while pending:
            _write_next(writer, pending, report)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for _, future in pending:  # what was fetched for nothing (after a failure)
            if future.done() and not future.cancelled() and future.exception() is None:
                future.result().close()


def _write_next(
    writer: ArchiveWriter, pending: deque[tuple[_Media, Future[IO[bytes]]]], report: Progress
) -> None:
    item, future = pending[0]
    with future.result() as stream:
        pending.popleft()
        size = stream.seek(0, os.SEEK_END)
        stream.seek(0)
        _add_file(writer, item.member, stream, size)
    report(item.frames_done)


# --- task --------------------------------------------------------------------------------------


def _write_manifest(
    writer: ArchiveWriter, name: str, data: Data, root: MediaRoot, stored: StoredManifest | None
) -> None:
    if stored is not None:  # recorded deflated when the rows were written: copied as it is
        with stored.path.open("rb") as source:
            writer.add_deflated(
                name, source, crc=stored.crc, size=stored.size,
                compress_size=stored.compress_size, sha256=stored.sha256,
            )  # fmt: skip
        return
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE) as spool:
        # The entries are built by entry_from_key, which validates them.
        write_manifest(manifest_entries(data, root), spool, validated=True)  # type: ignore[arg-type]
        size = spool.tell()
        spool.seek(0)
        _add_file(writer, name, spool, size)  # type: ignore[arg-type]


def _cloud_object_records(data: Data, root: MediaRoot) -> Iterator[dict]:
    fields = ("path", "object_size", "object_md5", "object_etag", "object_crc32c")
    seen: set[str] = set()
    for path, size, md5, etag, crc32c in image_rows(data, fields):
        evidence = Evidence(size, md5, etag, crc32c)
        if path in seen or (size is None and not evidence.fingerprinted):
            continue
        seen.add(path)
        yield evidence.to_record(root.name(path))


def _write_cloud_objects(writer: ArchiveWriter, name: str, data: Data, root: MediaRoot) -> None:
    """``cloud_objects.jsonl`` (``cloud.evidence``): what the bucket said of each object, for
    the relink after a restore. Beside task.json, never in ``data/`` (CVAT's lightweight
    import refuses anything there but the manifest; it ignores other members). Left out when
    nothing is known (e.g. a task from a CVAT-made manifest never relinked here)."""
    known = (
        Q(object_size__isnull=False) | ~Q(object_md5="") | ~Q(object_etag="") | ~Q(object_crc32c="")
    )
    if not data.images.filter(known).exists():  # one query instead of reading every row
        return
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE) as spool:
        if not write_records(_cloud_object_records(data, root), spool):  # type: ignore[arg-type]
            return
        size = spool.tell()
        spool.seek(0)
        _add_file(writer, name, spool, size)  # type: ignore[arg-type]


def backup_write_task(
    *,
    task: Task,
    lightweight: bool,
    writer: ArchiveWriter,
    prefix: str = "",
    progress: Progress | None = None,
    fetch_concurrency: int | None = None,
) -> None:
    """Write ``task``'s backup under ``prefix`` ("" or "task_<i>/") (see the module docstring).
    ``fetch_concurrency`` defaults to ``settings.BACKUP_FETCH_CONCURRENCY``."""
    data = backup_task_check(task=task, lightweight=lightweight)
    progress = progress or _no_progress
    source = None if lightweight else source_for(task, data)  # no network yet
    # Rows recorded with their manifest all lie under the task's folder (no query needed).
    stored = stored_manifest(data)
    if stored is None:
        root = media_root(data)
    else:
        folder = media_prefix(data)
        root = MediaRoot(folder, bool(folder))
    writer.add_json(prefix + TASK_JSON, build_task_json(task_spec(
        task=task, data=data, lightweight=lightweight, root=root
    )))  # fmt: skip
    writer.add_json(prefix + ANNOTATIONS_JSON, build_annotations_json(annotation_specs(task)))
    _write_manifest(writer, prefix + MANIFEST, data, root, stored)
    if lightweight and (stored is None or stored.evidence):
        _write_cloud_objects(writer, prefix + CLOUD_OBJECTS, data, root)
    if source is None:
        progress(1.0, force=True)
        return

    total = max(data.images.count(), 1)

    def report(frames_done: int) -> None:
        progress(frames_done / total)

    items = _media_items(data, root, prefix)
    if isinstance(source, CloudSource):
        concurrency = fetch_concurrency or settings.BACKUP_FETCH_CONCURRENCY
        # a local task's media in an object store are keys under a prefix of its bucket
        key_prefix = source.prefix if isinstance(source, StoredSource) else ""
        _write_cloud_media(
            writer, source.provider, items, report, max(1, concurrency), key_prefix=key_prefix
        )
    else:
        _write_local_media(writer, source, items, report)
    progress(1.0, force=True)


# --- project -----------------------------------------------------------------------------------


def backup_write_project(
    *,
    project: Project,
    lightweight: bool,
    writer: ArchiveWriter,
    progress: Progress | None = None,
    fetch_concurrency: int | None = None,
) -> None:
    """``project.json`` and one ``task_<i>/`` folder per task with data, in id order; with
    ``lightweight``, cloud tasks are written lightweight and the others in full."""
    tasks = backup_project_check(project=project, lightweight=lightweight)
    progress = progress or _no_progress
    writer.add_json(PROJECT_JSON, build_project_json(project_spec(project)))
    weights = [
        1 if task_lightweight_in_project(task, lightweight) else max(_size(task), 1)
        for task in tasks
    ]
    total, done = max(sum(weights), 1), 0
    for index, (task, weight) in enumerate(zip(tasks, weights, strict=True)):
        offset = done

        def task_progress(fraction: float, *, force: bool = False, _offset=offset, _w=weight):
            progress((_offset + fraction * _w) / total, force=force)

        backup_write_task(
            task=task,
            lightweight=task_lightweight_in_project(task, lightweight),
            writer=writer,
            prefix=task_folder(index),
            progress=task_progress,
            fetch_concurrency=fetch_concurrency,
        )
        done += weight
    progress(1.0, force=True)
