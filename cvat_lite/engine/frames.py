"""A task's frames: which media files they are, their metadata, and their bytes.

Frame numbers in the API are *task* frame numbers, ``0 .. data.size - 1`` (CVAT's relative
frames). The task's Image rows are its whole media manifest, one row per sorted media file,
``Image.frame`` being the position in that list; ``Data.start_frame``, ``stop_frame`` and
``frame_filter`` (``step=N``) select the included ones, so task frame ``n`` is the Image with
``frame == start_frame + n * step`` (as in CVAT).

Media are read from a ``MediaSource`` (``cvat_lite.media.sources``): the task's cloud storage
(``Image.path`` is the full object key), the task's media in the shared store, ``tasks/<id>/raw/``
(``local``: the folder ``DATA_DIR/tasks/<id>/raw`` on the default store, a key prefix in the
bucket of an object store) or the share root (``share``: files are read in place, never copied).
A cloud task whose storage link is gone answers every media read with ``CloudStorageUnlinked``
(409); provider errors pass through (409 ``cloud_storage_unavailable``, 404
``cloud_object_not_found``).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.engine import media_cache as cache
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.models import Data, Image, Job, StorageChoice, Task
from cvat_lite.media import images
from cvat_lite.media.formats import mime_type_for
from cvat_lite.media.selection import parse_frame_filter
from cvat_lite.media.sources import CloudSource, DirectorySource, MediaSource, StoredSource
from cvat_lite.store import ObjectStore, shared_store

READ_WORKERS = 8
JPEG = "image/jpeg"
ZIP = "application/zip"

MSG_NO_DATA = "The task has no data yet."
MSG_FRAME_OUT_OF_RANGE = "Frame {number} is out of range: the task has frames 0..{last}."
MSG_FRAME_NOT_IN_JOB = "Frame {number} is not a frame of this job."
MSG_CHUNK_OUT_OF_RANGE = "Chunk {number} is out of range: the valid chunks are 0..{last}."
MSG_NO_CONTEXT_IMAGE = "Frame {number} has no context images."


# --- sources -----------------------------------------------------------------------------------


def local_media_prefix(task_id: int) -> str:
    """The shared store's prefix of the uploaded media of a ``local`` task."""
    return f"tasks/{task_id}/raw/"


def local_media_root(task_id: int) -> Path:
    """Where the uploaded media of a ``local`` task live on the default store."""
    return Path(settings.DATA_DIR) / "tasks" / str(task_id) / "raw"


def local_media_source(task_id: int) -> MediaSource:
    """The media of the ``local`` task ``task_id``, wherever the shared store keeps them."""
    store = shared_store()
    if isinstance(store, ObjectStore):
        return StoredSource(store.provider, store.object_key(local_media_prefix(task_id)))
    return DirectorySource(local_media_root(task_id))


def source_for(task: Task, data: Data) -> MediaSource:
    """The source of ``task``'s media; CloudStorageUnlinked when its cloud link is gone."""
    if data.storage == StorageChoice.CLOUD_STORAGE:
        if data.cloud_storage_id is None or data.cloud_storage is None:
            raise errors.CloudStorageUnlinked(task.id)
        try:
            return CloudSource(provider_for(data.cloud_storage))
        except errors.BadRequest:  # its configuration is no longer accepted (e.g. allowlist)
            raise errors.CloudStorageError() from None
    if data.storage == StorageChoice.SHARE:
        return DirectorySource(Path(settings.SHARE_ROOT))
    return local_media_source(task.id)


# --- frame numbers -----------------------------------------------------------------------------


def task_data(task: Task) -> Data:
    if task.data is None:
        raise errors.NotFound(MSG_NO_DATA, code="task_has_no_data")
    return task.data


def included(data: Data) -> range:
    """The Image frames (manifest positions) of the task's frames 0..size-1."""
    step = parse_frame_filter(data.frame_filter)
    return range(data.start_frame, data.start_frame + data.size * step, step)


def check_frame(data: Data, number: int) -> int:
    if not 0 <= number < data.size:
        raise errors.BadRequest(
            MSG_FRAME_OUT_OF_RANGE.format(number=number, last=data.size - 1),
            code="frame_out_of_range",
        )
    return number


