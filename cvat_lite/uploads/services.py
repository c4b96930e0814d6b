"""Writes for uploads (contract 7.4): CVAT's TUS flow, multipart files, expiry.

The bytes of a TUS upload are appended to ``DATA_DIR/uploads/<id>``, whose size is the
upload's offset. Every write holds an exclusive ``flock`` on that file (not a database lock,
which on SQLite would block every writer while a slow client sends 10 MiB), so two PATCHes of
one upload never interleave: the second gets a 409 with the real offset. A finished upload is
moved to ``DATA_DIR/imports/`` and belongs to its consumer (``LocalFile.discard``). With an
object store as the shared store (``CVAT_LITE_SHARED_STORE``) the chunks are objects instead
(``cvat_lite.uploads.parts``) and a finished upload is ``StoredParts``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, Protocol

from django.conf import settings
from django.core.files.move import file_move_safe
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.store import shared_store
from cvat_lite.uploads import parts
from cvat_lite.uploads.models import Upload
from cvat_lite.uploads.selectors import upload_path, uploads_dir
from cvat_lite.uploads.sources import LocalFile, ReceivedFile, StoredParts

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger("cvat_lite.uploads")

IMPORTS_DIRNAME = "imports"
PIECE_SIZE = 1024 * 1024  # bytes copied per read
DEFAULT_NAME = "upload"
MAX_NAME_LENGTH = 255
# Abandoned TUS uploads are removed after this long without a write (settings.UPLOAD_TTL, in
# seconds, overrides it).

MSG_TOO_LARGE = "The file is larger than the limit of {limit} bytes."
MSG_USER_QUOTA = (
    "Your unfinished uploads would declare {total} bytes, above the limit of {limit} bytes per "
    "user. Finish or abandon an upload first (abandoned ones are removed after {ttl} seconds)."
)
MSG_USER_PENDING = (
    "You have {count} unfinished uploads, the most one user may have. Finish or abandon one "
    "first (abandoned ones are removed after {ttl} seconds)."
)
MSG_TOTAL_QUOTA = (
    "The server's upload space is full: unfinished uploads would declare {total} bytes, above "
    "its limit of {limit} bytes. Try again later."
)
MSG_DISK_FULL = (
    "The server's disk does not have room for this upload: {needed} bytes are needed, {free} "
    "are free. Try again later."
)
MSG_PAST_LENGTH = "The chunk would write past the declared Upload-Length ({length} bytes)."
MSG_OFFSET_MISMATCH = "Upload-Offset {sent} does not match the upload's offset {offset}."
MSG_BUSY = "Another chunk of this upload is being written. Retry from the current offset."
MSG_UNKNOWN_UPLOAD = "There is no upload named {filename} of yours to finish here."
MSG_INCOMPLETE = "The upload is incomplete: {offset} of {length} bytes were received."

_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._ -]+")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,16}")


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


# --- names and places --------------------------------------------------------------------------


def safe_filename(name: str) -> str:
    """``name``'s last path segment with only ``[A-Za-z0-9._ -]`` (others become ``_``), no
    leading dots or spaces, at most 255 characters; ``"upload"`` if nothing is left."""
    base = re.split(r"[/\\]", name)[-1]
    base = _UNSAFE_CHARACTERS.sub("_", base).strip(" ").lstrip(".")
    if len(base) > MAX_NAME_LENGTH:
        extension = _extension(base)
        base = base[: MAX_NAME_LENGTH - len(extension)] + extension
    return base or DEFAULT_NAME


def _extension(name: str) -> str:
    suffix = PurePosixPath(name).suffix
    return suffix.lower() if _EXTENSION.fullmatch(suffix) else ""


def _job_path(original_name: str) -> Path:
    root = Path(settings.DATA_DIR) / IMPORTS_DIRNAME
    root.mkdir(parents=True, exist_ok=True)
    return root / f"{uuid.uuid4().hex}{_extension(original_name)}"


def upload_size_check(*, size: int) -> None:
    """413 if ``size`` is above ``MAX_UPLOAD_SIZE``."""
    limit = settings.MAX_UPLOAD_SIZE
    if size > limit:
        raise errors.TooLarge(
            MSG_TOO_LARGE.format(limit=limit), code="upload_too_large", extra={"limit": limit}
        )


@contextlib.contextmanager
def _locked(path: Path, *, missing: Exception) -> Iterator[BinaryIO]:
    """``path`` open for update under an exclusive, non-blocking ``flock`` (released on close).
    A busy file is a 409 naming its current size; a missing one raises ``missing``."""
    try:
        file = open(path, "r+b")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise missing from None
    with file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            offset = os.fstat(file.fileno()).st_size
            raise errors.UploadOffsetConflict(MSG_BUSY, offset=offset, code="upload_busy") from None
        yield file


class _Gone(Exception):
    pass


# --- TUS ---------------------------------------------------------------------------------------


def upload_create(*, owner: User, endpoint: str, length: int, original_name: str) -> Upload:
    """TUS create: an empty upload of ``length`` bytes (413 above ``MAX_UPLOAD_SIZE``). Also
    removes the abandoned uploads of everyone (there is no scheduler to do it)."""
    upload_size_check(size=length)
    uploads_expire(older_than=timedelta(seconds=settings.UPLOAD_TTL))
    _quota_check(owner=owner, length=length)
    name = safe_filename(original_name)
    upload = Upload(owner=owner, endpoint=endpoint, original_name=name, length=length)
    upload.filename = f"{upload.pk.hex}{_extension(name)}"
    if not shared_store().is_local:  # its parts are written by the chunks
        upload.save(force_insert=True)
        return upload
    path = upload_path(upload)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=False)
    try:
        upload.save(force_insert=True)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return upload


def upload_append(
    *, upload: Upload, offset: int, stream: _Readable | None, content_length: int
) -> int:
    """TUS PATCH: append ``content_length`` bytes of ``stream`` at ``offset``; return the new
    offset. 409 if ``offset`` is not the upload's (or a chunk is being written), 413 if the
    chunk would pass ``upload.length``. A stream that ends early (the client went away) keeps
    what arrived, as TUS allows."""
    if not shared_store().is_local:
        return _parts_append(upload, offset, stream, content_length)
    with _locked(upload_path(upload), missing=errors.NotFound()) as file:
        current = os.fstat(file.fileno()).st_size
        _check_chunk(upload, offset, current, content_length)
        _disk_check(needed=content_length)
        file.seek(current)
        _copy(stream, file, content_length)
        file.flush()
        return file.tell()


def _check_chunk(upload: Upload, offset: int, current: int, content_length: int) -> None:
    """A chunk must start where the upload is and end within its declared length."""
    if offset != current:
        raise errors.UploadOffsetConflict(
            MSG_OFFSET_MISMATCH.format(sent=offset, offset=current), offset=current
        )
    if current + content_length > upload.length:
        raise errors.TooLarge(
            MSG_PAST_LENGTH.format(length=upload.length),
            code="upload_past_length",
            extra={"offset": current, "length": upload.length},
        )


def _parts_busy(upload: Upload) -> errors.UploadOffsetConflict:
    offset = parts.parts_offset(str(upload.pk))
    return errors.UploadOffsetConflict(MSG_BUSY, offset=offset, code="upload_busy")


def _parts_append(
    upload: Upload, offset: int, stream: _Readable | None, content_length: int
) -> int:
    with parts.parts_locked(str(upload.pk), busy=lambda: _parts_busy(upload)) as current:
        _check_chunk(upload, offset, current, content_length)
        return parts.parts_append(str(upload.pk), current, stream, content_length)


def _copy(stream: _Readable | None, file: BinaryIO, size: int) -> None:
    remaining = size
    while remaining > 0 and stream is not None:
        try:
            piece = stream.read(min(PIECE_SIZE, remaining))
        except OSError:  # the client went away mid-chunk
            logger.info("A chunk upload stopped early")
            return
        if not piece:
            return
        file.write(piece[:remaining])
        remaining -= len(piece)


def upload_finish(*, owner: User, endpoint: str, filename: str) -> ReceivedFile:
    """Upload-Finish: the caller's complete upload named ``filename`` (its Upload-Filename) on
    this endpoint becomes a ``LocalFile`` in ``DATA_DIR/imports/``; the row is deleted.
    Unknown, another user's or incomplete → 400."""
    unknown = errors.BadRequest(
        MSG_UNKNOWN_UPLOAD.format(filename=repr(filename[:100])),
        code="upload_not_found",
        extra={"filename": filename[:100]},
    )
    with transaction.atomic():
        upload = (
            Upload.objects.select_for_update()
            .filter(owner=owner, endpoint=endpoint, filename=filename)
            .first()
        )
        if upload is None:
            raise unknown
        if not shared_store().is_local:
            return _parts_finish(upload)
        source = upload_path(upload)
        with _locked(source, missing=unknown) as file:
            offset = os.fstat(file.fileno()).st_size
            if offset != upload.length:
                raise errors.BadRequest(
                    MSG_INCOMPLETE.format(offset=offset, length=upload.length),
                    code="upload_incomplete",
                    extra={"offset": offset, "length": upload.length},
                )
            destination = _job_path(upload.original_name)
            upload.delete()
            os.replace(source, destination)
    return LocalFile(path=destination, original_name=upload.original_name)


