"""The media manifest (``manifest.jsonl``, contract 5.2): a streaming reader and writer.

Format (CVAT's image manifest): JSON lines; line 1 ``{"version":"1.1"}`` ("1.0" is read too),
line 2 ``{"type":"images"}``, then one line per image::

    {"name":"dir/img1","extension":".jpg","width":720,"height":405,
     "meta":{"related_images":["dir/related/img1_ctx.png"]},"checksum":"<md5 hex>"}

``name`` is the key without its extension, relative to the folder holding the manifest;
``meta`` and ``checksum`` are optional, and other keys (CVAT writes e.g. ``original_key``) are
ignored. Every line is validated; names and related images are untrusted paths (see
``paths.path_problem``). Errors are ``ManifestError`` with the 1-based line number in
``extra["line"]``. Blank lines (and a UTF-8 BOM, and CRLF line ends) are tolerated.
"""

from __future__ import annotations

import bisect
import json
import posixpath
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import IO, Any

from cvat_lite.errors import ManifestError
from cvat_lite.media.paths import (
    MAX_PATH_BYTES,
    PATH_TOO_LONG,
    path_problem,
    shown,
    validate_relative_path,
)

MAX_LINE_LENGTH = 64 * 1024
MAX_ENTRIES = 1_000_000
MAX_SIDE = 2**31 - 1  # fits the database's integer columns
SUPPORTED_VERSIONS = ("1.0", "1.1")
WRITTEN_VERSION = "1.1"
READ_CHUNK = 64 * 1024
WRITE_LINES = 1024  # lines joined into one write

LINE_ERROR = "Manifest line {line}: {problem}"
ENTRY_ERROR = "Manifest entry {entry}: {problem}"
# Problems: completed by LINE_ERROR / ENTRY_ERROR.
EMPTY_MANIFEST = 'the manifest is empty; it must start with {"version":"1.1"}.'
TOO_LONG = "the line is longer than {limit} bytes."
NOT_UTF8 = "the line is not valid UTF-8."
NOT_JSON = "the line is not valid JSON."
TOO_DEEP = "the line is nested too deeply."
NOT_OBJECT = "the line must be a JSON object."
NO_VERSION = 'the first line must be the version header, e.g. {"version":"1.1"}.'
BAD_VERSION = 'unsupported manifest version {version}; supported: "1.0", "1.1".'
NO_TYPE = 'the second line must be the type header {"type":"images"}.'
VIDEO_TYPE = 'video manifests are not supported; only image manifests ("type":"images") are.'
BAD_TYPE = 'unsupported manifest type {type}; expected "images".'
TOO_MANY = "the manifest lists more than {limit} images."
MISSING_KEY = "the key '{key}' is missing."
NOT_STRING = "'{key}' must be a string."
NOT_POSITIVE = "'{key}' must be a positive integer."
TOO_BIG = "'{key}' must be at most {limit}."
BAD_NAME = "the name {name} {reason}."
BAD_EXTENSION = "the extension {extension} must be empty or start with '.' and contain no '/'."
BAD_PATH = "the path {path} {reason}."
BAD_META = "'meta' must be an object."
BAD_RELATED_LIST = "'meta.related_images' must be a list of strings."
BAD_RELATED = "the related image {path} {reason}."
BAD_CHECKSUM = "'checksum' must be a 32-digit hexadecimal MD5 digest."
DUPLICATE = "the image {path} is listed more than once."
REPEATED_DIFFERENT = (
    "the image {path} is listed again with a different width, height, checksum or related images."
)

