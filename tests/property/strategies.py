"""Hypothesis strategies shared by the property tests: JSON-like values (with the values that
break parsers: huge and negative numbers, long and unpaired-surrogate strings, path tricks),
and near-valid mutations of a valid document."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

PROFILE = settings(settings.get_profile("cvat_lite_property"))

NASTY_STRINGS = [
    "",
    " ",
    ".",
    "..",
    "../x",
    "a/../b",
    "/abs",
    "C:/x",
    "a\\b",
    "a//b",
    "a/",
    "x\x00y",
    "x\ny",
    "\ud800",
    "a\udfffb",
    "café",
    "cafe\u0301",
    "🐱",
    "\u202eevil",
    "x" * 300,
    "🐱" * 257,
    "1.0",
    "images",
    "video",
    "step=2",
    "step=0",
    "cloud_storage",
    "local",
    "annotation",
    "skeleton",
]
NASTY_NUMBERS = [-(2**31) - 1, -1, 0, 1, 2, 3, 360, 361, 2**31 - 1, 2**31, 2**63, 10**29]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=10),
    st.sampled_from(NASTY_NUMBERS),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=12),
)


@st.composite
def mostly(
    draw: st.DrawFn, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], weight: int = 6
) -> Any:
    """``good`` about ``weight`` times out of ``weight + 1``, else ``bad`` (shrinking goes
    towards ``good``)."""
    return draw(bad) if draw(st.sampled_from(range(weight + 1))) == weight else draw(good)


def json_values(keys: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Any]:
    """Any JSON-like value (what ``load_json`` can return), dict keys from ``keys`` or any
    text."""
    key_strategy = st.text(max_size=8) if keys is None else st.one_of(keys, st.text(max_size=4))
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(key_strategy, children, max_size=4),
        ),
        max_leaves=10,
    )


ANY_JSON = json_values()


def _paths(doc: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from _paths(value, (*prefix, index))


def _keys_of(doc: Any) -> set[str]:
    keys: set[str] = set()
    for path in _paths(doc):
        keys.update(part for part in path if isinstance(part, str))
    return keys


def mutated(
    doc: Any, *, keys: tuple[str, ...] = (), max_changes: int = 3
) -> st.SearchStrategy[Any]:
    """``doc`` with 1..max_changes changes: a value replaced (by any JSON value), a key or
    item removed, a key added, a list item repeated. Keys are often ``doc``'s own or
    ``keys`` (optional keys of the format that ``doc`` lacks)."""
    known = st.sampled_from(sorted(_keys_of(doc) | set(keys)))
    return _mutated(doc, json_values(known), st.one_of(known, st.text(max_size=6)), max_changes)


@st.composite
def _mutated(
    draw: st.DrawFn,
    doc: Any,
    values: st.SearchStrategy[Any],
    keys: st.SearchStrategy[str],
    max_changes: int,
) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, max_changes))):
        path = draw(st.sampled_from(list(_paths(doc))))
        if not path:
            doc = draw(values)
            continue
        *parents, last = path
        parent = doc
        for key in parents:
            parent = parent[key]
        operation = draw(st.sampled_from(["replace", "replace", "delete", "add", "repeat"]))
        if operation == "replace":
            parent[last] = draw(values)
        elif operation == "delete":
            del parent[last]
        elif operation == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(values)
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return doc
