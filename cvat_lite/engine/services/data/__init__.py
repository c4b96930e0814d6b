"""Task data: validating a ``POST /api/tasks/{id}/data`` and building the data in a worker.

Where the media come from is derived, never taken from the client: ``cloud_storage_id`` →
``cloud_storage`` (``server_files`` are object keys, folders end with "/", at most one
``*.jsonl`` manifest), ``server_files`` without it → ``share`` (paths under ``SHARE_ROOT``, read
in place at frame time; ``copy_data`` copies them into the task instead, making it ``local``),
uploaded ``client_files`` → ``local`` (saved in the shared store under ``tasks/<id>/raw/``:
``DATA_DIR/tasks/<id>/raw`` by default, a bucket when nodes share no disk).

The worker (``task_data_create_job``) lists the media, applies ``filename_pattern`` /
``server_files_exclude``, sorts, checks the frame range, learns each image's size — from the
manifest when there is one (no media is read), else from the image's first bytes — and writes
Data, one Image row per sorted media file (the task's manifest), and the jobs, in one
transaction. A failure leaves no row and no file behind.

Its modules, each importing only those before it: ``options`` (the request's options, limits and
messages), ``uploads`` (upload staging), ``collect`` (manifests, listing, selection, sizes, and
the streamed creation from a manifest), ``save`` (Data, the Image rows and the jobs; the request's
job function), ``submit`` (the request's checks, and queueing it).
"""

from cvat_lite.engine.services.data.options import (
    DEFAULT_CHUNK_SIZE,
    HEADER_READS,
    MANIFEST_SUFFIX,
    MAX_CHUNK_SIZE,
    MSG_BAD_IMAGE,
    MSG_CLOUD_WITH_UPLOADS,
    MSG_CREATE_RUNNING,
    MSG_CREATED,
    MSG_DUPLICATE_UPLOAD,
    MSG_HAS_DATA,
    MSG_IMAGE_TOO_LARGE,
    MSG_MANY_MANIFESTS,
    MSG_MIXED,
    MSG_NO_FILES,
    MSG_NO_IMAGES,
    MSG_NOT_IMAGE,
    MSG_NOT_IN_MANIFEST,
    MSG_SHARE_MISSING,
    MSG_STORAGE_GONE,
    MSG_TASK_GONE,
    MSG_TOO_MANY,
    MSG_UPLOAD_ORDER,
    MSG_UPLOAD_TOO_LARGE,
    SIZE_WORKERS,
    DataOptions,
)
from cvat_lite.engine.services.data.save import task_data_create, task_data_create_job
from cvat_lite.engine.services.data.submit import task_data_submit
from cvat_lite.engine.services.data.uploads import task_data_upload_files, task_data_upload_start

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "HEADER_READS",
    "MANIFEST_SUFFIX",
    "MAX_CHUNK_SIZE",
    "MSG_BAD_IMAGE",
    "MSG_CLOUD_WITH_UPLOADS",
    "MSG_CREATED",
    "MSG_CREATE_RUNNING",
    "MSG_DUPLICATE_UPLOAD",
    "MSG_HAS_DATA",
    "MSG_IMAGE_TOO_LARGE",
    "MSG_MANY_MANIFESTS",
    "MSG_MIXED",
    "MSG_NOT_IMAGE",
    "MSG_NOT_IN_MANIFEST",
    "MSG_NO_FILES",
    "MSG_NO_IMAGES",
    "MSG_SHARE_MISSING",
    "MSG_STORAGE_GONE",
    "MSG_TASK_GONE",
    "MSG_TOO_MANY",
    "MSG_UPLOAD_ORDER",
    "MSG_UPLOAD_TOO_LARGE",
    "SIZE_WORKERS",
    "DataOptions",
    "task_data_create",
    "task_data_create_job",
    "task_data_submit",
    "task_data_upload_files",
    "task_data_upload_start",
]
