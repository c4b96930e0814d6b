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
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from cvat_lite import errors
from cvat_lite.cloud.evidence import Evidence
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.frames import local_media_prefix, local_media_root, local_media_source
from cvat_lite.engine.manifest_store import ManifestRecorder
from cvat_lite.engine.models import CloudStorage, Data, StorageChoice, Task
from cvat_lite.engine.selectors import cloud_storage_for
from cvat_lite.engine.services.images import images_create
from cvat_lite.engine.services.jobs import segments_create
from cvat_lite.media import images
from cvat_lite.media.formats import IMAGE_EXTENSIONS, is_image_key
from cvat_lite.media.manifest import manifest_dir, manifest_key_prefix, read_manifest
from cvat_lite.media.paths import safe_join, shown, validate_relative_path
from cvat_lite.media.selection import (
    STOP_BEFORE_START,
    filter_keys,
    frame_range,
    key_kept,
    parse_frame_filter,
    sort_keys,
)
from cvat_lite.media.sources import CloudSource, DirectorySource, MediaSource
from cvat_lite.requests.models import Request, RequestAction
from cvat_lite.requests.services import ACTIVE_STATUSES, RequestSpec, reconcile, request_submit
from cvat_lite.store import shared_store

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
    sorting_method: str = "lexicographical"
    filename_pattern: str | None = None
    server_files_exclude: list[str] = field(default_factory=list)
    upload_file_order: list[str] = field(default_factory=list)
    copy_data: bool = False
    seed: int | None = None


# --- before queueing ---------------------------------------------------------------------------


def _check_no_data(task: Task) -> None:
    if task.data_id is not None:
        raise errors.BadRequest(MSG_HAS_DATA, code="task_has_data")
    for request in Request.objects.filter(
        action=RequestAction.CREATE, task_id=task.id, status__in=ACTIVE_STATUSES
    ):
        if reconcile(request).status in ACTIVE_STATUSES:
            raise errors.Conflict(
                MSG_CREATE_RUNNING, code="request_already_running", extra={"rq_id": request.id}
            )


def task_data_upload_start(*, task: Task) -> None:
    """``Upload-Start``: begin a fresh set of uploads for the task."""
    _check_no_data(task)
    store = shared_store()
    store.delete_prefix(local_media_prefix(task.id))
    if store.is_local:  # an empty folder, as before the shared store
        local_media_root(task.id).mkdir(parents=True)


def _uploaded(prefix: str) -> dict[str, int]:
    """The files saved under ``prefix``: name → size."""
    return {key.removeprefix(prefix): size for key, size in shared_store().list(prefix)}


def _uploaded_names(prefix: str) -> list[str]:
    return sorted(_uploaded(prefix))


def _save_uploads(prefix: str, files: Sequence[UploadedFile]) -> list[str]:
    names = [os.path.basename(f.name or "") for f in files]
    for name in names:
        validate_relative_path(name)
    duplicates = {name for name, count in Counter(names).items() if count > 1}
    if duplicates:
        raise errors.BadRequest(MSG_DUPLICATE_UPLOAD.format(name=shown(min(duplicates))))
    limit = settings.MAX_UPLOAD_SIZE
    existing = _uploaded(prefix)
    if sum(existing.values()) + sum(f.size or 0 for f in files) > limit:
        raise errors.TooLarge(MSG_UPLOAD_TOO_LARGE.format(limit=limit))
    store = shared_store()
    for name, upload in zip(names, files, strict=True):
        if name in existing:
            raise errors.BadRequest(MSG_DUPLICATE_UPLOAD.format(name=shown(name)))
        store.put_chunks(prefix + name, upload.chunks(), upload.size)
    return names


def task_data_upload_files(*, task: Task, files: Sequence[UploadedFile]) -> int:
    """``Upload-Multiple``: save a batch of uploaded files. Returns how many."""
    _check_no_data(task)
    prefix = local_media_prefix(task.id)
    try:
        return len(_save_uploads(prefix, files))
    except BaseException:  # the upload is abandoned: keep nothing
        shared_store().delete_prefix(prefix)
        raise


def _manifests(paths: Iterable[str]) -> list[str]:
    return [p for p in paths if p.endswith(MANIFEST_SUFFIX)]


def _check_paths(paths: Iterable[str]) -> None:
    for path in paths:
        validate_relative_path(path[:-1] if path.endswith("/") else path)


