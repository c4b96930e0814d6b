"""The archive's JSON documents on any input: ``load_json`` parses or raises ``ArchiveError``;
``parse_task_json`` / ``parse_annotations_json`` return specs or raise ``ArchiveError``, never
another exception, for any JSON-like value and for near-valid mutations of real documents; and
``restore_plan.plan_task`` (every check made before an import writes anything) on an archive
holding such a mutated document refuses with the project's errors only."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cvat_lite.backup.archive import MAX_JSON_DEPTH, ArchiveReader, load_json
from cvat_lite.backup.format import (
    build_task_json,
    parse_annotations_json,
    parse_task_json,
)
from cvat_lite.backup.restore_plan import plan_task
from cvat_lite.errors import ArchiveError, BadRequest
from tests.backup.archives import LABELS, task_backup, write_zip

from .strategies import ANY_JSON, PROFILE, json_values, mutated

_VALID = task_backup(3)
_LIGHTWEIGHT = task_backup(3, lightweight=True)
TASK_JSON = _VALID.json("task.json")
LIGHTWEIGHT_TASK_JSON = _LIGHTWEIGHT.json("task.json")
ANNOTATIONS_JSON = _VALID.json("annotations.json")
# Optional keys of the format that the valid documents above do not have.
OPTIONAL_KEYS = (
    *("frames", "files", "stage", "state", "custom_segments", "validation_layout"),
    *("cloud_storage", "consensus_replicas", "frame_filter", "svg", "sublabels", "elements"),
    *("mutable", "default_value", "values", "related_images", "checksum"),
)
TASK_KEYS = st.sampled_from([*sorted(TASK_JSON), *OPTIONAL_KEYS])


def _outcome(kind: str) -> None:
    event(kind)


# --- load_json ---------------------------------------------------------------------------------


def _load(data: bytes) -> None:
    try:
        value = load_json(data, what="x.json")
    except ArchiveError:
        _outcome("refused")
        return
    _outcome("parsed")
    assert json.loads(json.dumps(value)) == value  # plain JSON, finite numbers


@PROFILE
@given(st.binary(max_size=300))
def test_load_json_any_bytes(data):
    _load(data)


@st.composite
def json_texts(draw: st.DrawFn) -> bytes:
    """JSON text of a JSON-like value (escaped or not, surrogates kept as they come), nested
    lists around it, or cut short."""
    value = draw(ANY_JSON)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    depth = draw(st.sampled_from([0, 0, 0, MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH, 3000]))
    text = "[" * depth + text + "]" * depth
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + raw


@PROFILE
@given(json_texts())
def test_load_json_json_texts(data):
    _load(data)


# --- task.json ---------------------------------------------------------------------------------


def _parse_task(value) -> None:
    try:
        spec = parse_task_json(value)
    except ArchiveError:
        _outcome("refused")
        return
    _outcome("parsed")
    again = parse_task_json(json.loads(json.dumps(build_task_json(spec))))
    assert again == spec  # what we would write back reads back the same


@PROFILE
@given(json_values(TASK_KEYS))
def test_task_json_any_value(value):
    _parse_task(value)


@PROFILE
@given(
    st.one_of(
        mutated(TASK_JSON, keys=OPTIONAL_KEYS), mutated(LIGHTWEIGHT_TASK_JSON, keys=OPTIONAL_KEYS)
    )
)
def test_task_json_near_valid(value):
    _parse_task(value)


# --- annotations.json --------------------------------------------------------------------------


def _parse_annotations(value) -> None:
    jobs = len(value) if isinstance(value, list) else 1
    try:
        parse_annotations_json(value, labels=LABELS, job_count=jobs)
    except ArchiveError:
        _outcome("refused")
        return
    _outcome("parsed")


@PROFILE
@given(json_values(st.sampled_from(["tags", "shapes", "tracks", "label", "frame", "elements"])))
def test_annotations_json_any_value(value):
    _parse_annotations(value)


@PROFILE
@given(mutated(ANNOTATIONS_JSON, keys=OPTIONAL_KEYS))
def test_annotations_json_near_valid(value):
    _parse_annotations(value)


# --- the documents together: restore_plan.plan_task -------------------------------------------


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


@settings(PROFILE, max_examples=60)  # an archive written and read per example
@given(st.sampled_from(["task.json", "annotations.json"]), st.booleans(), st.data())
def test_a_near_valid_document_in_an_archive(scratch, member, lightweight, data):
    """Everything the importer checks before writing (the layout, the manifest, the
    cross-checks of task.json, annotations.json and the manifest) refuses with the project's
    errors (ArchiveError, ManifestError)."""
    backup = _LIGHTWEIGHT if lightweight else _VALID
    doc = data.draw(mutated(backup.json(member), keys=OPTIONAL_KEYS))
    path = write_zip(
        scratch / "b.zip", {**backup.members, member: json.dumps(doc).encode()}.items()
    )
    try:
        with ArchiveReader(path) as reader:
            plan_task(reader)
    except BadRequest:
        _outcome("refused")
    else:
        _outcome("planned")
