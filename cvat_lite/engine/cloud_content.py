"""Reads of a cloud storage's bucket for the API: its status and its content, one folder level
at a time (``GET /api/cloudstorages/{id}/status`` and ``/content-v2``).

Names are relative to the folder of ``prefix`` (the part after its last '/'), as in CVAT, so
``prefix + name`` is the object key (or, for a directory, the next prefix without its '/').
The storage's ``prefix`` attribute limits what is shown: entries outside it are hidden, and a
folder above it shows just the one directory that leads to it.
"""

from __future__ import annotations

import mimetypes
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass

from cvat_lite import errors
from cvat_lite.cloud.base import STATUS_TIMEOUTS, Status
from cvat_lite.engine.cloud import provider_for, storage_prefix
from cvat_lite.engine.models import CloudStorage
from cvat_lite.media.formats import extension_of, is_image_key
from cvat_lite.media.manifest import read_manifest, relative_key
from cvat_lite.media.paths import validate_relative_path
from cvat_lite.media.selection import SortingMethod, sort_keys

MAX_PAGE_SIZE = 500
MSG_BAD_NEXT_TOKEN = "The next_token must be the 'next' value of a previous page."

DIR, REG = "DIR", "REG"
ARCHIVE_EXTENSIONS = frozenset({".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar"})
_SPOOL_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True)
class ContentEntry:
    name: str
    type: str  # "DIR" | "REG"
    mime_type: str  # "DIR" for directories; "image", "video", "archive", "pdf", "unknown"


@dataclass(frozen=True)
class ContentPage:
    content: list[ContentEntry]
    next: str | None


def cloud_storage_status(*, storage: CloudStorage) -> Status:
    """AVAILABLE, NOT_FOUND (also for an unreachable endpoint; the provider logs why) or
    FORBIDDEN, with fail-fast timeouts. EndpointNotAllowed when the allowlist no longer
    allows the storage's endpoint."""
    return provider_for(storage, timeouts=STATUS_TIMEOUTS).status()


def cloud_storage_content(
    *,
    storage: CloudStorage,
    prefix: str = "",
    next_token: str | None = None,
    page_size: int = MAX_PAGE_SIZE,
    manifest_path: str | None = None,
) -> ContentPage:
    """One page of the folder level at ``prefix``: directories first, then files. From the
    bucket (provider order and tokens) or, with ``manifest_path``, from that manifest's
    entries (natural order, numeric tokens). Cloud errors propagate (409 / 404)."""
    prefix = prefix.lstrip("/")
    scope = _scope(prefix, storage_prefix(storage))
    if scope is None:
        return ContentPage([], None)
    if isinstance(scope, ContentEntry):
        return ContentPage([scope], None)
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    if manifest_path:
        return _manifest_page(storage, manifest_path, scope, next_token, page_size)
    return _bucket_page(storage, scope, next_token, page_size)


def mime_type_of(name: str) -> str:
    """CVAT's coarse media type of a file name."""
    if is_image_key(name):
        return "image"
    guessed = mimetypes.guess_type(name, strict=False)[0] or ""
    major = guessed.partition("/")[0]
    if major in ("image", "video"):
        return major
    if guessed == "application/pdf":
        return "pdf"
    if extension_of(name).lower() in ARCHIVE_EXTENSIONS:
        return "archive"
    return "unknown"


# --- helpers -----------------------------------------------------------------------------------


def _scope(prefix: str, root: str) -> str | ContentEntry | None:
    """The prefix to search for ``prefix`` within a storage limited to ``root``: None when
    the two do not overlap, a single directory entry when ``root`` lies deeper than the
    folder of ``prefix``."""
    if not root or prefix.startswith(root):
        return prefix
    if not root.startswith(prefix):
        return None
    rest = root[prefix.rfind("/") + 1 :]
    head, slash, _ = rest.partition("/")
    if slash:
        return ContentEntry(head, DIR, DIR)
    return root


def _entries(directories: Iterable[str], files: Iterable[str]) -> list[ContentEntry]:
    content = [ContentEntry(name, DIR, DIR) for name in directories if name]
    content += [ContentEntry(name, REG, mime_type_of(name)) for name in files if name]
    return content


def _bucket_page(
    storage: CloudStorage, search: str, next_token: str | None, page_size: int
) -> ContentPage:
    page = provider_for(storage).list_page(
        search, delimiter="/", next_token=next_token or None, page_size=page_size
    )
    cut = search.rfind("/") + 1
    directories = [p[cut:].rstrip("/") for p in page.prefixes]
    files = [o.key[cut:] for o in page.objects]  # "" for a folder marker object: dropped
    return ContentPage(_entries(directories, files), page.next_token)


def _manifest_page(
    storage: CloudStorage, manifest_path: str, search: str, next_token: str | None, page_size: int
) -> ContentPage:
    validate_relative_path(manifest_path)
    start = _offset(next_token)
    cut = search.rfind("/") + 1
    directories: set[str] = set()
    files: list[str] = []
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_SIZE) as stream:
        provider_for(storage).download_to(manifest_path, stream)
        stream.seek(0)
        for entry in read_manifest(stream):
            key = relative_key(manifest_path, entry.path)
            if not key.startswith(search):
                continue
            head, slash, _ = key[cut:].partition("/")
            if slash:
                directories.add(head)
            else:
                files.append(head)
    natural = SortingMethod.NATURAL
    level = _entries(sort_keys(directories, natural), sort_keys(files, natural))
    end = start + page_size
    return ContentPage(level[start:end], str(end) if end < len(level) else None)


def _offset(next_token: str | None) -> int:
    if not next_token:
        return 0
    if not next_token.isdecimal():
        raise errors.BadRequest(MSG_BAD_NEXT_TOKEN, code="invalid_next_token")
    return int(next_token)