def _share_files(server_files: Sequence[str]) -> list[str]:
    """Share paths, as CVAT reads them (a leading "/" is the share root), folders with a
    trailing "/"; each must exist under ``SHARE_ROOT``."""
    root = Path(settings.SHARE_ROOT)
    result = []
    for raw in server_files:
        path = raw.lstrip("/")
        bare = path.rstrip("/")
        target = safe_join(root, bare)
        if not target.exists():
            raise errors.BadRequest(
                MSG_SHARE_MISSING.format(path=shown(raw)), code="share_file_not_found"
            )
        result.append(bare + "/" if target.is_dir() else bare)
    return result


def _check_frames(options: DataOptions) -> None:
    parse_frame_filter(options.frame_filter)
    sort_keys([], options.sorting_method)
    if options.stop_frame is not None and options.stop_frame < options.start_frame:
        raise errors.BadRequest(
            STOP_BEFORE_START.format(stop=options.stop_frame, start=options.start_frame),
            code="invalid_frame_range",
        )


def _check_upload_order(names: list[str], options: DataOptions) -> None:
    if options.sorting_method != "predefined" or not options.upload_file_order:
        return
    order = options.upload_file_order
    if len(order) != len(set(order)) or set(order) != set(names):
        raise errors.BadRequest(MSG_UPLOAD_ORDER, code="invalid_upload_file_order")


def task_data_submit(
    *,
    task: Task,
    owner,
    options: DataOptions,
    files: Sequence[UploadedFile] = (),
    uploaded: bool = False,
) -> Request:
    """Validate a data request and queue its ``create:task`` request.

    ``files`` are uploads of this very request; ``uploaded`` says earlier ``Upload-Multiple``
    requests may have saved files already. On a refusal nothing is kept (uploads included).
    """
    _check_no_data(task)
    prefix = local_media_prefix(task.id)
    local = bool(files) or (uploaded and bool(_uploaded_names(prefix)))
    if uploaded and not local:  # an Upload-Start folder that got no file
        shared_store().delete_prefix(prefix)
    try:
        _check_frames(options)
        if local and options.server_files:
            raise errors.BadRequest(MSG_MIXED, code="mixed_sources")
        if local and options.cloud_storage_id is not None:
            raise errors.BadRequest(MSG_CLOUD_WITH_UPLOADS, code="mixed_sources")
        if not local and not options.server_files:
            raise errors.BadRequest(MSG_NO_FILES, code="no_media")
        if local:
            storage = StorageChoice.LOCAL
            if not uploaded:
                shared_store().delete_prefix(prefix)
            names = _save_uploads(prefix, files) if files else []
            server_files = _uploaded_names(prefix)
            if names and options.sorting_method == "predefined" and not options.upload_file_order:
                options = dataclasses.replace(options, upload_file_order=names)
            _check_upload_order(server_files, options)
        elif options.cloud_storage_id is not None:
            storage = StorageChoice.CLOUD_STORAGE
            # visible to the caller, and its endpoint allowed (400 now, no connection)
            provider_for(cloud_storage_for(owner, options.cloud_storage_id))
            server_files = list(options.server_files)
            _check_paths(server_files)
        else:
            storage = StorageChoice.SHARE
            server_files = _share_files(options.server_files)
        if len(_manifests(server_files)) > 1:
            raise errors.BadRequest(
                MSG_MANY_MANIFESTS.format(count=len(_manifests(server_files))),
                code="too_many_manifests",
            )
        _check_paths(options.server_files_exclude)
        if options.sorting_method == "random" and options.seed is None:
            options = dataclasses.replace(options, seed=secrets.randbelow(2**31))
        options = dataclasses.replace(options, server_files=server_files)
        return request_submit(
            owner=owner,
            spec=RequestSpec(
                action=RequestAction.CREATE,
                target="task",
                subresource="",
                target_id=task.id,
                task_id=task.id,
                project_id=task.project_id,
                func=task_data_create_job,
                kwargs={
                    "task_id": task.id,
                    "storage": str(storage),
                    "options": dataclasses.asdict(options),
                },
            ),
        )
    except BaseException:
        if local:
            shared_store().delete_prefix(prefix)
        raise


# --- in the worker -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Media:
    path: str
    width: int = 0
    height: int = 0
    checksum: str = ""  # CVAT's pixel MD5, from a manifest only
    related: tuple[str, ...] = ()
    evidence: Evidence | None = None  # what the listing said of the object