def _parts_finish(upload: Upload) -> StoredParts:
    upload_id = str(upload.pk)
    with parts.parts_locked(upload_id, busy=lambda: _parts_busy(upload)) as offset:
        if offset != upload.length:
            raise errors.BadRequest(
                MSG_INCOMPLETE.format(offset=offset, length=upload.length),
                code="upload_incomplete",
                extra={"offset": offset, "length": upload.length},
            )
        upload.delete()
    return StoredParts(prefix=parts.parts_prefix(upload_id), original_name=upload.original_name)


# --- bounds ------------------------------------------------------------------------------------


def _quota_check(*, owner: User, length: int) -> None:
    """Refuse a new upload of ``length`` bytes that would pass a bound on unfinished uploads:
    the owner's declared bytes or count (413), everyone's declared bytes (507), or the free disk
    space once every upload in progress is complete, minus the reserve (507). Declared bytes
    bound stored ones: a chunk never writes past its upload's length."""
    ttl = settings.UPLOAD_TTL
    mine = Upload.objects.filter(owner=owner).aggregate(n=Count("pk"), total=Sum("length"))
    if mine["n"] >= settings.UPLOAD_USER_MAX_PENDING:
        raise errors.TooLarge(
            MSG_USER_PENDING.format(count=mine["n"], ttl=ttl),
            code="upload_quota_exceeded",
            extra={"limit": settings.UPLOAD_USER_MAX_PENDING},
        )
    total = (mine["total"] or 0) + length
    if total > settings.UPLOAD_USER_QUOTA:
        limit = settings.UPLOAD_USER_QUOTA
        raise errors.TooLarge(
            MSG_USER_QUOTA.format(total=total, limit=limit, ttl=ttl),
            code="upload_quota_exceeded",
            extra={"limit": limit, "declared": total - length},
        )
    pending = list(Upload.objects.values_list("pk", "length"))
    everyone = sum(declared for _, declared in pending) + length
    if everyone > settings.UPLOAD_TOTAL_QUOTA:
        limit = settings.UPLOAD_TOTAL_QUOTA
        raise errors.InsufficientStorage(
            MSG_TOTAL_QUOTA.format(total=everyone, limit=limit),
            code="upload_space_full",
            extra={"limit": limit},
        )
    if shared_store().is_local:  # a bucket has no free space to check
        to_write = sum(max(declared - _stored(pk), 0) for pk, declared in pending)
        _disk_check(needed=to_write + length)