_CHECKSUM = re.compile(r"[0-9a-fA-F]{32}")
_BAD_EXTENSION_CHARS = re.compile(r"[/\\\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BOM = b"\xef\xbb\xbf"
# The scanner ``json.loads`` uses (the C one when available): one JSON value at an offset.
# ``JSONDecoder`` sets it in ``__init__``; typeshed does not declare it.
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    name: str
    extension: str
    width: int
    height: int
    checksum: str | None = None
    related_images: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return self.name + self.extension


class _Problem(Exception):
    """An invalid value; ``args[0]`` is one of the problem messages above, filled in."""


def _line_error(line: int, problem: str) -> ManifestError:
    return ManifestError(LINE_ERROR.format(line=line, problem=problem), extra={"line": line})


def _json_shown(value: Any) -> str:
    return shown(value) if isinstance(value, str) else shown(json.dumps(value))


# --- reading -----------------------------------------------------------------------------------


def _chunks(source: IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(source, "read", None)
    if read is not None:
        yield from iter(lambda: read(READ_CHUNK), b"")
    else:
        yield from source  # type: ignore[misc]


def _split_lines(source: IO[bytes] | Iterable[bytes], limit: int) -> Iterator[bytes]:
    """The lines of ``source`` (read in chunks of any size) without their line ends. A line
    longer than ``limit`` is cut short once the buffer passes the limit, and ends the stream:
    the caller refuses it, and nothing past ``limit`` bytes is ever held."""
    buffer = b""
    for chunk in _chunks(source):
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) != -1:
            yield buffer[start:end]
            start = end + 1
        buffer = buffer[start:]
        if len(buffer) > limit + 1:  # + 1: room for the "\r" of a CRLF line end
            yield buffer
            return
    if buffer:
        yield buffer


def _parse_json(raw: bytes, line: int, limit: int) -> dict[str, Any] | None:
    """The line's JSON object; None for a blank line."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) > limit:
        raise _line_error(line, TOO_LONG.format(limit=limit))
    if line == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _line_error(line, NOT_UTF8) from None
    # A line that is exactly one JSON object (the usual one) in one scan, without the
    # whitespace matching and checks of ``json.loads`` around it; anything else (blank, padded,
    # invalid, not an object) is decided by ``json.loads`` below, with its errors.
    try:
        value, end = _scan_once(text, 0)
    except (StopIteration, ValueError, RecursionError):
        end = -1
    if end == len(text) and type(value) is dict:
        return value
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:  # JSONDecodeError, huge int literals
        raise _line_error(line, NOT_JSON) from None
    except RecursionError:
        raise _line_error(line, TOO_DEEP) from None
    if not isinstance(value, dict):
        raise _line_error(line, NOT_OBJECT)
    return value


def _check_header(position: int, line: int, value: dict[str, Any]) -> None:
    if position == 0:
        if "version" not in value:
            raise _line_error(line, NO_VERSION)
        if value["version"] not in SUPPORTED_VERSIONS:
            version = _json_shown(value["version"])
            raise _line_error(line, BAD_VERSION.format(version=version))
    else:
        if "type" not in value:
            raise _line_error(line, NO_TYPE)
        if value["type"] == "video":
            raise _line_error(line, VIDEO_TYPE)
        if value["type"] != "images":
            raise _line_error(line, BAD_TYPE.format(type=_json_shown(value["type"])))


class _SeenPaths:
    """The paths read so far, for the duplicate check, without a dict of every path.

    Manifests list their images in sorted order (CVAT's tool and ``cvat-lite manifest create``
    write them so): a path greater than every earlier one is new, and goes at the end of a
    sorted run kept compact (its UTF-8 bytes in one buffer, their end offsets, and the hash of
    the rest of the entry only when repeats are allowed: ~30 bytes an image instead of ~130 in
    a dict). A path out of order is looked up in the run by bisection, then in a dict of the
    out-of-order paths (CVAT's honeypot repeats, an unsorted manifest)."""

    def __init__(self, *, details: bool) -> None:
        self._blob = bytearray()
        self._ends = array("Q")
        self._details: array | None = array("q") if details else None
        self._last = b""
        self._other: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> bytes:  # the sequence bisect searches
        start = self._ends[index - 1] if index else 0
        return bytes(self._blob[start : self._ends[index]])

    def first(self, path: bytes) -> int | None:
        """The details hash of ``path``'s first entry (0 without details); None when new."""
        if not self._ends or path > self._last:
            return None
        index = bisect.bisect_left(self, path)
        if index < len(self._ends) and self[index] == path:
            return self._details[index] if self._details is not None else 0
        return self._other.get(path)

    def add(self, path: bytes, details: int) -> None:
        if not self._ends or path > self._last:
            self._blob += path
            self._ends.append(len(self._blob))
            if self._details is not None:
                self._details.append(details)
            self._last = path
        else:
            self._other[path] = details


def read_manifest(
    stream: IO[bytes] | Iterable[bytes],
    *,
    max_line_length: int = MAX_LINE_LENGTH,
    max_entries: int = MAX_ENTRIES,
    allow_duplicates: bool = False,
) -> Iterator[ManifestEntry]:
    """Yield the manifest's entries one by one, validating each line as it is read.

    ``stream`` is a binary file or any iterable of byte chunks (lines or not). This is a
    generator: nothing is read, and no error is raised, before the first ``next()``; the input
    is never held whole (the paths seen are, compactly: see ``_SeenPaths``). Duplicate paths are
    refused unless ``allow_duplicates`` (CVAT backups with honeypot frames repeat images on
    purpose: a repeat must then be the same entry).
    """
    seen = _SeenPaths(details=allow_duplicates)
    headers = 0
    entries = 0
    line = 0
    for line, raw in enumerate(_split_lines(stream, max_line_length), start=1):
        value = _parse_json(raw, line, max_line_length)
        if value is None:
            continue
        if headers < 2:
            _check_header(headers, line, value)
            headers += 1
            continue
        entries += 1
        if entries > max_entries:
            raise _line_error(line, TOO_MANY.format(limit=max_entries))
        try:
            entry = _parse_entry(value)
        except _Problem as problem:
            raise _line_error(line, problem.args[0]) from None
        path = entry.path
        key = path.encode("utf-8")
        details = (
            hash((entry.name, entry.width, entry.height, entry.checksum, entry.related_images))
            if allow_duplicates
            else 0
        )
        first = seen.first(key)
        if first is None:
            seen.add(key, details)
        elif not allow_duplicates:
            raise _line_error(line, DUPLICATE.format(path=shown(path)))
        elif first != details:
            raise _line_error(line, REPEATED_DIFFERENT.format(path=shown(path)))
        yield entry
    if headers == 0:
        raise _line_error(1, EMPTY_MANIFEST)
    if headers == 1:
        raise _line_error(line + 1, NO_TYPE)


# --- one entry ---------------------------------------------------------------------------------


def _side(value: dict[str, Any], key: str) -> int:
    if key not in value:
        raise _Problem(MISSING_KEY.format(key=key))
    return _side_value(value[key], key)


def _side_value(side: Any, key: str) -> int:
    if type(side) is not int or side <= 0:  # bool is an int subclass: refused too
        raise _Problem(NOT_POSITIVE.format(key=key))
    if side > MAX_SIDE:
        raise _Problem(TOO_BIG.format(key=key, limit=MAX_SIDE))
    return side


def _string(value: dict[str, Any], key: str) -> str:
    if key not in value:
        raise _Problem(MISSING_KEY.format(key=key))
    if not isinstance(value[key], str):
        raise _Problem(NOT_STRING.format(key=key))
    return value[key]


def _related_images(meta: Any) -> tuple[str, ...]:
    if meta is None:
        return ()
    if not isinstance(meta, dict):
        raise _Problem(BAD_META)
    related = meta.get("related_images")
    if related is None:
        return ()
    if not isinstance(related, list):
        raise _Problem(BAD_RELATED_LIST)
    return _related_paths(related)


def _related_paths(related: list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    if not all(isinstance(path, str) for path in related):
        raise _Problem(BAD_RELATED_LIST)
    for path in related:
        if (reason := path_problem(path)) is not None:
            raise _Problem(BAD_RELATED.format(path=shown(path), reason=reason))
    return tuple(related)


def _checksum(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _CHECKSUM.fullmatch(value):
        raise _Problem(BAD_CHECKSUM)
    return value.lower()


def _parse_entry(value: dict[str, Any]) -> ManifestEntry:
    name = _string(value, "name")
    if (reason := path_problem(name)) is not None:
        raise _Problem(BAD_NAME.format(name=shown(name), reason=reason))
    extension = _string(value, "extension")
    if extension and (not extension.startswith(".") or _BAD_EXTENSION_CHARS.search(extension)):
        raise _Problem(BAD_EXTENSION.format(extension=shown(extension)))
    path = name + extension  # both valid: only the length can be wrong
    if len(path) > MAX_PATH_BYTES // 4 and len(path.encode("utf-8")) > MAX_PATH_BYTES:
        raise _Problem(BAD_PATH.format(path=shown(path), reason=PATH_TOO_LONG))
    return ManifestEntry(
        name=name,
        extension=extension,
        width=_side(value, "width"),
        height=_side(value, "height"),
        checksum=_checksum(value.get("checksum")),
        related_images=_related_images(value.get("meta")),
    )


def _entry_to_dict(entry: ManifestEntry) -> dict[str, Any]:
    value: dict[str, Any] = {
        "name": entry.name,
        "extension": entry.extension,
        "width": entry.width,
        "height": entry.height,
    }
    if entry.related_images:
        value["meta"] = {"related_images": list(entry.related_images)}
    if entry.checksum is not None:
        value["checksum"] = entry.checksum
    return value


def entry_from_key(
    key: str,
    width: int,
    height: int,
    checksum: str | None = None,
    related_images: Iterable[str] = (),
) -> ManifestEntry:
    """The entry for the object ``key`` (relative to the manifest's folder): the extension is
    split off the last segment with ``os.path.splitext`` rules (``a/b.tar.gz`` -> ``a/b.tar`` +
    ``.gz``; no extension -> ``""``). Raises ``BadRequest`` (``invalid_path``) for a bad key and
    ``ManifestError`` for bad sizes, checksum or related images.

    The entry is validated as the reader would validate it. A valid key splits into a valid name
    and extension (the name keeps a non-dot character of the last segment, the extension has
    no ``/`` and the characters of the key), so only the other values are checked again."""
    name, extension = posixpath.splitext(validate_relative_path(key))
    try:
        return ManifestEntry(
            name,
            extension,
            _side_value(width, "width"),
            _side_value(height, "height"),
            _checksum(checksum),
            _related_paths(tuple(related_images)) if related_images else (),
        )
    except _Problem as problem:
        raise ManifestError(
            ENTRY_ERROR.format(entry=shown(key), problem=problem.args[0]), extra={"key": key}
        ) from None


# --- writing -----------------------------------------------------------------------------------


def _dumps(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def _line(
    name: str,
    extension: str,
    width: int,
    height: int,
    checksum: str | None,
    related_images: Sequence[str],
    encode: Callable[[str], str] = encode_basestring,
) -> str:
    """An entry as one compact JSON line in CVAT's key order: exactly what ``json.dumps``
    (``separators=(",", ":")``, ``ensure_ascii=False``, or ``True`` with
    ``encode_basestring_ascii``) makes of ``_entry_to_dict`` of that entry, without building
    the dict."""
    line = (
        f'{{"name":{encode(name)},"extension":{encode(extension)},'
        f'"width":{width:d},"height":{height:d}'
    )
    if related_images:
        related = ",".join(map(encode, related_images))
        line += f',"meta":{{"related_images":[{related}]}}'
    if checksum is not None:
        line += f',"checksum":{encode(checksum)}'
    return line + "}\n"


def _entry_line(entry: ManifestEntry, encode: Callable[[str], str] = encode_basestring) -> str:
    return _line(
        entry.name,
        entry.extension,
        entry.width,
        entry.height,
        entry.checksum,
        entry.related_images,
        encode,
    )


def entry_line(
    name: str,
    extension: str,
    width: int,
    height: int,
    checksum: str | None = None,
    related_images: Sequence[str] = (),
) -> str:
    """The line ``write_manifest`` writes (UTF-8 text, not ASCII-escaped) for the entry of these
    values, already validated (no ``ManifestEntry`` is built: a task's rows are recorded as a
    manifest one line per row)."""
    return _line(name, extension, width, height, checksum, related_images)


def header_lines() -> bytes:
    """The two header lines ``write_manifest`` starts with."""
    return _dumps({"version": WRITTEN_VERSION}) + _dumps({"type": "images"})


def write_manifest(
    entries: Iterable[ManifestEntry],
    stream: IO[bytes],
    *,
    validated: bool = False,
    ascii_only: bool = False,
) -> int:
    """Write a version 1.1 image manifest to ``stream`` and return the number of entries.

    Each entry is validated as the reader would (so what is written reads back equal); an
    invalid one raises ``ManifestError`` naming its 1-based position. With ``validated``, the
    caller vouches that every entry was built by ``entry_from_key`` or read by
    ``read_manifest`` (both validate): they are not validated a second time. With
    ``ascii_only``, non-ASCII characters are written as ``\\uXXXX`` escapes, as CVAT's
    manifest tool writes them (``json.dumps`` defaults); the JSON read back is the same."""
    encode = encode_basestring_ascii if ascii_only else encode_basestring
    stream.write(header_lines())
    count = 0
    lines: list[str] = []
    for count, entry in enumerate(entries, start=1):
        if not validated:
            _check_entry(entry, count)
        lines.append(_entry_line(entry, encode))
        if len(lines) == WRITE_LINES:
            stream.write("".join(lines).encode("utf-8"))
            lines.clear()
    if lines:
        stream.write("".join(lines).encode("utf-8"))
    return count


def _check_entry(entry: ManifestEntry, position: int) -> None:
    try:
        _parse_entry(_entry_to_dict(entry))
    except _Problem as problem:
        raise ManifestError(
            ENTRY_ERROR.format(entry=position, problem=problem.args[0]),
            extra={"entry": position},
        ) from None


# --- keys --------------------------------------------------------------------------------------


def manifest_dir(manifest_key: str) -> str:
    """The folder holding the manifest, without a trailing slash ("" at the bucket's root)."""
    return posixpath.dirname(validate_relative_path(manifest_key))


def manifest_key_prefix(manifest_key: str) -> str:
    """What turns an entry's path into its object key: the manifest's folder with a trailing
    slash ("" at the bucket's root)."""
    folder = manifest_dir(manifest_key)
    return f"{folder}/" if folder else ""


def relative_key(manifest_key: str, entry_path: str) -> str:
    """The object key of ``entry_path`` (an entry's ``path``) for a manifest stored at
    ``manifest_key``: ``relative_key("set1/manifest.jsonl", "img1.jpg") == "set1/img1.jpg"``."""
    return manifest_key_prefix(manifest_key) + validate_relative_path(entry_path)
