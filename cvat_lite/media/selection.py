"""How a list of media keys becomes the task's ordered frame list (contract 5.1, CVAT semantics).

The order of operations is the caller's: filter (``filter_keys``), sort (``sort_keys``), then
take ``frame_range`` of the sorted list (``start_frame``/``stop_frame``/``frame_filter``).
"""

from __future__ import annotations

import enum
import fnmatch
import posixpath
import random
import re
from collections.abc import Iterable

from cvat_lite.errors import BadRequest
from cvat_lite.media.formats import IMAGE_EXTENSIONS, is_image_key
from cvat_lite.media.paths import shown

__all__ = [
    "IMAGE_EXTENSIONS",
    "SORTING_METHODS",
    "SortingMethod",
    "filter_keys",
    "frame_range",
    "is_image_key",
    "key_kept",
    "parse_frame_filter",
    "sort_keys",
]


class SortingMethod(enum.StrEnum):
    """How a task's files are ordered into frames (``sort_keys``); defined here, once."""

    LEXICOGRAPHICAL = "lexicographical"
    NATURAL = "natural"
    PREDEFINED = "predefined"
    RANDOM = "random"


SORTING_METHODS = tuple(member.value for member in SortingMethod)

UNKNOWN_SORTING = "Unknown sorting method {method}. Use one of: {methods}."
INVALID_FRAME_FILTER = "Invalid frame filter {value}. Use 'step=N' with N >= 1, or ''."
INVALID_STEP = "The frame step must be an integer of at least 1."
NO_FRAMES = "The task has no frames."
START_OUT_OF_RANGE = "start_frame {start} is out of range: the task has {size} frames (0..{last})."
STOP_OUT_OF_RANGE = "stop_frame {stop} is out of range: the task has {size} frames (0..{last})."
STOP_BEFORE_START = "stop_frame {stop} is less than start_frame {start}."

_FRAME_FILTER = re.compile(r"\s*step\s*=\s*([1-9][0-9]{0,8})\s*")
_NUMBER = re.compile(r"([0-9]+)")


# --- sorting -----------------------------------------------------------------------------------


def _natural_part(text: str) -> tuple[str | int, ...]:
    # re.split with a group alternates text and digits: even positions str, odd ones int, so
    # two parts always compare like with like.
    pieces = _NUMBER.split(text.casefold())
    return tuple(int(piece) if index % 2 else piece for index, piece in enumerate(pieces))


def _natural_key(key: str) -> tuple[tuple[tuple[str | int, ...], ...], str]:
    *folders, base = key.split("/")
    stem, extension = posixpath.splitext(base)
    parts = (*folders, stem, extension) if extension else (*folders, stem)
    return tuple(_natural_part(part) for part in parts), key


def sort_keys(keys: Iterable[str], method: str, *, seed: int | None = None) -> list[str]:
    """Order media keys the way CVAT does.

    - ``lexicographical``: by code point (Python's ``sorted``).
    - ``natural``: like CVAT's ``natsort.os_sorted`` on Linux (path-aware, case-insensitive,
      numbers compared by value: ``img2`` < ``img10``; folder by folder, the last
      extension compared after the rest of the name). Keys equal under those rules
      (``A.jpg``/``a.jpg``, ``img1``/``img01``) are ordered by code point, so the result
      never depends on the input order.
    - ``predefined``: the given order.
    - ``random``: a shuffle; reproducible for a given ``seed`` (None: a fresh one each call).
    """
    keys = list(keys)
    if method == SortingMethod.LEXICOGRAPHICAL:
        return sorted(keys)
    if method == SortingMethod.NATURAL:
        return sorted(keys, key=_natural_key)
    if method == SortingMethod.PREDEFINED:
        return keys
    if method == SortingMethod.RANDOM:
        random.Random(seed).shuffle(keys)
        return keys
    raise BadRequest(
        UNKNOWN_SORTING.format(method=shown(str(method)), methods=", ".join(SORTING_METHODS)),
        code="invalid_sorting_method",
    )


