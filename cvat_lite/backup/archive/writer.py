"""``ArchiveWriter``: a ZIP written as a stream, with ``checksums.sha256`` as its last member."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
import zipfile
from collections.abc import Iterable
from typing import IO, Any

from cvat_lite.backup.archive.names import CHECKSUMS_NAME, member_name_problem
from cvat_lite.backup.archive.safe_json import json_bytes, json_chunks
from cvat_lite.backup.limits import Limits
from cvat_lite.media.formats import COMPRESSED_EXTENSIONS, extension_of

# Stored as they are: deflating them again costs CPU and saves nothing.
STORED_EXTENSIONS = COMPRESSED_EXTENSIONS | {
    ".avif",
    ".heic",
    ".jp2",
    ".mp4",
    ".mkv",
    ".webm",
    ".avi",
    ".mov",
    ".zip",
    ".gz",
    ".bz2",
    ".xz",
    ".7z",
}
_MAX_NAME_BYTES = Limits().max_name_length
_COPY = 1024 * 1024


class _Sink:
    """The output stream as zipfile sees it: seekable only if the stream is, and able to drop
    everything once the archive is aborted (so no central directory is written)."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self.discarding = False
        try:
            self._seekable = bool(stream.seekable()) and stream.tell() >= 0
        except (AttributeError, OSError, ValueError):
            self._seekable = False

    def write(self, data: bytes) -> int:
        if not self.discarding:
            self._stream.write(data)
        return len(data)

    def tell(self) -> int:
        if not self._seekable:
            raise OSError("not seekable")  # zipfile then counts bytes itself
        return self._stream.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if not self._seekable:
            raise OSError("not seekable")
        return self._stream.seek(offset, whence)

    def flush(self) -> None:
        if not self.discarding and hasattr(self._stream, "flush"):
            self._stream.flush()


class ArchiveWriter:
    """Write a ZIP archive to ``stream`` (``wb`` file, socket, pipe, upload stream...).

    Use as a context manager, or call ``close()``; the stream itself is not closed."""

    def __init__(self, stream: IO[bytes], *, date_time: tuple[int, ...] | None = None):
        self._sink = _Sink(stream)
        self._zip = zipfile.ZipFile(self._sink, "w", allowZip64=True)  # type: ignore[call-overload]
        self._date_time = tuple(date_time or time.localtime()[:6])
        self._checksums: list[tuple[str, str]] = []
        self._names: set[str] = set()
        self._closed = False

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def checksums(self) -> list[tuple[str, str]]:
        """``(name, sha256 hex)`` of every member written so far, in write order."""
        return list(self._checksums)

    def add_bytes(self, name: str, data: bytes) -> str:
        return self.add_stream(name, (data,), size=len(data))

    def add_json(self, name: str, obj: Any) -> str:
        """``obj`` as compact UTF-8 JSON; a list is encoded and written item by item."""
        if isinstance(obj, list):
            return self.add_stream(name, json_chunks(obj))
        return self.add_bytes(name, json_bytes(obj))

    def add_stream(self, name: str, chunks: Iterable[bytes], size: int | None = None) -> str:
        """Write a member from byte chunks and return its sha256 (hex). ``size``, when known,
        must be exact; without it the member gets ZIP64 sizes (it may be > 4 GiB)."""
        self._check_name(name)
        return self._write(name, chunks, size)

    def add_deflated(
        self,
        name: str,
        stream: IO[bytes],
        *,
        crc: int,
        size: int,
        compress_size: int,
        sha256: str,
    ) -> str:
        """Write a member whose content is already deflated (raw deflate, as zipfile writes
        it): ``stream``'s ``compress_size`` bytes are copied as they are, with the content's
        CRC-32, size and sha256 given (they were computed when it was deflated). Returns the
        sha256."""
        self._check_name(name)
        zf = self._zip
        info = zipfile.ZipInfo(name, date_time=self._date_time)  # type: ignore[arg-type]
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        info.file_size, info.compress_size, info.CRC = size, compress_size, crc
        zip64 = max(size, compress_size) >= zipfile.ZIP64_LIMIT
        # What ZipFile._open_to_write and _ZipWriteFile.close do for a member, with the sizes
        # and CRC known before the header is written (so no data descriptor is needed).
        if zf._seekable:  # type: ignore[attr-defined]
            zf.fp.seek(zf.start_dir)  # type: ignore[union-attr]
        info.header_offset = zf.fp.tell()  # type: ignore[union-attr]
        zf._writecheck(info)  # type: ignore[attr-defined]
        zf._didModify = True  # type: ignore[attr-defined]
        self._names.add(name)
        zf.fp.write(info.FileHeader(zip64))  # type: ignore[union-attr]
        copied = 0
        while block := stream.read(_COPY):
            zf.fp.write(block)  # type: ignore[union-attr]
            copied += len(block)
        if copied != compress_size:
            raise ValueError(f"archive member {name!r}: {copied} bytes, {compress_size} declared")
        zf.start_dir = zf.fp.tell()  # type: ignore[union-attr]
        zf.filelist.append(info)
        zf.NameToInfo[name] = info
        self._checksums.append((name, sha256))
        return sha256

    def _write(self, name: str, chunks: Iterable[bytes], size: int | None) -> str:
        info = zipfile.ZipInfo(name, date_time=self._date_time)  # type: ignore[arg-type]
        stored = extension_of(name).lower() in STORED_EXTENSIONS
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        if size is not None:
            info.file_size = size
        digest = hashlib.sha256()
        written = 0
        self._names.add(name)
        with self._zip.open(info, "w", force_zip64=size is None) as out:
            for chunk in chunks:
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
        if size is not None and written != size:
            raise ValueError(f"archive member {name!r}: {written} bytes written, {size} declared")
        self._checksums.append((name, digest.hexdigest()))
        return digest.hexdigest()

    def close(self) -> None:
        """Write ``checksums.sha256`` and the central directory."""
        if self._closed:
            return
        lines = "".join(f"{digest}  {name}\n" for name, digest in self._checksums).encode()
        self._write(CHECKSUMS_NAME, (lines,), len(lines))
        self._closed = True
        self._zip.close()

    def abort(self) -> None:
        """Stop writing: the archive is left without its central directory (unreadable)."""
        if self._closed:
            return
        self._closed = True
        self._sink.discarding = True
        with contextlib.suppress(OSError, ValueError):  # the stream may be what failed
            self._zip.close()

    def _check_name(self, name: str) -> None:
        if self._closed:
            raise ValueError("the archive is closed")
        reason = member_name_problem(name, max_bytes=_MAX_NAME_BYTES)
        if reason is not None:
            raise ValueError(f"invalid archive member name {name!r}: {reason}")
        if name in self._names or name == CHECKSUMS_NAME:
            raise ValueError(f"archive member {name!r} written twice or reserved")
