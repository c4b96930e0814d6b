"""Build a CVAT image manifest for the objects under a bucket prefix, reading each image's
header with ranged GETs (``manifest_scan``), or the whole image when a checksum is asked for.

Width and height come from the first bytes of each object: ``HEAD_BYTES`` first, then the
next ranges, each twice as long as the previous one, until
``images.image_size_from_header`` can tell (a PNG needs 24 bytes, a JPEG everything up to its
first scan, which follows its EXIF block). Reading stops at the object's size, known from the
listing. With ``checksum=True`` each image is downloaded once and decoded for
``images.pixel_md5``: CVAT's checksum is the MD5 of the decoded pixels, which no header holds.

Objects are read by ``workers`` threads; at most ``2 * workers`` are queued at a time, so
memory does not grow with the number of objects beyond the entries themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TypeVar

from cvat_lite.cloud.base import CloudProvider
from cvat_lite.errors import BadRequest, CloudObjectNotFound, CvatLiteError
from cvat_lite.media.images import image_size, image_size_from_header, pixel_md5
from cvat_lite.media.manifest import ManifestEntry, entry_from_key
from cvat_lite.media.manifest_selection import Candidate, select_images

__all__ = ["HEAD_BYTES", "ScanResult", "manifest_scan", "read_image_size"]

HEAD_BYTES = 16 * 1024
DEFAULT_WORKERS = 16

Progress = Callable[[int, int], None]  # (images done, images in all)
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass
class ScanResult:
    entries: list[ManifestEntry] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (key, why), in key order
    unsupported: list[str] = field(default_factory=list)  # image keys cvat_lite cannot serve
    listed: int = 0  # objects under the prefix


def read_image_size(
    read: Callable[[int, int], bytes], size: int, *, first: int = HEAD_BYTES
) -> tuple[int, int]:
    """``(width, height)`` of an object of ``size`` bytes, reading as little of it as
    ``image_size_from_header`` needs through ``read(start, length)`` (a ranged GET). Raises
    ``BadRequest`` (``invalid_image``) when even the whole object is not an image."""
    head = b""
    length = max(1, first)
    while len(head) < size:
        chunk = read(len(head), min(length, size - len(head)))
        if not chunk:
            break  # shorter than listed (replaced meanwhile): decide on what we have
        head += chunk
        if len(head) < size and (found := image_size_from_header(head)) is not None:
            return found
        length *= 2
    return image_size(head)


def _entry(provider: CloudProvider, image: Candidate, checksum: bool) -> ManifestEntry:
    if checksum:
        data = provider.download(image.key)
        width, height = image_size(data)
        digest: str | None = pixel_md5(data)
    else:

        def read(start: int, length: int) -> bytes:
            return provider.download_range(image.key, start, length)

        (width, height), digest = read_image_size(read, image.size), None
    return entry_from_key(image.path, width, height, digest, image.related_images)


def _bounded_map(
    func: Callable[[_T], _R], items: Iterable[_T], workers: int
) -> Iterator[tuple[int, _R | CvatLiteError]]:
    """``(index, func(item) or the per-item error)`` as they complete, with ``workers``
    threads and at most ``2 * workers`` items submitted but not yet done. An error that is
    not about one object (the bucket is gone, the credentials were revoked) is raised."""

    def call(item: _T) -> _R | CvatLiteError:
        try:
            return func(item)
        except (BadRequest, CloudObjectNotFound) as exc:
            return exc

    pending: dict[Future[_R | CvatLiteError], int] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="manifest") as pool:
        try:
            for index, item in enumerate(items):
                if len(pending) >= 2 * workers:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield pending.pop(future), future.result()
                pending[pool.submit(call, item)] = index
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()


def manifest_scan(
    provider: CloudProvider,
    prefix: str,
    *,
    checksum: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> ScanResult:
    """List ``prefix`` and measure every image there (see the module docstring). Entries are
    relative to ``prefix``, which should be "" or end with "/" (the manifest's folder).
    Images that cannot be read (not an image, corrupt, a key no manifest can hold, deleted
    meanwhile) are reported in ``failures``; storage-wide errors are raised."""
    listing = [(info.key, info.size) for info in provider.iter_objects(prefix)]
    selection = select_images(listing, prefix)
    result = ScanResult(unsupported=selection.unsupported, listed=len(listing))
    images = selection.images
    found: list[ManifestEntry | None] = [None] * len(images)
    errors: dict[int, str] = {}
    if progress:
        progress(0, len(images))
    for done, (index, outcome) in enumerate(
        _bounded_map(lambda image: _entry(provider, image, checksum), images, max(1, workers)),
        start=1,
    ):
        if isinstance(outcome, CvatLiteError):
            errors[index] = outcome.message
        else:
            found[index] = outcome
        if progress:
            progress(done, len(images))
    result.entries = [entry for entry in found if entry is not None]
    result.failures = [(images[index].key, errors[index]) for index in sorted(errors)]
    return result
