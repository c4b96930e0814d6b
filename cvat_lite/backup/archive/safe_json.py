"""JSON in archives: a strict loader for untrusted documents, compact writing for ours.

``load_json`` parses a document whole. ``load_json_lazily`` applies the same checks to a
document that is a list of objects but leaves the lists inside those objects unparsed
(``LazyItems``: their items are parsed one at a time when iterated), so that a large
annotations.json costs its text plus one item, not its whole object graph (contract 9).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
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
    if len(text) > MAX_NUMBER_DIGITS and _digits(text) > MAX_NUMBER_DIGITS:
        raise _JsonProblem(JSON_LONG_NUMBER, limit=MAX_NUMBER_DIGITS)
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS and _digits(text) > MAX_NUMBER_DIGITS:
        raise _JsonProblem(JSON_LONG_NUMBER, limit=MAX_NUMBER_DIGITS)
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise _JsonProblem(JSON_NOT_FINITE)
    return value


def _reject_constant(text: str) -> Any:
    raise _JsonProblem(JSON_NOT_FINITE)


def _check_depth(value: Any, depth: int = 1) -> None:
    stack = [(value, depth)]
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


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ArchiveError(JSON_NOT_UTF8.format(what=what)) from None


def _strict_decoder() -> json.JSONDecoder:
    return json.JSONDecoder(
        object_pairs_hook=_no_duplicate_keys,
        parse_int=_parse_int,
        parse_float=_parse_float,
        parse_constant=_reject_constant,
    )


def load_json(data: bytes, *, what: str) -> Any:
    """Parse untrusted JSON: strict UTF-8 (a BOM is tolerated), no duplicate object keys, no
    NaN/Infinity, no number with more than ``MAX_NUMBER_DIGITS`` digits, nesting at most
    ``MAX_JSON_DEPTH`` levels, no unpaired surrogate escape. ``what`` names the document in
    messages ("task.json")."""
    text = _decode(data, what)
    try:
        value = _strict_decoder().decode(text)
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


# --- lazily --------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Items of a checked document parse the same without the checks' hooks, at C speed.
_PLAIN_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _skip(text: str, pos: int) -> int:
    """The position after the whitespace at ``pos``."""
    match = _WHITESPACE.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


class _Invalid(Exception):
    """Not JSON (what ``json.loads`` calls a ``JSONDecodeError``)."""


class LazyItems(list):
    """A list of a document read by ``load_json_lazily``, left in the document's text: ``len``
    is its length, iterating parses its items one at a time (they were checked when the
    document was loaded). It is otherwise an empty list: read it by iterating only."""

    __slots__ = ("_count", "_start", "_text")

    def __init__(self, text: str, start: int, count: int):
        super().__init__()
        self._text, self._start, self._count = text, start, count

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[Any]:
        text, pos = self._text, self._start
        for _ in range(self._count):
            value, pos = _PLAIN_SCAN(text, _skip(text, pos))
            yield value
            pos = _skip(text, pos) + 1  # past the comma (or the closing bracket)

    def __repr__(self) -> str:
        return f"LazyItems({self._count})"


class _LazyLoader:
    """``load_json``'s checks in ``load_json``'s order (syntax, duplicate keys, numbers as
    they are met; then depth; then surrogates), walking the root list and its objects
    itself and parsing every other value with the strict decoder."""

    def __init__(self, text: str, on_item: Callable[[str, Any], None], checked: bool):
        self.text = text
        self.on_item = on_item
        self.checked = checked
        self.scan: Callable[[str, int], tuple[Any, int]] = (
            _PLAIN_SCAN if checked else _strict_decoder().scan_once  # type: ignore[attr-defined]
        )
        self.check_strings = not checked and _SURROGATE_ESCAPE.search(text) is not None
        self.too_deep = self.surrogate = False

    def load(self) -> Any:
        pos = self.skip(0)
        if self.at(pos, "["):
            value, pos = self.sequence(pos, 1, self.job)
        else:
            value, pos = self.value(pos, 1)
        if self.skip(pos) != len(self.text):
            raise _Invalid  # extra data
        if self.too_deep:
            raise _JsonProblem(JSON_TOO_DEEP, limit=MAX_JSON_DEPTH)
        if self.surrogate:
            raise _JsonProblem(JSON_SURROGATE)
        return value

    def skip(self, pos: int) -> int:
        return _skip(self.text, pos)

    def at(self, pos: int, char: str) -> bool:
        return self.text.startswith(char, pos)

    def value(self, pos: int, depth: int) -> tuple[Any, int]:
        try:
            value, end = self.scan(self.text, pos)
        except StopIteration:
            raise _Invalid from None
        if self.checked:
            return value, end
        # A value nested n levels deeper takes at least 2n characters.
        deep = end - pos > 2 * (MAX_JSON_DEPTH - depth)
        if deep and isinstance(value, dict | list) and not self.too_deep:
            try:
                _check_depth(value, depth)
            except _JsonProblem:
                self.too_deep = True
        if self.check_strings and not self.surrogate:
            try:
                _check_strings(value)
            except _JsonProblem:
                self.surrogate = True
        return value, end

    def sequence(
        self, pos: int, depth: int, item: Callable[[int, int], tuple[Any, int]]
    ) -> tuple[list[Any], int]:
        """The list at ``pos`` (its "["), each item read with ``item(pos, depth)``."""
        items: list[Any] = []
        if depth > MAX_JSON_DEPTH:
            self.too_deep = True
        pos = self.skip(pos + 1)
        if self.at(pos, "]"):
            return items, pos + 1
        while True:
            value, pos = item(pos, depth + 1)
            items.append(value)
            pos = self.skip(pos)
            if self.at(pos, "]"):
                return items, pos + 1
            if not self.at(pos, ","):
                raise _Invalid
            pos = self.skip(pos + 1)

    def job(self, pos: int, depth: int) -> tuple[Any, int]:
        """An item of the root list: an object is walked key by key, its lists left lazy."""
        if not self.at(pos, "{"):
            return self.value(pos, depth)
        if depth > MAX_JSON_DEPTH:
            self.too_deep = True
        pairs: list[tuple[str, Any]] = []
        pos = self.skip(pos + 1)
        if self.at(pos, "}"):
            return {}, pos + 1
        while True:
            if not self.at(pos, '"'):
                raise _Invalid
            key, pos = self.value(pos, depth + 1)
            pos = self.skip(pos)
            if not self.at(pos, ":"):
                raise _Invalid
            pos = self.skip(pos + 1)
            if self.at(pos, "["):
                value, pos = self.lazy(pos, depth + 1, key)
            else:
                value, pos = self.value(pos, depth + 1)
            pairs.append((key, value))
            pos = self.skip(pos)
            if self.at(pos, "}"):
                return _no_duplicate_keys(pairs), pos + 1
            if not self.at(pos, ","):
                raise _Invalid
            pos = self.skip(pos + 1)

    def lazy(self, pos: int, depth: int, key: str) -> tuple[LazyItems, int]:
        start = pos + 1
        count = 0

        def item(pos: int, depth: int) -> tuple[None, int]:
            nonlocal count
            value, pos = self.value(pos, depth)
            self.on_item(key, value)
            count += 1
            return None, pos

        _, pos = self.sequence(pos, depth, item)
        return LazyItems(self.text, start, count), pos


def _ignore(key: str, item: Any) -> None:
    return None


def load_json_lazily(
    data: bytes, *, what: str, on_item: Callable[[str, Any], None] = _ignore, checked: bool = False
) -> Any:
    """``load_json`` of a document whose root is a list of objects (annotations.json), with
    every list value of those objects a ``LazyItems`` over the document's text: the same value
    otherwise, or the same ``ArchiveError``. ``on_item(key, item)`` sees each item of those
    lists (under the object's ``key``) as it is checked; nothing keeps it afterwards. Any other
    document loads as ``load_json`` would. ``checked``: these bytes passed already (a restore
    reads annotations.json again to write it), so the checks are left out."""
    text = _decode(data, what)
    try:
        return _LazyLoader(text, on_item, checked).load()
    except _JsonProblem as problem:
        raise ArchiveError(problem.message.format(what=what, **problem.values)) from None
    except RecursionError:
        raise ArchiveError(JSON_TOO_DEEP.format(what=what, limit=MAX_JSON_DEPTH)) from None
    except (_Invalid, ValueError):
        raise ArchiveError(JSON_INVALID.format(what=what)) from None


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