def chunk_count(data: Data) -> int:
    return -(-data.size // data.chunk_size)


def chunk_frames(data: Data, number: int) -> range:
    """The task frames of chunk ``number``."""
    if not 0 <= number < chunk_count(data):
        raise errors.BadRequest(
            MSG_CHUNK_OUT_OF_RANGE.format(number=number, last=chunk_count(data) - 1),
            code="chunk_out_of_range",
        )
    start = number * data.chunk_size
    return range(start, min(start + data.chunk_size, data.size))


def job_frames(job: Job) -> list[int]:
    """The task frames of a job, in order."""
    segment = job.segment
    if segment.frames is not None:
        return sorted(segment.frames)
    return list(range(segment.start_frame, segment.stop_frame + 1))


def _images(data: Data, frames: Sequence[int]) -> list[Image]:
    """The Image rows of task frames ``frames``, in that order."""
    positions = included(data)
    wanted = [positions[frame] for frame in frames]
    rows = {image.frame: image for image in data.images.filter(frame__in=set(wanted))}
    missing = [position for position in wanted if position not in rows]
    if missing:  # the Image rows are the manifest: a gap is a broken task, not bad input
        raise errors.CvatLiteError()
    return [rows[position] for position in wanted]


# --- metadata ----------------------------------------------------------------------------------


_encode_string = json.encoder.encode_basestring  # the C encoder when available


META_BATCH = 10_000  # Image rows read (and JSON text written) per query of data/meta
_NONE = ',"related_files":0,"has_related_context":false}'  # a frame's tail without related files


def _frames_json(data: Data, frames: range) -> Iterator[str]:
    """The ``frames`` list of DataMetaRead as JSON text, in pieces: one query of at most
    ``META_BATCH`` rows, by frame range, per piece (a 1,000,000-frame task is answered without
    ever holding more than a batch: no per-row dict, no JSON decoding of empty related-file
    lists)."""
    if not frames:
        yield "[]"
        return
    positions = included(data)
    first, last, step = positions[frames[0]], positions[frames[-1]], positions.step
    images = data.images.all()
    if step != 1:  # the included rows only: those a whole number of steps from the first
        images = images.alias(phase=(F("frame") - first) % step).filter(phase=0)
    separator = "["
    start = first
    while start <= last:
        stop = min(last, start + META_BATCH * step - 1)
        rows = (
            images.filter(frame__gte=start, frame__lte=stop)
            .order_by("frame")
            .annotate(related_text=Cast("related_files", output_field=TextField()))
            .values_list("path", "width", "height", "related_text")
        )
        parts: list[str] = []
        append = parts.append
        for path, width, height, related in rows:
            if related in (None, "", "[]"):  # most rows: the tail is the same text
                append(f'{{"width":{width},"height":{height},"name":{_encode_string(path)}{_NONE}')
                continue
            count = len(json.loads(related))
            append(
                f'{{"width":{width},"height":{height},"name":{_encode_string(path)},'
                f'"related_files":{count},"has_related_context":{"true" if count else "false"}}}'
            )
        if parts:
            yield separator + ",".join(parts)
            separator = ","
        start = stop + 1
    yield "]" if separator == "," else "[]"


def _datetime(value: datetime | None) -> str | None:
    """As the API writes a date (DRF's ISO 8601, ``Z`` for UTC), in the current time zone."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _meta(data: Data) -> dict:
    return {
        "chunks_updated_date": _datetime(data.chunks_updated_date),
        "chunk_size": data.chunk_size,
        "size": data.size,
        "image_quality": data.image_quality,
        "start_frame": data.start_frame,
        "stop_frame": data.stop_frame,
        "frame_filter": data.frame_filter,
        "deleted_frames": sorted(data.deleted_frames),
        "included_frames": None,
        "storage": data.storage,
        "cloud_storage_id": data.cloud_storage_id,
    }


def _meta_json(meta: dict, frames_json: Iterator[str]) -> Iterator[bytes]:
    head = json.dumps(meta, separators=(",", ":"), ensure_ascii=False)
    yield f'{head[:-1]},"frames":'.encode()
    for piece in frames_json:
        yield piece.encode()
    yield b"}"


def page_of(frames: range, offset: int = 0, limit: int | None = None) -> range:
    """The frames ``offset`` .. ``offset + limit - 1`` of ``frames`` (data/meta's optional
    ``frames_offset`` / ``frames_limit``: one page of a large task's frame list)."""
    return frames[offset:] if limit is None else frames[offset : offset + limit]


def task_meta_json(task: Task, *, offset: int = 0, limit: int | None = None) -> Iterator[bytes]:
    """The task's ``DataMetaRead`` as JSON, in pieces (see ``_frames_json``); with ``offset``
    / ``limit``, ``frames`` lists those task frames only. A cloud task without a storage link
    answers too. The task's data are looked up now: a task without data fails here, before
    any piece is produced."""
    data = task_data(task)
    return _meta_json(_meta(data), _frames_json(data, page_of(range(data.size), offset, limit)))


def job_meta_json(job: Job, *, offset: int = 0, limit: int | None = None) -> Iterator[bytes]:
    """A job's ``DataMetaRead`` as JSON (CVAT's), in pieces: its frame span, in data frame
    numbers; ``offset`` / ``limit`` page ``frames`` as for a task."""
    data = task_data(job.segment.task)
    frames = job_frames(job)
    positions = included(data)
    span = range(frames[0], frames[-1] + 1) if frames else range(0)
    meta = _meta(data)
    meta.update(
        size=len(frames),
        start_frame=positions[span[0]] if span else data.start_frame,
        stop_frame=positions[span[-1]] if span else data.start_frame,
        deleted_frames=[f for f in meta["deleted_frames"] if f in span],
    )
    if job.segment.frames is not None:
        meta["included_frames"] = frames
    return _meta_json(meta, _frames_json(data, page_of(span, offset, limit)))


# --- reading -----------------------------------------------------------------------------------


def _read_all(source: MediaSource, paths: Sequence[str]) -> list[bytes]:
    if len(paths) <= 1 or not isinstance(source, CloudSource):
        return [source.read(path) for path in paths]
    with ThreadPoolExecutor(max_workers=min(READ_WORKERS, len(paths))) as pool:
        return list(pool.map(source.read, paths))


@dataclass(frozen=True)
class Media:
    content: bytes
    content_type: str


def read_frame(task: Task, number: int, *, compressed: bool) -> Media:
    data = task_data(task)
    check_frame(data, number)
    source = source_for(task, data)
    image = _images(data, [number])[0]
    content = source.read(image.path)
    if compressed:
        return Media(images.compress_to_jpeg(content, data.image_quality), JPEG)
    return Media(content, mime_type_for(image.path))


def read_chunk(task: Task, frames: Sequence[int], *, compressed: bool, name: str) -> Media:
    """A ZIP (``imageset``) of the task frames ``frames``, cached under ``name``."""
    data = task_data(task)
    source = source_for(task, data)
    quality = data.image_quality if compressed else None
    cache_name = f"{name}:{'compressed' if compressed else 'original'}"

    def build() -> bytes:
        paths = [image.path for image in _images(data, frames)]
        contents = _read_all(source, paths)
        buffer = io.BytesIO()
        images.write_chunk(zip(paths, contents, strict=True), buffer, quality=quality)
        return buffer.getvalue()

    content = cache.media_cache_get_or_build(task=task, data=data, name=cache_name, build=build)
    return Media(content, ZIP)


def read_preview(task: Task, number: int, *, name: str) -> Media:
    """A JPEG thumbnail of task frame ``number``, cached under ``name``."""
    data = task_data(task)
    check_frame(data, number)
    source = source_for(task, data)

    def build() -> bytes:
        return images.make_preview(source.read(_images(data, [number])[0].path))

    content = cache.media_cache_get_or_build(task=task, data=data, name=name, build=build)
    return Media(content, JPEG)


def read_context_images(task: Task, number: int) -> Media:
    """A ZIP of frame ``number``'s related images (members named by their path)."""
    data = task_data(task)
    check_frame(data, number)
    source = source_for(task, data)
    related = _images(data, [number])[0].related_files
    if not related:
        raise errors.NotFound(
            MSG_NO_CONTEXT_IMAGE.format(number=number), code="context_image_not_found"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, content in zip(related, _read_all(source, related), strict=True):
            archive.writestr(path, content)
    return Media(buffer.getvalue(), ZIP)