def _manifest_media(source: MediaSource, manifest_key: str) -> dict[str, _Media]:
    """The manifest's media by object key (``relative_key``'s, without checking each path
    again: ``read_manifest`` has)."""
    base = manifest_key_prefix(manifest_key)
    media: dict[str, _Media] = {}
    with source.open(manifest_key) as stream:
        for entry in read_manifest(stream):
            key = base + entry.path
            if not is_image_key(key):
                raise _not_image(key)
            media[key] = _Media(
                key,
                entry.width,
                entry.height,
                entry.checksum or "",
                tuple(base + related for related in entry.related_images),
            )
    return media


def _not_image(path: str) -> errors.BadRequest:
    extensions = ", ".join(sorted(IMAGE_EXTENSIONS))
    return errors.BadRequest(
        MSG_NOT_IMAGE.format(path=shown(path), extensions=extensions), code="not_an_image"
    )


def _in_related_folder(key: str) -> bool:
    return "related_images" in key.split("/")[:-1]


def _covers(manifest_key: str, requested: list[str]) -> bool:
    """Can a storage manifest (one of ``CloudStorage.manifests``) stand for ``requested``: is
    every requested key or folder inside the manifest's folder."""
    folder = manifest_dir(manifest_key)
    return bool(requested) and all(not folder or r.startswith(folder + "/") for r in requested)


def _select(requested: list[str], media: dict[str, _Media]) -> list[str] | None:
    """The manifest's keys that ``requested`` names (all of them for an empty request), in
    request order, folders in manifest order; None when a requested key is not listed."""
    if not requested:
        return list(media)
    selected: dict[str, None] = {}
    for item in requested:
        if item.endswith("/"):
            selected.update(dict.fromkeys(k for k in media if k.startswith(item)))
        elif item in media:
            selected[item] = None
        else:
            return None
    return list(selected)


def _listed_media(source: MediaSource, requested: list[str]) -> dict[str, _Media]:
    media: dict[str, _Media] = {}
    for item in requested:
        if item.endswith("/") or item == "":
            found = sorted(
                (
                    (k, evidence)
                    for k, evidence in source.iter_images(item)
                    if not _in_related_folder(k)
                ),
                key=lambda pair: pair[0],
            )
            for key, evidence in found:
                media.setdefault(key, _Media(key, evidence=evidence))
        elif not is_image_key(item):
            raise _not_image(item)
        else:
            media.setdefault(item, _Media(item))
    return media


def _image_size(source: MediaSource, path: str) -> tuple[int, int]:
    try:
        for length in HEADER_READS:
            head = source.read_head(path, length)
            size = images.image_size_from_header(head)
            if size is not None:
                return size
            if len(head) < length:  # that was the whole file
                return images.image_size(head)
        return images.image_size(source.read(path))
    except errors.BadRequest as exc:
        if exc.code == "image_too_large":
            raise errors.BadRequest(
                MSG_IMAGE_TOO_LARGE.format(path=shown(path), reason=exc.message), code=exc.code
            ) from None
        raise errors.BadRequest(
            MSG_BAD_IMAGE.format(path=shown(path)), code="invalid_image", extra={"path": path}
        ) from None


def _read_sizes(
    source: MediaSource, media: list[_Media], progress: Callable[[float], None]
) -> None:
    todo = [m for m in media if not m.width]
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=SIZE_WORKERS) as pool:
        for done, (item, size) in enumerate(
            zip(todo, pool.map(lambda m: _image_size(source, m.path), todo), strict=True), start=1
        ):
            item.width, item.height = size
            progress(0.1 + 0.7 * done / len(todo))


def _common_folder(keys: Iterable[str]) -> str:
    folders = [posixpath.dirname(key) for key in keys]
    return posixpath.commonpath(folders) if folders else ""


def _from_manifests(
    source: MediaSource, requested: list[str], candidates: list[str], *, explicit: bool
) -> tuple[dict[str, _Media], list[str], str] | None:
    """Media, selected keys and folder from the first manifest that lists what is requested.
    An explicit manifest (named in ``server_files``) must list every requested key; a storage
    manifest that does not is skipped (None when none fits: the media are listed instead)."""
    for candidate in candidates:
        media = _manifest_media(source, candidate)
        keys = _select(requested, media)
        if explicit and keys is None:
            missing = next(k for k in requested if not k.endswith("/") and k not in media)
            raise errors.BadRequest(
                MSG_NOT_IN_MANIFEST.format(key=shown(missing), manifest=shown(candidate)),
                code="not_in_manifest",
                extra={"key": missing},
            )
        if explicit or keys:
            return media, keys or [], manifest_dir(candidate)
    return None