# --- frames ------------------------------------------------------------------------------------


def parse_frame_filter(value: str | None) -> int:
    """The frame step of a ``frame_filter``: ``""`` (or None) -> 1, ``"step=N"`` -> N (N >= 1;
    spaces around ``=`` are allowed, as in CVAT)."""
    if value is None or value == "":
        return 1
    match = _FRAME_FILTER.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise BadRequest(
            INVALID_FRAME_FILTER.format(value=shown(str(value))),
            code="invalid_frame_filter",
            extra={"frame_filter": str(value)[:100]},
        )
    return int(match.group(1))


def _is_int(value: object) -> bool:
    return type(value) is int


def frame_range(size: int, start_frame: int, stop_frame: int | None, step: int) -> range:
    """The indices (into the sorted key list) of the task's frames: ``start_frame`` to
    ``stop_frame`` inclusive, every ``step``-th. ``stop_frame=None`` means the last one.
    Refuses (``invalid_frame_range``) anything outside ``0 <= start <= stop < size``.

    CVAT's API also spells "to the end" as ``stop_frame=0``; mapping that to None is the
    caller's job (a real ``stop_frame=0`` with ``start_frame=0`` means frame 0 only).
    """
    if not _is_int(step) or step < 1:
        raise BadRequest(INVALID_STEP, code="invalid_frame_range")
    if size < 1:
        raise BadRequest(NO_FRAMES, code="invalid_frame_range")
    last = size - 1
    if not _is_int(start_frame) or not 0 <= start_frame <= last:
        raise BadRequest(
            START_OUT_OF_RANGE.format(start=start_frame, size=size, last=last),
            code="invalid_frame_range",
        )
    stop = last if stop_frame is None else stop_frame
    if not _is_int(stop) or not 0 <= stop <= last:
        raise BadRequest(
            STOP_OUT_OF_RANGE.format(stop=stop, size=size, last=last), code="invalid_frame_range"
        )
    if stop < start_frame:
        raise BadRequest(
            STOP_BEFORE_START.format(stop=stop, start=start_frame), code="invalid_frame_range"
        )
    return range(start_frame, stop + 1, step)


# --- filtering ---------------------------------------------------------------------------------


def _excluded(key: str, exclude: frozenset[str]) -> bool:
    if key in exclude:
        return True
    folder = posixpath.dirname(key)
    while folder:
        if folder + "/" in exclude:
            return True
        folder = posixpath.dirname(folder)
    return False


def filter_keys(
    keys: Iterable[str], *, filename_pattern: str | None = None, exclude: Iterable[str] = ()
) -> list[str]:
    """The keys to make frames of, in their given order (CVAT's rules):

    - ``exclude`` (``server_files_exclude``) drops a key equal to one of its entries, and every
      key under an entry ending with ``/`` (``"dir/"`` drops ``dir/a.jpg`` and ``dir/s/b.jpg``;
      ``"dir"`` without the slash only drops a key that is exactly ``dir``).
    - ``filename_pattern`` is an ``fnmatch`` glob (``*``, ``?``, ``[seq]``; case-sensitive)
      matched against the whole key, as CVAT does: ``*`` also crosses ``/``, so ``*.jpg``
      matches ``a/b/c.jpg`` while ``img_*`` matches ``img_1.jpg`` but not ``dir/img_1.jpg``
      (use ``*img_*``). None or ``""`` keeps every key; ``"*"`` too.
    """
    excluded = frozenset(exclude)
    return [key for key in keys if key_kept(key, filename_pattern, excluded)]


def key_kept(key: str, filename_pattern: str | None, excluded: frozenset[str]) -> bool:
    """Whether ``filter_keys`` keeps ``key`` (one key at a time, for a streamed manifest)."""
    if excluded and _excluded(key, excluded):
        return False
    return not filename_pattern or fnmatch.fnmatchcase(key, filename_pattern)
