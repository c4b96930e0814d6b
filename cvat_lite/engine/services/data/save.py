"""In the worker: Data, the Image rows and the jobs written in one transaction, and the
``create:task`` request's job function."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from cvat_lite import errors
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.frames import local_media_prefix, local_media_source
from cvat_lite.engine.models import CloudStorage, Data, StorageChoice, Task
from cvat_lite.engine.services.data.collect import _collect, _Media, _StreamedCreate
from cvat_lite.engine.services.data.options import (
    DEFAULT_CHUNK_SIZE,
    MSG_CREATED,
    MSG_HAS_DATA,
    MSG_STORAGE_GONE,
    MSG_TASK_GONE,
    DataOptions,
)
from cvat_lite.engine.services.images import images_create
from cvat_lite.engine.services.jobs import segments_create
from cvat_lite.media.paths import safe_join
from cvat_lite.media.selection import frame_range, parse_frame_filter
from cvat_lite.media.sources import CloudSource, DirectorySource, MediaSource
from cvat_lite.store import shared_store


def _copy_into_task(media: list[_Media], task_id: int) -> None:
    share, prefix, store = Path(settings.SHARE_ROOT), local_media_prefix(task_id), shared_store()
    for item in media:
        with open(safe_join(share, item.path), "rb") as stream:
            store.put_stream(prefix + item.path, stream)


def _save(
    *,
    task_id: int,
    storage: str,
    cloud_storage: CloudStorage | None,
    options: DataOptions,
    media: list[_Media],
    folder: str,
    progress: Callable[[float], None],
) -> Data:
    step = parse_frame_filter(options.frame_filter)
    positions = frame_range(len(media), options.start_frame, options.stop_frame, step)
    with transaction.atomic():
        task = Task.objects.select_for_update().filter(pk=task_id).first()
        if task is None:
            raise errors.BadRequest(MSG_TASK_GONE, code="task_gone")
        if task.data_id is not None:
            raise errors.BadRequest(MSG_HAS_DATA, code="task_has_data")
        if (
            cloud_storage is not None
            and not CloudStorage.objects.filter(pk=cloud_storage.pk).exists()
        ):
            raise errors.BadRequest(MSG_STORAGE_GONE, code="cloud_storage_gone")
        data = Data.objects.create(
            storage=storage,
            cloud_storage=cloud_storage,
            size=len(positions),
            chunk_size=options.chunk_size or DEFAULT_CHUNK_SIZE,
            image_quality=options.image_quality,
            start_frame=positions.start,
            stop_frame=positions[-1],
            frame_filter=f"step={step}" if step > 1 else "",
            sorting_method=options.sorting_method,
            cloud_prefix=folder if storage == StorageChoice.CLOUD_STORAGE else "",
        )
        images_create(
            data=data,
            rows=((m.path, m.width, m.height, m.checksum, m.related) for m in media),
            progress=lambda done: progress(0.8 + 0.15 * done / len(media)),
            evidence={m.path: m.evidence for m in media if m.evidence is not None},
        )
        task.data = data
        task.save(update_fields=["data", "updated_date"])
        segments_create(task=task, frames=data.size)
    return data


def task_data_create(
    *, task_id: int, storage: str, options: DataOptions, progress: Callable[[float], None]
) -> Data:
    """Build the task's data (see the module docstring)."""
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        raise errors.BadRequest(MSG_TASK_GONE, code="task_gone")
    if task.data_id is not None:
        raise errors.BadRequest(MSG_HAS_DATA, code="task_has_data")
    cloud_storage = None
    source: MediaSource
    if storage == StorageChoice.CLOUD_STORAGE:
        cloud_storage = CloudStorage.objects.filter(pk=options.cloud_storage_id or 0).first()
        if cloud_storage is None:
            raise errors.BadRequest(MSG_STORAGE_GONE, code="cloud_storage_gone")
        source = CloudSource(provider_for(cloud_storage))
    elif storage == StorageChoice.SHARE:
        source = DirectorySource(Path(settings.SHARE_ROOT))
    else:
        source = local_media_source(task_id)
    streamed = _StreamedCreate(task_id, storage, cloud_storage, options, progress)
    if streamed.applies():
        data = streamed.run(source)
        if data is not None:
            return data
    media, folder = _collect(
        source, options, cloud_storage, progress, manifests_tried=streamed.manifests_tried
    )
    if storage == StorageChoice.SHARE and options.copy_data:
        _copy_into_task(media, task_id)
        storage = StorageChoice.LOCAL
    return _save(
        task_id=task_id,
        storage=storage,
        cloud_storage=cloud_storage,
        options=options,
        media=media,
        folder=folder,
        progress=progress,
    )


def task_data_create_job(
    *, progress: Callable[[float], None], task_id: int, storage: str, options: dict[str, Any]
):
    """The ``create:task`` request's job. On failure, files written for the task are removed
    (unless the task got its data meanwhile from another request)."""
    from cvat_lite.requests.jobs import RequestResult

    try:
        data = task_data_create(
            task_id=task_id, storage=storage, options=DataOptions(**options), progress=progress
        )
    except BaseException:
        if not Task.objects.filter(pk=task_id, data__isnull=False).exists():
            shared_store().delete_prefix(local_media_prefix(task_id))
        raise
    return RequestResult(result_id=task_id, message=MSG_CREATED.format(size=data.size))
