"""``ArchiveReader``: a ZIP validated as a whole on open, read as verified streams."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import stat
import struct
import zipfile
import zlib
from typing import IO, Any, cast

from cvat_lite.backup.archive.names import CHECKSUMS_NAME, member_name_problem
from cvat_lite.backup.limits import Limits, MiB
from cvat_lite.errors import ArchiveError
from cvat_lite.media.paths import shown

SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
CHUNK = 1 * MiB

NOT_A_ZIP = "The file is not a ZIP archive."
CORRUPT = "The ZIP archive is truncated or corrupt."
UNSUPPORTED_ZIP = "The ZIP archive needs a ZIP feature this server does not support."
TOO_MANY_MEMBERS = "The archive has more than {limit} members."
BAD_NAME = "The archive member {name} {reason}."
SYMLINK = "The archive member {name} is a symbolic link."
ENCRYPTED = "The archive member {name} is encrypted."
UNSUPPORTED_COMPRESSION = "The archive member {name} uses an unsupported compression method."
DUPLICATE = "The archive member {name} appears more than once."
FILE_AND_FOLDER = "The archive member {name} is both a file and a folder."
MEMBER_TOO_LARGE = "The archive member {name} is larger than {limit} bytes."
TOTAL_TOO_LARGE = "The archive's content is larger than {limit} bytes."
MEMBER_RATIO = "The archive member {name} is compressed more than {limit}:1 (a ZIP bomb?)."
TOTAL_RATIO = "The archive is compressed more than {limit}:1 (a ZIP bomb?)."
OVERLAP = "The archive members {first} and {second} overlap."
LEADING_DATA = (
    "The ZIP archive has data before its first member or its central directory "
    "(archives joined together?)."
)
TRAILING_DATA = "The ZIP archive has data after its end record (archives joined together?)."
CORRUPT_MEMBER = "The archive member {name} is corrupt."
MEMBER_LONGER = "The archive member {name} is larger than its header says."
MEMBER_SHORTER = "The archive member {name} is shorter than its header says."
NO_MEMBER = "The archive has no member {name}."
CHECKSUM_MISMATCH = "The archive member {name} does not match its checksum."
CHECKSUM_UNLISTED = "The archive member {name} is not listed in checksums.sha256."
CHECKSUM_ABSENT = "checksums.sha256 lists {name}, which is not in the archive."
CHECKSUM_TWICE = "checksums.sha256 lists {name} more than once."
CHECKSUM_LINE = "checksums.sha256 line {line} is malformed."

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20
_ZIP64_EOCD = b"PK\x06\x06"
_ZIP64_EOCD_SIZE = 56
_CENTRAL_ENTRY = b"PK\x01\x02"
_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30
_FLAG_ENCRYPTED = 0x01
_FLAG_PATCHED = 0x20
_FLAG_STRONG_ENCRYPTION = 0x40
_CHECKSUM_LINE = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")


def _error(message: str, name: str | None = None, **values: Any) -> ArchiveError:
    extra = {} if name is None else {"member": name}
    return ArchiveError(message.format(name=shown(name or ""), **values), extra=extra)


# --- the central directory ---------------------------------------------------------------------


def _central_directory(fp: IO[bytes], file_size: int) -> tuple[int, int]:
    """Where the central directory is (start, size), read from the end records.

    The archive must be exactly one ZIP: the end record (and its comment) ends the file, and the
    central directory sits where its end record says, right before the end records. zipfile
    forgives both (it shifts every offset by what was prepended), so a ZIP appended to another,
    or data around one, would be read as the last archive alone.
    """
    tail_size = min(file_size, _EOCD_SIZE + 0xFFFF)
    fp.seek(file_size - tail_size)
    tail = fp.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < _EOCD_SIZE:
        fp.seek(0)
        raise ArchiveError(CORRUPT if fp.read(4) == _LOCAL_HEADER else NOT_A_ZIP)
    end = file_size - tail_size + at
    *_, entries, size, offset, comment = struct.unpack("<4s4H2LH", tail[at : at + _EOCD_SIZE])
    if end + _EOCD_SIZE + comment != file_size:
        raise ArchiveError(TRAILING_DATA)
    if entries == 0xFFFF or 0xFFFFFFFF in (size, offset):
        locator_at = end - _ZIP64_LOCATOR_SIZE
        fp.seek(max(locator_at, 0))
        if locator_at >= _ZIP64_EOCD_SIZE and fp.read(4) == _ZIP64_LOCATOR:
            end = locator_at - _ZIP64_EOCD_SIZE
            fp.seek(end)
            record = fp.read(_ZIP64_EOCD_SIZE)
            if record[:4] != _ZIP64_EOCD:
                raise ArchiveError(CORRUPT)
            size, offset = struct.unpack("<QQ", record[40:56])
    if size > end:
        raise ArchiveError(CORRUPT)
    if offset < end - size:  # bytes added in front or between (missing bytes: corrupt, below)
        raise ArchiveError(LEADING_DATA)
    return end - size, size


def _count_entries(fp: IO[bytes], start: int, size: int, limit: int) -> None:
    """Refuse more than ``limit`` entries before zipfile builds an object for each: count the
    entry signatures in the central directory (C speed, stops at the limit)."""
    fp.seek(start)
    count, left, carry = 0, size, b""
    while left > 0:
        block = carry + fp.read(min(CHUNK, left))
        if len(block) == len(carry):
            raise ArchiveError(CORRUPT)
        left -= len(block) - len(carry)
        count += block.count(_CENTRAL_ENTRY)
        if count > limit:
            raise ArchiveError(TOO_MANY_MEMBERS.format(limit=limit))
        carry = block[-3:]  # a signature cut by the block boundary is counted next time


def _is_dir(info: zipfile.ZipInfo) -> bool:
    """``ZipInfo.is_dir`` on the name before zipfile cuts it at a NUL (and without its
    IndexError for an empty name)."""
    return info.orig_filename.endswith("/")


def _check_member(info: zipfile.ZipInfo, limits: Limits) -> None:
    name = info.orig_filename  # before zipfile cuts it at a NUL
    if _is_dir(info):
        name = name[:-1]
    reason = member_name_problem(name, max_bytes=limits.max_name_length)
    if reason is not None:
        raise ArchiveError(
            BAD_NAME.format(name=shown(info.orig_filename), reason=reason),
            extra={"member": info.orig_filename},
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise _error(SYMLINK, name)
    if info.flag_bits & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
        raise _error(ENCRYPTED, name)
    if info.compress_type not in SUPPORTED_COMPRESSION or info.flag_bits & _FLAG_PATCHED:
        raise _error(UNSUPPORTED_COMPRESSION, name)
    if _is_dir(info) and info.file_size:
        raise _error(CORRUPT_MEMBER, name)
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise _error(CORRUPT_MEMBER, name)
    if info.file_size > limits.max_member_size:
        raise _error(MEMBER_TOO_LARGE, name, limit=limits.max_member_size)
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.ratio_threshold and ratio > limits.max_ratio:
        raise _error(MEMBER_RATIO, name, limit=limits.max_ratio)


def _check_members(zf: zipfile.ZipFile, archive_size: int, limits: Limits) -> dict[str, Any]:
    """Validate every entry; return the files (name -> ZipInfo), directories left out."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveError(TOO_MANY_MEMBERS.format(limit=limits.max_members))
    files: dict[str, zipfile.ZipInfo] = {}
    folders: set[str] = set()
    total = 0
    for info in infos:
        _check_member(info, limits)
        if _is_dir(info):
            name = info.orig_filename[:-1]
            if name in files:
                raise _error(FILE_AND_FOLDER, name)
            folders.add(name)
            continue
        name = info.orig_filename
        if name in files:
            raise _error(DUPLICATE, name)
        if name in folders:
            raise _error(FILE_AND_FOLDER, name)
        files[name] = info
        total += info.file_size
        if total > limits.max_total_size:
            raise ArchiveError(TOTAL_TOO_LARGE.format(limit=limits.max_total_size))
    for name in files:
        parents = name.split("/")[:-1]
        for depth in range(1, len(parents) + 1):
            parent = "/".join(parents[:depth])
            if parent in files:
                raise _error(FILE_AND_FOLDER, parent)
    if total > limits.ratio_threshold and total / max(archive_size, 1) > limits.max_ratio:
        raise ArchiveError(TOTAL_RATIO.format(limit=limits.max_ratio))
    _check_overlaps(infos, zf.start_dir)
    return files


