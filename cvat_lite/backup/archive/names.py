"""Member names: the same rules for writing and reading."""

from __future__ import annotations

from cvat_lite.media.paths import (
    MAX_PATH_BYTES,
    PATH_ABSOLUTE,
    PATH_DRIVE,
    PATH_EMPTY,
    PATH_EMPTY_SEGMENT,
    PATH_NOT_UTF8,
    path_problem,
)

CHECKSUMS_NAME = "checksums.sha256"
NAME_TOO_LONG = "is longer than {limit} bytes"


def member_name_problem(name: str, max_bytes: int = MAX_PATH_BYTES) -> str | None:
    """Why ``name`` is not a valid member name (a ``media.paths`` reason phrase), or None.

    The rules are ``path_problem``'s, with room for ``max_bytes`` (a member is ``data/`` plus
    an object key of up to 1,024 bytes, under ``task_<i>/`` in a project)."""
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return PATH_NOT_UTF8
    if size > max_bytes:
        return NAME_TOO_LONG.format(limit=max_bytes)
    if size <= MAX_PATH_BYTES:
        return path_problem(name)
    # path_problem refuses anything over MAX_PATH_BYTES: apply its rules segment by segment
    # (all of them are about characters or segments, but for the start of the path).
    if name.startswith("/"):
        return PATH_ABSOLUTE
    for index, segment in enumerate(name.split("/")):
        reason = path_problem(segment)
        if reason == PATH_EMPTY:
            return PATH_EMPTY_SEGMENT
        if reason is not None and not (reason == PATH_DRIVE and index > 0):
            return reason
    return None
