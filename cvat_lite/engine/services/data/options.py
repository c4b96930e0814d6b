"""The options of a data request (the job's kwargs), its limits and its messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cvat_lite.media.selection import SortingMethod

DEFAULT_CHUNK_SIZE = 36
MAX_CHUNK_SIZE = 1000
HEADER_READS = (64 * 1024, 1024 * 1024)  # then the whole file
SIZE_WORKERS = 8
MANIFEST_SUFFIX = ".jsonl"

MSG_HAS_DATA = "The task already has data; adding more is not supported."
MSG_CREATE_RUNNING = "The data of this task are already being created."
MSG_NO_FILES = (
    "No media given: upload client_files, or name server_files (object keys with "
    "cloud_storage_id, else paths in the share)."
)
MSG_MIXED = "Send either client_files or server_files, not both."
MSG_CLOUD_WITH_UPLOADS = "cloud_storage_id cannot be used with uploaded client_files."
MSG_SHARE_MISSING = "The share has no file or folder {path}."
MSG_MANY_MANIFESTS = "At most one manifest file (*.jsonl) can be given, got {count}."
MSG_NOT_IMAGE = "{path} is not a supported image; supported extensions: {extensions}."
MSG_BAD_IMAGE = "{path} is not a supported image, or it is corrupt."
MSG_IMAGE_TOO_LARGE = "{path}: {reason}"
MSG_NO_IMAGES = "No images were found in the given files."
MSG_TOO_MANY = "The task would have {count} images; the limit is {limit}."
MSG_NOT_IN_MANIFEST = "The object {key} is not listed in the manifest {manifest}."
MSG_UPLOAD_TOO_LARGE = "The uploaded files exceed the limit of {limit} bytes."
MSG_UPLOAD_ORDER = "upload_file_order must name every uploaded file exactly once."
MSG_DUPLICATE_UPLOAD = "The file {name} was uploaded more than once."
MSG_TASK_GONE = "The task was deleted before its data could be created."
MSG_STORAGE_GONE = "The cloud storage was deleted before the task data could be created."
MSG_CREATED = "The task data were created: {size} frames."


@dataclass(frozen=True)
class DataOptions:
    """The validated body of a data request (JSON-serialisable: it is the job's kwargs)."""

    server_files: list[str] = field(default_factory=list)
    cloud_storage_id: int | None = None
    image_quality: int = 70
    chunk_size: int | None = None
    start_frame: int = 0
    stop_frame: int | None = None  # None: to the last frame (CVAT's stop_frame=0)
    frame_filter: str = ""
    sorting_method: str = SortingMethod.LEXICOGRAPHICAL.value
    filename_pattern: str | None = None
    server_files_exclude: list[str] = field(default_factory=list)
    upload_file_order: list[str] = field(default_factory=list)
    copy_data: bool = False
    seed: int | None = None


def _manifests(paths: Iterable[str]) -> list[str]:
    return [p for p in paths if p.endswith(MANIFEST_SUFFIX)]