def _check_overlaps(infos: list[zipfile.ZipInfo], directory_start: int) -> None:
    """Each member's data must end before the next one starts (overlapping members are the
    other kind of ZIP bomb: many entries inflating the same compressed bytes)."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    if ordered and ordered[0].header_offset < 0:  # zipfile shifts offsets by the file's start
        raise _error(CORRUPT_MEMBER, ordered[0].filename)
    if ordered and ordered[0].header_offset != 0:
        raise ArchiveError(LEADING_DATA)
    if not ordered and directory_start != 0:
        raise ArchiveError(LEADING_DATA)
    for info, following in itertools.pairwise(ordered):
        if info.header_offset + _LOCAL_HEADER_SIZE + info.compress_size > following.header_offset:
            raise ArchiveError(
                OVERLAP.format(first=shown(info.filename), second=shown(following.filename))
            )
    if ordered:
        last = ordered[-1]
        if last.header_offset + _LOCAL_HEADER_SIZE + last.compress_size > directory_start:
            raise _error(CORRUPT_MEMBER, last.filename)


# --- members -----------------------------------------------------------------------------------


class _MemberStream(io.RawIOBase):
    """One member, read as it inflates: refuses more bytes than the header declares, maps
    zipfile/zlib errors to ``ArchiveError``, and checks the sha256 (when the archive lists
    one) as the last byte is read."""

    def __init__(
        self,
        zf: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        expected: str | None = None,
        verified: set[str] | None = None,
    ):
        super().__init__()
        self._inner: zipfile.ZipExtFile | None = None
        self._verified = verified  # where the name goes once the checksum matched
        self._name = info.filename
        self._size = info.file_size
        self._expected = expected
        self._hash = hashlib.sha256() if expected is not None else None
        self._count = 0
        self._done = False
        try:
            self._inner = cast(zipfile.ZipExtFile, zf.open(info))
        except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError):
            raise _error(CORRUPT_MEMBER, self._name) from None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        assert self._inner is not None
        try:
            count = self._inner.readinto(buffer)
        except (zipfile.BadZipFile, EOFError, zlib.error, ValueError):
            raise _error(CORRUPT_MEMBER, self._name) from None
        self._count += count
        if self._count > self._size:
            raise _error(MEMBER_LONGER, self._name)
        if self._hash is not None:
            self._hash.update(memoryview(buffer)[:count])
        if count == 0 and self._count < self._size:
            raise _error(MEMBER_SHORTER, self._name)
        if self._count == self._size and not self._done:
            self._done = True
            self._finish()
        return count

    def _finish(self) -> None:
        if self._hash is None:
            return
        if self._hash.hexdigest() != self._expected:
            raise _error(CHECKSUM_MISMATCH, self._name)
        if self._verified is not None:
            self._verified.add(self._name)

    def close(self) -> None:
        if not self.closed and self._inner is not None:
            self._inner.close()
        super().close()


class ArchiveReader:
    """A ZIP archive at ``path``, validated on open (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], *, limits: Limits | None = None):
        self.limits = limits or Limits()
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            self._zip = self._open_zip()
            self._files = _check_members(self._zip, self._archive_size, self.limits)
            self._verified: set[str] = set()
            self.checksums = self._load_checksums()
        except BaseException:
            self._file.close()
            raise

    def _open_zip(self) -> zipfile.ZipFile:
        self._archive_size = os.fstat(self._file.fileno()).st_size
        start, size = _central_directory(self._file, self._archive_size)
        _count_entries(self._file, start, size, self.limits.max_members)
        self._file.seek(0)
        try:
            return zipfile.ZipFile(self._file)
        except (zipfile.BadZipFile, EOFError, ValueError, struct.error, OSError):
            raise ArchiveError(CORRUPT) from None
        except NotImplementedError:  # "zip file version 8.4": needs a newer ZIP reader
            raise ArchiveError(UNSUPPORTED_ZIP) from None

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    def names(self) -> list[str]:
        """The file members, in archive order (directory entries are not listed)."""
        return list(self._files)

    def has(self, name: str) -> bool:
        return name in self._files

    def size(self, name: str) -> int:
        return self._info(name).file_size

    def open(self, name: str) -> IO[bytes]:
        """A binary stream of the member (see ``_MemberStream``); read it to the end for its
        checksum to count as verified."""
        info = self._info(name)
        expected = None if self.checksums is None else self.checksums.get(name)
        return _MemberStream(self._zip, info, expected, self._verified)  # type: ignore[return-value]

    def read_bytes(self, name: str, *, limit: int | None = None) -> bytes:
        """The whole member; refused if it is larger than ``limit`` (default: the member
        limit)."""
        limit = self.limits.max_member_size if limit is None else limit
        if self._info(name).file_size > limit:
            raise _error(MEMBER_TOO_LARGE, name, limit=limit)
        with self.open(name) as stream:
            return b"".join(iter(lambda: stream.read(CHUNK), b""))

    @property
    def has_checksums(self) -> bool:
        return self.checksums is not None

    def verify_checksums(self) -> None:
        """Hash every member not yet verified by a complete read. A no-op for archives without
        ``checksums.sha256`` (e.g. CVAT's); the listing itself was checked on open."""
        if self.checksums is None:
            return
        for name in self._files:
            if name != CHECKSUMS_NAME and name not in self._verified:
                with self.open(name) as stream:
                    while stream.read(CHUNK):
                        pass

    def _info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self._files[name]
        except KeyError:
            raise _error(NO_MEMBER, name) from None

    def _load_checksums(self) -> dict[str, str] | None:
        """The checksum of every member, from ``checksums.sha256``; every member must be
        listed exactly once and every listed name must be a member."""
        if CHECKSUMS_NAME not in self._files:
            return None
        limit = len(self._files) * (64 + 3 + self.limits.max_name_length)
        if self.size(CHECKSUMS_NAME) > limit:
            raise _error(MEMBER_TOO_LARGE, CHECKSUMS_NAME, limit=limit)
        with _MemberStream(self._zip, self._info(CHECKSUMS_NAME)) as stream:
            data = stream.read()
        checksums: dict[str, str] = {}
        for number, raw in enumerate(data.split(b"\n"), start=1):
            line = raw.removesuffix(b"\r")
            if not line:
                continue
            try:
                match = _CHECKSUM_LINE.fullmatch(line.decode("utf-8"))
            except UnicodeDecodeError:
                match = None
            if match is None:
                raise ArchiveError(CHECKSUM_LINE.format(line=number))
            digest, name = match.group(1).lower(), match.group(2)
            if name in checksums:
                raise _error(CHECKSUM_TWICE, name)
            if name not in self._files or name == CHECKSUMS_NAME:
                raise _error(CHECKSUM_ABSENT, name)
            checksums[name] = digest
        for name in self._files:
            if name not in checksums and name != CHECKSUMS_NAME:
                raise _error(CHECKSUM_UNLISTED, name)
        return checksums
