"""In the worker: the task's media from a manifest or a listing, selected and sorted, with their
sizes; or, when the frame order is the manifest's, the rows inserted as the manifest is read
(``_StreamedCreate``)."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from cvat_lite import errors
from cvat_lite.cloud.evidence import Evidence
from cvat_lite.engine.manifest_store import ManifestRecorder
from cvat_lite.engine.models import CloudStorage, Data, StorageChoice, Task
from cvat_lite.engine.services.data.options import (
    DEFAULT_CHUNK_SIZE,
    HEADER_READS,
    MSG_BAD_IMAGE,
    MSG_HAS_DATA,
    MSG_IMAGE_TOO_LARGE,
    MSG_NO_IMAGES,
    MSG_NOT_IMAGE,
    MSG_NOT_IN_MANIFEST,
    MSG_STORAGE_GONE,
    MSG_TASK_GONE,
    MSG_TOO_MANY,
    SIZE_WORKERS,
    DataOptions,
    _manifests,
)
from cvat_lite.engine.services.images import images_create
from cvat_lite.engine.services.jobs import segments_create
from cvat_lite.media import images
from cvat_lite.media.formats import IMAGE_EXTENSIONS, is_image_key
from cvat_lite.media.manifest import manifest_dir, manifest_key_prefix, read_manifest
from cvat_lite.media.paths import shown
from cvat_lite.media.selection import (
    SortingMethod,
    filter_keys,
    frame_range,
    key_kept,
    parse_frame_filter,
    sort_keys,
)
from cvat_lite.media.sources import MediaSource


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
    except errors.ImageTooLarge as exc:
        raise errors.ImageTooLarge(
            MSG_IMAGE_TOO_LARGE.format(path=shown(path), reason=exc.message)
        ) from None
    except errors.BadRequest:
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
    if options.sorting_method == SortingMethod.PREDEFINED and options.upload_file_order:
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
        if options.sorting_method == SortingMethod.LEXICOGRAPHICAL:
            return True
        return (
            options.sorting_method == SortingMethod.PREDEFINED
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
        in_order = options.sorting_method == SortingMethod.LEXICOGRAPHICAL
        limit = settings.MAX_TASK_IMAGES
        selected = kept = 0
        previous = ""

        cut = len(base) if cloud else 0  # where the recorded (backup) names start

        def rows() -> Iterator[tuple[str, int, int, str, tuple[str, ...]]]:
            nonlocal selected, kept, previous
            with source.open(candidate) as stream:
                for entry in read_manifest(stream):
                    key = base + entry.path
                    # is_image_key's test, with the split the recorder needs too
                    name, extension = posixpath.splitext(key)
                    if extension.lower() not in IMAGE_EXTENSIONS:
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
                        related = entry.related_images
                        if related and base:
                            related = tuple(base + item for item in related)
                        checksum = entry.checksum or ""
                        recorder.add_split(
                            name[cut:], extension, entry.width, entry.height, checksum, related
                        )
                        yield key, entry.width, entry.height, checksum, related

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