def _stored(pk: uuid.UUID) -> int:
    try:
        return (uploads_dir() / str(pk)).stat().st_size
    except FileNotFoundError:
        return 0


def _disk_check(*, needed: int) -> None:
    """507 unless the data disk keeps ``UPLOAD_DISK_RESERVE`` bytes free after ``needed``."""
    root = uploads_dir()
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if free - needed < settings.UPLOAD_DISK_RESERVE:
        raise errors.InsufficientStorage(
            MSG_DISK_FULL.format(needed=needed + settings.UPLOAD_DISK_RESERVE, free=free),
            extra={"free": free},
        )


# --- multipart ---------------------------------------------------------------------------------


def upload_save(*, file: UploadedFile) -> LocalFile:
    """A multipart file → a ``LocalFile`` in ``DATA_DIR/imports/`` (413 over the limit).
    Django's temporary file is moved, not copied, when it is on the same filesystem."""
    upload_size_check(size=file.size or 0)
    name = safe_filename(file.name or "")
    destination = _job_path(name)
    temporary = getattr(file, "temporary_file_path", None)
    try:
        if temporary is not None:
            file_move_safe(temporary(), str(destination))
        else:
            with open(destination, "xb") as out:
                for chunk in file.chunks(PIECE_SIZE):
                    out.write(chunk)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return LocalFile(path=destination, original_name=name)