def _candidates(
    options: DataOptions, storage: CloudStorage | None
) -> tuple[list[str], list[str], bool]:
    """The requested keys and folders, the manifests that may list them (in the order they are
    tried), and whether that manifest was named in ``server_files`` (explicit)."""
    manifests = _manifests(options.server_files)
    requested = [f for f in options.server_files if f not in manifests]
    candidates = manifests or [
        m for m in (storage.manifests if storage else []) if _covers(m, requested)
    ]
    return requested, candidates, bool(manifests)


def _collect(
    source: MediaSource,
    options: DataOptions,
    storage: CloudStorage | None,
    progress: Callable[[float], None],
    *,
    manifests_tried: bool = False,
) -> tuple[list[_Media], str]:
    """The task's media in frame order, with sizes, and the folder they were taken from
    (``manifests_tried``: the storage's manifests were read already and none listed the
    request: the media are listed)."""
    requested, candidates, explicit = _candidates(options, storage)
    if manifests_tried:
        candidates = []
    found = _from_manifests(source, requested, candidates, explicit=explicit)
    if found is None:
        media = _listed_media(source, requested)
        keys, folder = list(media), _common_folder(media)
    else:
        media, keys, folder = found
    progress(0.1)

    keys = filter_keys(
        keys, filename_pattern=options.filename_pattern, exclude=options.server_files_exclude
    )
    if options.sorting_method == "predefined" and options.upload_file_order:
        rank = {name: i for i, name in enumerate(options.upload_file_order)}
        keys = sorted(keys, key=lambda k: rank.get(k, len(rank)))
    else:
        keys = sort_keys(keys, options.sorting_method, seed=options.seed)
    if not keys:
        raise errors.BadRequest(MSG_NO_IMAGES, code="no_images")
    if len(keys) > settings.MAX_TASK_IMAGES:
        raise errors.BadRequest(
            MSG_TOO_MANY.format(count=len(keys), limit=settings.MAX_TASK_IMAGES),
            code="too_many_images",
        )
    frame_range(
        len(keys),
        options.start_frame,
        options.stop_frame,
        parse_frame_filter(options.frame_filter),
    )
    selected = [media[k] for k in keys]
    _read_sizes(source, selected, progress)
    return selected, folder


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


class _Unsorted(Exception):
    """The manifest's keys are not in increasing order: its frame order needs every key."""


class _Skip(Exception):
    """A storage manifest that does not list what is requested: try the next one."""


