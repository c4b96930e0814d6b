"""Validation of untrusted relative paths (object keys, manifest names, archive members).

A valid path is ``/``-separated and relative: no leading ``/``, no drive letter (``C:``), no
backslash, no NUL or other control character, no empty, ``.`` or ``..`` segment, at most
``MAX_PATH_BYTES`` bytes of UTF-8. Nothing is rewritten: object keys are byte-exact (in S3
``a/./b`` and ``a/b`` are two different objects), so a path is either accepted as it is or
refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from cvat_lite.errors import BadRequest

MAX_PATH_BYTES = 1024  # the key limit of S3, GCS and Azure Blob

# Reasons: fixed phrases completing "The path '...' <reason>." (and the manifest's messages).
PATH_EMPTY = "is empty"
PATH_TOO_LONG = f"is longer than {MAX_PATH_BYTES} bytes"
PATH_NOT_UTF8 = "is not valid UTF-8"
PATH_NUL = "contains a NUL character"
PATH_CONTROL = "contains a control character"
PATH_BACKSLASH = "contains a backslash"
PATH_DRIVE = "starts with a drive letter"
PATH_ABSOLUTE = "is absolute"
PATH_EMPTY_SEGMENT = "contains an empty segment"
PATH_DOT_SEGMENT = "contains a '.' segment"
PATH_DOTDOT = "contains a '..' segment"
PATH_OUTSIDE_ROOT = "points outside its root directory"

INVALID_PATH = "The path {path} {reason}."
PATH_NOT_STRING = "The path must be a string."
SHOWN_CHARS = 200

_BAD_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\\\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DRIVE = re.compile(r"[A-Za-z]:")


def shown(value: str) -> str:
    """``value`` quoted for a message, with control characters escaped and long values cut."""
    if len(value) > SHOWN_CHARS:
        return repr(value[:SHOWN_CHARS]) + "..."
    return repr(value)


def _character_problem(path: str) -> str:
    if "\x00" in path:
        return PATH_NUL
    if _CONTROL.search(path):
        return PATH_CONTROL
    if "\\" in path:
        return PATH_BACKSLASH
    return PATH_NOT_UTF8  # a lone surrogate, e.g. from a JSON "\ud800" escape


def path_problem(path: str) -> str | None:
    """The reason ``path`` is not a valid relative path (one of the ``PATH_*`` phrases), or None.

    Called for every name of a manifest, hence the cheap checks first and no split unless the
    path has a dot."""
    if not path:
        return PATH_EMPTY
    if _BAD_CHARACTER.search(path):
        return _character_problem(path)
    if len(path) > MAX_PATH_BYTES // 4 and len(path.encode("utf-8")) > MAX_PATH_BYTES:
        return PATH_TOO_LONG
    if _DRIVE.match(path):
        return PATH_DRIVE
    if path[0] == "/":
        return PATH_ABSOLUTE
    if "//" in path or path[-1] == "/":
        return PATH_EMPTY_SEGMENT
    if "." in path:
        segments = path.split("/")
        if "." in segments:
            return PATH_DOT_SEGMENT
        if ".." in segments:
            return PATH_DOTDOT
    return None


def _invalid(path: str, reason: str) -> BadRequest:
    return BadRequest(
        INVALID_PATH.format(path=shown(path), reason=reason),
        code="invalid_path",
        extra={"path": path[: MAX_PATH_BYTES + 1]},
    )


def validate_relative_path(path: str) -> str:
    """Return ``path`` unchanged if it is a valid relative path; raise ``BadRequest``
    (code ``invalid_path``, the path in ``extra``) otherwise."""
    if not isinstance(path, str):
        raise BadRequest(PATH_NOT_STRING, code="invalid_path")
    reason = path_problem(path)
    if reason is not None:
        raise _invalid(path, reason)
    return path


def safe_join(root: Path, relative: str) -> Path:
    """``root / relative``, resolved, refusing anything that ends up outside ``root``.

    Symlinks are followed before the check, so a link inside ``root`` that points elsewhere is
    refused just like ``..`` is. The result is the resolved path.
    """
    validate_relative_path(relative)
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise _invalid(relative, PATH_OUTSIDE_ROOT)
    return target