# --- cleanup -----------------------------------------------------------------------------------


def uploads_expire(*, older_than: timedelta) -> int:
    """Remove TUS uploads without a write for ``older_than`` (rows and files), and files of
    the uploads area that have no row (left by a crash). Uploads being written are kept.
    Returns how many uploads were removed."""
    cutoff = timezone.now() - older_than
    if not shared_store().is_local:
        return _parts_expire(cutoff)
    removed = 0
    for upload in Upload.objects.filter(created_date__lte=cutoff):
        path = upload_path(upload)
        try:
            with _locked(path, missing=_Gone()):
                if _modified(path) > cutoff:
                    continue
                Upload.objects.filter(pk=upload.pk).delete()
                path.unlink()
        except errors.UploadOffsetConflict:  # being written right now
            continue
        except _Gone:
            Upload.objects.filter(pk=upload.pk).delete()
        removed += 1
    _remove_orphans(cutoff)
    return removed


def _parts_expire(cutoff: datetime) -> int:
    removed = 0
    for upload in Upload.objects.filter(created_date__lte=cutoff):
        upload_id = str(upload.pk)
        try:
            with parts.parts_locked(upload_id, busy=errors.Conflict):
                written = parts.parts_last_write(upload_id)
                if written is not None and written > cutoff.timestamp():
                    continue
                Upload.objects.filter(pk=upload.pk).delete()
                shared_store().delete_prefix(parts.parts_prefix(upload_id))
        except errors.Conflict:  # being written right now
            continue
        removed += 1
    known = {str(pk) for pk in Upload.objects.values_list("pk", flat=True)}
    parts.parts_expire_orphans(known=known, cutoff=cutoff)
    return removed


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _remove_orphans(cutoff: datetime) -> None:
    root = uploads_dir()
    if not root.is_dir():
        return
    old: dict[uuid.UUID, Path] = {}
    for entry in root.iterdir():
        with contextlib.suppress(ValueError, FileNotFoundError):
            if _modified(entry) <= cutoff:
                old[uuid.UUID(entry.name)] = entry
    if not old:
        return
    known = set(Upload.objects.filter(pk__in=list(old)).values_list("pk", flat=True))
    for pk, entry in old.items():
        if pk not in known:
            entry.unlink(missing_ok=True)
