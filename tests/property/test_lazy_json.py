"""``load_json_lazily`` and ``stream_annotations_json`` (what a restore reads annotations.json
with, one object at a time) agree with ``load_json`` and ``parse_annotations_json`` (the whole
document at once) on any input: the same value or specs, or the same error message."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cvat_lite.backup.archive import MAX_JSON_DEPTH, LazyItems, load_json, load_json_lazily
from cvat_lite.backup.format import (
    JobAnnotationsSpec,
    parse_annotations_json,
    stream_annotations_json,
)
from cvat_lite.backup.format.annotations import RawObjectCount
from cvat_lite.backup.limits import Limits
from cvat_lite.errors import ArchiveError
from tests.backup.archives import LABELS, task_backup

from .strategies import PROFILE, json_values, mutated

ANNOTATIONS_JSON = task_backup(3).json("annotations.json")
KEYS = st.sampled_from(["tags", "shapes", "tracks", "label", "frame", "elements", "version"])
OPTIONAL_KEYS = ("elements", "intervals", "score", "occluded", "rotation", "source")


def _materialized(value: Any) -> Any:
    if isinstance(value, LazyItems | list):
        return [_materialized(item) for item in value]
    if isinstance(value, dict):
        return {key: _materialized(item) for key, item in value.items()}
    return value


def _outcome(load, data: bytes) -> Any:
    try:
        return ("value", _materialized(load(data, what="annotations.json")))
    except ArchiveError as error:
        return ("error", error.message)


@st.composite
def texts(draw: st.DrawFn) -> bytes:
    """JSON text of a list of job-like objects (or of anything), spaced or not, nested deeper,
    cut short or with a byte changed."""
    value = draw(
        st.one_of(
            st.lists(json_values(KEYS), max_size=3), json_values(KEYS), st.just(ANNOTATIONS_JSON)
        )
    )
    text = json.dumps(
        value, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1]))
    )
    depth = draw(st.sampled_from([0, 0, 0, MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH]))
    if depth and text.startswith("[{") and '": [' in text:
        at = text.index('": [') + 3
        text = text[:at] + "[" * depth + text[at:]
        close = text.index("]", at + depth)
        text = text[:close] + "]" * depth + text[close:]
    raw = text.encode("utf-8", "surrogatepass")
    change = draw(st.integers(0, 9))
    if change == 0 and raw:
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif change == 1 and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = (
            raw[:at]
            + draw(st.sampled_from([b",", b"]", b"}", b'"', b" ", b"1e999", b"x"]))
            + raw[at + 1 :]
        )
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + raw


@PROFILE
@given(texts())
def test_lazily_loaded_documents_are_the_loaded_ones(data):
    assert _outcome(load_json_lazily, data) == _outcome(load_json, data)


@PROFILE
@given(st.binary(max_size=200))
def test_lazily_loaded_bytes_are_the_loaded_ones(data):
    assert _outcome(load_json_lazily, data) == _outcome(load_json, data)


def _parsed(value: Any, limits: Limits) -> Any:
    jobs = len(value) if isinstance(value, list) else 1
    try:
        value = load_json(json.dumps(value).encode(), what="annotations.json")
        return (
            "specs",
            parse_annotations_json(value, labels=LABELS, job_count=jobs, limits=limits),
        )
    except ArchiveError as error:
        return ("error", error.message)


def _streamed(value: Any, limits: Limits) -> Any:
    jobs = len(value) if isinstance(value, list) else 1
    counter = RawObjectCount()
    try:
        document = load_json_lazily(
            json.dumps(value).encode(), what="annotations.json", on_item=counter
        )
        result = []
        for job in stream_annotations_json(
            document, raw_count=counter.count, labels=LABELS, job_count=jobs, limits=limits
        ):
            spec = JobAnnotationsSpec(version=job.version)
            for kind, obj in job.objects:
                getattr(spec, kind).append(obj)
            result.append(spec)
        return ("specs", result)
    except ArchiveError as error:
        return ("error", error.message)


# Small enough for the generated documents to reach them.
SMALL = Limits(max_objects=4, max_points=6, max_track_shapes=2)


@PROFILE
@given(st.lists(json_values(KEYS), max_size=3), st.sampled_from([Limits(), SMALL]))
def test_streamed_annotations_are_the_parsed_ones(value, limits):
    assert _streamed(value, limits) == _parsed(value, limits)


@PROFILE
@given(mutated(ANNOTATIONS_JSON, keys=OPTIONAL_KEYS), st.sampled_from([Limits(), SMALL]))
def test_streamed_near_valid_annotations_are_the_parsed_ones(value, limits):
    assert _streamed(value, limits) == _parsed(value, limits)
