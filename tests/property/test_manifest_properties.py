"""``read_manifest`` on any input: it yields valid entries or raises the project's error
(``ManifestError``, a ``BadRequest``), never another exception."""

from __future__ import annotations

import io
import itertools
import json
import posixpath
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from cvat_lite.errors import BadRequest
from cvat_lite.media.manifest import (
    MAX_ENTRIES,
    MAX_LINE_LENGTH,
    MAX_SIDE,
    entry_from_key,
    read_manifest,
    write_manifest,
)
from cvat_lite.media.paths import path_problem

from .strategies import NASTY_NUMBERS, NASTY_STRINGS, PROFILE, json_values, mostly

HEADER = b'{"version":"1.1"}\n{"type":"images"}\n'

options = st.fixed_dictionaries(
    {
        "allow_duplicates": st.booleans(),
        "max_line_length": st.sampled_from([MAX_LINE_LENGTH, 200]),
        "max_entries": st.sampled_from([MAX_ENTRIES, 2]),
    }
)


def _read(data: bytes, chunks: list[int], **kwargs: Any) -> None:
    """Read ``data`` whole as a file, then again cut at ``chunks``; check what is yielded."""
    for source in (io.BytesIO(data), _cut(data, chunks)):
        try:
            entries = list(read_manifest(source, **kwargs))
        except BadRequest:  # ManifestError, or BadRequest from a path check
            event("refused")
            continue
        event(f"parsed, {min(len(entries), 2)}+ entries")
        seen: dict[str, Any] = {}
        for entry in entries:
            assert path_problem(entry.name) is None
            assert 0 < entry.width <= MAX_SIDE and 0 < entry.height <= MAX_SIDE
            assert all(path_problem(path) is None for path in entry.related_images)
            details = (entry.name, entry.width, entry.height, entry.checksum)
            if not kwargs["allow_duplicates"]:
                assert entry.path not in seen
            assert seen.setdefault(entry.path, details) == details


def _cut(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({point % (len(data) + 1) for point in points})
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


chunk_points = st.lists(st.integers(min_value=0, max_value=10_000), max_size=6)


@PROFILE
@given(st.binary(max_size=600), st.booleans(), chunk_points, options)
def test_any_bytes(data, with_header, chunks, kwargs):
    _read((HEADER if with_header else b"") + data, chunks, **kwargs)


# --- near-valid JSON lines ---------------------------------------------------------------------

names = mostly(
    st.sampled_from(["img", "dir/img", "a/b/c", "img0", "é/🐱"]),
    st.one_of(st.sampled_from(NASTY_STRINGS), st.text(alphabet="ab/.\\:\x00 é🐱", max_size=10)),
    weight=12,
)
sides = mostly(
    st.integers(min_value=1, max_value=5),
    st.one_of(
        st.sampled_from(NASTY_NUMBERS),
        st.floats(),
        st.booleans(),
        st.none(),
        st.text(max_size=3),
    ),
    weight=12,
)
extensions = mostly(
    st.sampled_from([".jpg", ".png", ""]),
    st.one_of(
        st.sampled_from(["jpg", "./x", ".a/b", ".\x00", "." + "x" * 2000]), st.text(max_size=5)
    ),
    weight=12,
)
metas = mostly(
    st.one_of(st.none(), st.fixed_dictionaries({"related_images": st.lists(names, max_size=2)})),
    st.one_of(st.fixed_dictionaries({"related_images": json_values()}), json_values()),
    weight=12,
)
checksums = mostly(
    st.one_of(st.none(), st.just("0123456789abcdef0123456789ABCDEF")),
    st.one_of(st.text(alphabet="0123456789abcdefg", min_size=31, max_size=33), json_values()),
    weight=12,
)
entries = st.fixed_dictionaries(
    {"name": names, "extension": extensions, "width": sides, "height": sides},
    optional={
        "meta": metas,
        "checksum": checksums,
        "original_key": st.text(max_size=5),
    },
)
headers = mostly(
    st.sampled_from(
        [[{"version": "1.1"}, {"type": "images"}], [{"version": "1.0"}, {"type": "images"}]]
    ),
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "version": st.sampled_from(["1.0", "1.1", "2.0", 1.1, None]),
                "type": st.sampled_from(["images", "video", "", None]),
            },
        ),
        max_size=2,
    ),
    weight=10,
)
line_ends = st.sampled_from([b"\n", b"\r\n", b"\n\n", b"\n \n"])


@st.composite
def manifests(draw: st.DrawFn) -> bytes:
    lines: list[Any] = [*draw(headers), *draw(st.lists(entries, min_size=1, max_size=5))]
    if lines and draw(st.integers(0, 3)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), lines[draw(st.integers(0, len(lines) - 1))])
    out = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    for line in lines:
        text = json.dumps(line, ensure_ascii=draw(st.booleans()), allow_nan=True)
        raw = text.encode("utf-8", "surrogatepass")  # an unpaired surrogate: invalid UTF-8
        if draw(st.sampled_from(range(60))) == 0:
            raw = raw[: draw(st.integers(0, len(raw)))]  # a line cut short
        out += raw + draw(line_ends)
    return out


@PROFILE
@given(manifests(), chunk_points, options)
def test_near_valid_lines(data, chunks, kwargs):
    _read(data, chunks, **kwargs)


# --- entries built from object keys ---------------------------------------------------------

segment = st.text(alphabet=st.sampled_from("ab._-é"), min_size=1, max_size=6)
key_text = st.one_of(
    st.text(alphabet=st.sampled_from("ab./_-é"), max_size=12),
    st.lists(segment, min_size=1, max_size=3).map("/".join),
)


@PROFILE
@given(key=key_text, width=st.integers(-2, MAX_SIDE + 1), checksum=st.sampled_from([None, "x"]))
def test_entry_from_key_matches_the_reader(key, width, checksum):
    """``entry_from_key`` (with its fast paths) splits the extension as ``posixpath.splitext``
    does and accepts exactly what ``read_manifest`` reads back, to the same entry."""
    try:
        entry = entry_from_key(key, width=width, height=1, checksum=checksum)
    except BadRequest:
        event("refused")
        return
    assert (entry.name, entry.extension) == posixpath.splitext(key)
    out = io.BytesIO()
    write_manifest([entry], out)  # validates again, the reader's way
    assert list(read_manifest(io.BytesIO(out.getvalue()))) == [entry]