class _StreamedCreate:
    """Creation from a manifest in one pass, in bounded memory (a 1,000,000-image manifest is
    never held): each entry is validated, selected (requested keys and folders,
    ``server_files_exclude``, ``filename_pattern``) and inserted as the next Image row, in
    batches, inside the one transaction; the frame range, the image limit and the request's
    keys are checked once the manifest is read, and any refusal rolls everything back.

    It applies when the frame order is the manifest's order: ``lexicographical`` sorting of a
    manifest whose keys increase (a repeat was refused by the reader; CVAT's tool and ours write
    them sorted) or ``predefined`` of the whole manifest. When the keys turn out not to be in
    order, the rows are rolled back and the media are collected as before (every entry held);
    ``natural`` and ``random`` sorting, ``copy_data`` and uploads always are. The refusals and
    their order are the same on both paths: the manifest's line errors as the lines are read,
    then ``not_in_manifest``, ``no_images``, ``too_many_images``, the frame range."""

    def __init__(
        self,
        task_id: int,
        storage: str,
        cloud_storage: CloudStorage | None,
        options: DataOptions,
        progress: Callable[[float], None],
    ) -> None:
        self.task_id, self.storage, self.cloud_storage = task_id, storage, cloud_storage
        self.options, self.progress = options, progress
        self.requested, self.candidates, self.explicit = _candidates(options, cloud_storage)
        self.manifests_tried = False

    def applies(self) -> bool:
        options = self.options
        if not self.candidates or (self.storage == StorageChoice.SHARE and options.copy_data):
            return False
        if options.sorting_method == "lexicographical":
            return True
        return (
            options.sorting_method == "predefined"
            and not options.upload_file_order
            and not self.requested
        )

    def run(self, source: MediaSource) -> Data | None:
        """The task's data, or None when the media must be collected the other way."""
        try:
            with transaction.atomic():
                task = Task.objects.select_for_update().filter(pk=self.task_id).first()
                if task is None:
                    raise errors.BadRequest(MSG_TASK_GONE, code="task_gone")
                if task.data_id is not None:
                    raise errors.BadRequest(MSG_HAS_DATA, code="task_has_data")
                data = Data.objects.create(
                    storage=self.storage,
                    cloud_storage=self.cloud_storage,
                    chunk_size=self.options.chunk_size or DEFAULT_CHUNK_SIZE,
                    image_quality=self.options.image_quality,
                    sorting_method=self.options.sorting_method,
                )
                for candidate in self.candidates:
                    savepoint = transaction.savepoint()
                    recorder = ManifestRecorder()
                    try:
                        count = self._insert(source, candidate, data, recorder)
                        transaction.savepoint_commit(savepoint)
                        self._finish(task, data, count, manifest_dir(candidate))
                        recorder.save(data)
                    except _Skip:
                        recorder.discard()
                        transaction.savepoint_rollback(savepoint)
                        continue
                    except BaseException:
                        recorder.discard()
                        raise
                    return data
                self.manifests_tried = True
                raise _Skip
        except (_Unsorted, _Skip):
            return None

    def _insert(
        self, source: MediaSource, candidate: str, data: Data, recorder: ManifestRecorder
    ) -> int:
        """Insert the candidate's selected entries as rows (and render them as the backup's
        manifest into ``recorder``); returns how many were selected."""
        options = self.options
        base = manifest_key_prefix(candidate)
        folder = manifest_dir(candidate)
        cloud = self.storage == StorageChoice.CLOUD_STORAGE
        recorder.prefix = folder if cloud else ""
        keys = {k for k in self.requested if not k.endswith("/")}
        folders = tuple(k for k in self.requested if k.endswith("/"))
        found: set[str] = set()
        excluded = frozenset(options.server_files_exclude)
        pattern = options.filename_pattern
        in_order = options.sorting_method == "lexicographical"
        limit = settings.MAX_TASK_IMAGES
        selected = kept = 0
        previous = ""

        def rows() -> Iterator[tuple[str, int, int, str, tuple[str, ...]]]:
            nonlocal selected, kept, previous
            with source.open(candidate) as stream:
                for entry in read_manifest(stream):
                    key = base + entry.path
                    if not is_image_key(key):
                        raise _not_image(key)
                    if in_order:
                        if key <= previous:
                            raise _Unsorted
                        previous = key
                    if self.requested:
                        if key in keys:
                            found.add(key)
                        elif not key.startswith(folders):
                            continue
                    selected += 1
                    if not key_kept(key, pattern, excluded):
                        continue
                    kept += 1
                    if kept <= limit:  # past it: only counted (and every line validated)
                        row = (
                            key,
                            entry.width,
                            entry.height,
                            entry.checksum or "",
                            tuple(base + related for related in entry.related_images),
                        )
                        recorder.add(*row)
                        yield row

        self.progress(0.1)
        images_create(
            data=data,
            rows=rows(),
            progress=lambda done: self.progress(min(0.9, 0.1 + 0.8 * done / limit)),
        )
        missing = [k for k in self.requested if not k.endswith("/") and k not in found]
        if self.explicit and missing:
            raise errors.BadRequest(
                MSG_NOT_IN_MANIFEST.format(key=shown(missing[0]), manifest=shown(candidate)),
                code="not_in_manifest",
                extra={"key": missing[0]},
            )
        if not self.explicit and (missing or not selected):
            raise _Skip
        return kept

    def _finish(self, task: Task, data: Data, count: int, folder: str) -> None:
        options = self.options
        if not count:
            raise errors.BadRequest(MSG_NO_IMAGES, code="no_images")
        if count > settings.MAX_TASK_IMAGES:
            raise errors.BadRequest(
                MSG_TOO_MANY.format(count=count, limit=settings.MAX_TASK_IMAGES),
                code="too_many_images",
            )
        step = parse_frame_filter(options.frame_filter)
        positions = frame_range(count, options.start_frame, options.stop_frame, step)
        if (
            self.cloud_storage is not None
            and not CloudStorage.objects.filter(pk=self.cloud_storage.pk).exists()
        ):
            raise errors.BadRequest(MSG_STORAGE_GONE, code="cloud_storage_gone")
        data.size = len(positions)
        data.start_frame = positions.start
        data.stop_frame = positions[-1]
        data.frame_filter = f"step={step}" if step > 1 else ""
        data.cloud_prefix = folder if self.storage == StorageChoice.CLOUD_STORAGE else ""
        data.save()
        task.data = data
        task.save(update_fields=["data", "updated_date"])
        segments_create(task=task, frames=data.size)
        self.progress(0.95)


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


__all__ = [
    "DataOptions",
    "task_data_create",
    "task_data_create_job",
    "task_data_submit",
    "task_data_upload_files",
    "task_data_upload_start",
]
