"""The manifest reader's duplicate check holds the paths compactly (a sorted run, plus a dict
of the paths read out of order): it must find every repeat, in any order, at the same line as a
dict of every path would."""

from __future__ import annotations

import json
import random

import pytest

from cvat_lite.errors import ManifestError
from cvat_lite.media.manifest import _SeenPaths, read_manifest


def _manifest(entries: list[dict]) -> list[bytes]:
    lines = [{"version": "1.1"}, {"type": "images"}, *entries]
    return [json.dumps(line).encode() + b"\n" for line in lines]


def _entry(name: str, width: int = 4) -> dict:
    return {"name": name, "extension": ".jpg", "width": width, "height": 3}


def _first_repeat(names: list[str]) -> int | None:
    """The 1-based line of the first repeated name, by a dict of every name (the reference)."""
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            return index + 3
        seen.add(name)
    return None


@pytest.mark.parametrize("seed", range(40))
def test_repeats_are_found_in_any_order(seed):
    rng = random.Random(seed)
    pool = [f"d{rng.randrange(3)}/img_{i:03d}" for i in range(rng.randrange(1, 60))]
    names = sorted(set(pool)) if seed % 2 else list(pool)
    if seed % 3 == 0:
        names.sort()  # sorted with repeats: repeats are adjacent
    elif seed % 3 == 1:
        names += rng.sample(names, k=min(3, len(names)))  # honeypot-like repeats at the end
    expected = _first_repeat(names)

    stream = _manifest([_entry(name) for name in names])
    if expected is None:
        assert [e.name for e in read_manifest(stream)] == names
    else:
        with pytest.raises(ManifestError) as error:
            list(read_manifest(stream))
        assert error.value.extra["line"] == expected
        assert "is listed more than once" in error.value.message
    # repeats allowed: the same entries read back, in order
    assert [e.name for e in read_manifest(stream, allow_duplicates=True)] == names


def test_a_different_repeat_out_of_order_is_refused():
    names = ["b", "c", "a", "d"]
    entries = [_entry(n) for n in names] + [_entry("c"), _entry("a", width=5)]
    with pytest.raises(ManifestError) as error:
        list(read_manifest(_manifest(entries), allow_duplicates=True))
    assert error.value.extra["line"] == 8
    assert "listed again with a different" in error.value.message


def test_sorted_paths_stay_in_the_compact_run():
    seen = _SeenPaths(details=False)
    for i in range(1000):
        path = f"img_{i:04d}.jpg".encode()
        assert seen.first(path) is None
        seen.add(path, 0)
    assert len(seen) == 1000 and not seen._other
    assert seen.first(b"img_0500.jpg") == 0
    assert seen.first(b"img_0500.jpe") is None
    seen.add(b"img_0500.jpe", 0)
    assert seen._other == {b"img_0500.jpe": 0}
    assert seen.first(b"img_0500.jpe") == 0
