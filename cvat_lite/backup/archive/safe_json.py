"""JSON in archives: a strict loader for untrusted documents, compact writing for ours."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from cvat_lite.errors import ArchiveError
from cvat_lite.media.paths import shown

MAX_JSON_DEPTH = 64
MAX_NUMBER_DIGITS = 30

JSON_INVALID = "{what} is not valid JSON."
JSON_NOT_UTF8 = "{what} is not valid UTF-8."
JSON_TOO_DEEP = "{what} is nested more than {limit} levels deep."
JSON_LONG_NUMBER = "{what} contains a number with more than {limit} digits."
JSON_NOT_FINITE = "{what} contains NaN or an infinite number."
JSON_DUPLICATE_KEY = "{what} has the key {key} twice in one object."
JSON_SURROGATE = "{what} contains a string that is not valid Unicode (an unpaired surrogate)."

# Only a \uD800-\uDFFF escape can put a surrogate in a parsed string (strict UTF-8 decoding
# refuses encoded ones), so documents without one are not walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _JsonProblem(Exception):
    """One of the JSON_* messages and its values, waiting for ``what``."""

    def __init__(self, message: str, **values: Any):
        super().__init__(message)
        self.message = message
        self.values = values


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _JsonProblem(JSON_DUPLICATE_KEY, key=shown(key))
            seen.add(key)
    return result


def _digits(text: str) -> int:
    return sum(char.isdigit() for char in text)


def _parse_int(text: str) -> int:
    if _digits(text) > MAX_NUMBER_DIGITS:
        raise _JsonProblem(JSON_LONG_NUMBER, limit=MAX_NUMBER_DIGITS)
    return int(text)


def _parse_float(text: str) -> float:
    if _digits(text) > MAX_NUMBER_DIGITS:
        raise _JsonProblem(JSON_LONG_NUMBER, limit=MAX_NUMBER_DIGITS)
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise _JsonProblem(JSON_NOT_FINITE)
    return value


def _reject_constant(text: str) -> Any:
    raise _JsonProblem(JSON_NOT_FINITE)


def _check_depth(value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _JsonProblem(JSON_TOO_DEEP, limit=MAX_JSON_DEPTH)
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _check_strings(value: Any) -> None:
    """No string (key or value) holds a surrogate: a pair of escapes makes one character, but
    a lone one stays a surrogate, which no database (nor UTF-8) can store."""
    stack = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise _JsonProblem(JSON_SURROGATE)
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def load_json(data: bytes, *, what: str) -> Any:
    """Parse untrusted JSON: strict UTF-8 (a BOM is tolerated), no duplicate object keys, no
    NaN/Infinity, no number with more than ``MAX_NUMBER_DIGITS`` digits, nesting at most
    ``MAX_JSON_DEPTH`` levels, no unpaired surrogate escape. ``what`` names the document in
    messages ("task.json")."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArchiveError(JSON_NOT_UTF8.format(what=what)) from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_reject_constant,
        )
        if isinstance(value, dict | list):
            _check_depth(value)
        if _SURROGATE_ESCAPE.search(text):
            _check_strings(value)
    except _JsonProblem as problem:
        raise ArchiveError(problem.message.format(what=what, **problem.values)) from None
    except RecursionError:
        raise ArchiveError(JSON_TOO_DEEP.format(what=what, limit=MAX_JSON_DEPTH)) from None
    except ValueError:  # JSONDecodeError
        raise ArchiveError(JSON_INVALID.format(what=what)) from None
    return value


def json_bytes(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


def json_chunks(items: list[Any]) -> Iterator[bytes]:
    """A JSON list encoded one item at a time: C speed, and memory bounded by the largest item
    (annotations.json is a list of jobs)."""
    yield b"["
    for index, item in enumerate(items):
        yield (b"," if index else b"") + json_bytes(item)
    yield b"]"
