"""annotations.json: one entry per job, CVAT's objects with labels and attributes by name.

``parse_annotations_json`` reads a parsed document whole. A restore reads the member with
``load_json_lazily`` instead (``count_raw_objects`` counting its objects on the way) and then
``stream_annotations_json``: the same checks, in the same order, with the same errors, one
object at a time, so that its memory is the document's text plus one job's output (contract 9,
bench/import_memory.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cvat_lite.backup.format.base import (
    ANNOTATIONS_JSON,
    NOT_LIST,
    REQUIRED,
    SHAPE_TYPES,
    TOO_LONG,
    WRONG_TYPE,
    Fields,
    is_int,
)
from cvat_lite.backup.format.task import TOO_MANY, LabelSpec, check_count
from cvat_lite.backup.limits import Limits
from cvat_lite.errors import ArchiveError
from cvat_lite.media.paths import shown

MAX_ATTRIBUTE_VALUE = 4096
MAX_SOURCE = 64

JOB_COUNT = "{what}: expected one entry per job of task.json ({jobs}), found {count}."
LABEL_UNDEFINED = "{what}: label {name} is not defined."
SUBLABEL_UNDEFINED = "{what}: label {name} is not a sublabel of {parent}."
ATTRIBUTE_UNDEFINED = "{what}: attribute {name} is not defined for label {label}."
ELEMENTS_NOT_ALLOWED = "{what}: {field} must be empty: elements cannot have elements."
TOO_MANY_OBJECTS = (
    "{what}: the archive has more than {limit} annotation objects (tags, shapes, tracks, the "
    "shapes of tracks and skeleton elements)."
)
INTERVALS_NOT_SUPPORTED = (
    "{what}: {field} must be empty: audio interval annotations are not supported here."
)


@dataclass
class JobAnnotationsSpec:
    """One job's annotations in CVAT's backup shape: labels and attributes by name, each object
    with CVAT's keys in CVAT's order (see ``_Annotations``)."""

    version: int = 0
    tags: list[dict[str, Any]] = field(default_factory=list)
    shapes: list[dict[str, Any]] = field(default_factory=list)
    tracks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _LabelIndex:
    attributes: frozenset[str]
    sublabels: Mapping[str, _LabelIndex]


def _index(labels: list[LabelSpec]) -> dict[str, _LabelIndex]:
    return {
        label.name: _LabelIndex(
            attributes=frozenset(a.name for a in label.attributes),
            sublabels=_index(label.sublabels),
        )
        for label in labels
    }


_Named = tuple[str, _LabelIndex]  # a label's name and what it defines


class _Annotations:
    """Reads one job's objects, resolving label and attribute names against the task's."""

    def __init__(self, what: str, labels: list[LabelSpec], limits: Limits):
        self.what = what
        self.labels = _index(labels)
        self.limits = limits

    def label(self, obj: Fields, parent: _Named | None) -> _Named:
        name = obj.string("label", empty=False)
        known = self.labels if parent is None else parent[1].sublabels
        if name not in known:
            if parent is None:
                raise ArchiveError(LABEL_UNDEFINED.format(what=self.what, name=shown(name)))
            message = SUBLABEL_UNDEFINED.format(
                what=self.what, name=shown(name), parent=shown(parent[0])
            )
            raise ArchiveError(message)
        return name, known[name]

    def attributes(self, obj: Fields, label: _Named) -> list[dict[str, str]]:
        result = []
        for attr in obj.objects("attributes", []):
            name = attr.string("name", empty=False)
            if name not in label[1].attributes:
                raise ArchiveError(
                    ATTRIBUTE_UNDEFINED.format(
                        what=self.what, name=shown(name), label=shown(label[0])
                    )
                )
            value = attr.get("value", REQUIRED)
            if is_int(value) or isinstance(value, float):  # CVAT's CharField takes numbers
                value = str(value)
            if not isinstance(value, str):
                raise attr.fail(WRONG_TYPE, "value", kind="a string")
            if len(value) > MAX_ATTRIBUTE_VALUE:
                raise attr.fail(TOO_LONG, "value", limit=MAX_ATTRIBUTE_VALUE)
            result.append({"value": value, "name": name})
        return result

    def common(self, obj: Fields) -> dict[str, Any]:
        return {
            "frame": obj.integer("frame"),
            "group": obj.integer("group", 0),
            "source": obj.string("source", "manual", limit=MAX_SOURCE),
        }

    def geometry(self, obj: Fields) -> dict[str, Any]:
        points = obj.items("points", [])
        if len(points) > self.limits.max_points:
            limit = self.limits.max_points
            raise obj.fail(TOO_MANY, "points", count=len(points), items="numbers", limit=limit)
        for index, point in enumerate(points):
            if not (is_int(point) or isinstance(point, float)) or not math.isfinite(point):
                raise obj.fail(WRONG_TYPE, f"points[{index}]", kind="a number")
        return {
            "type": obj.choice("type", SHAPE_TYPES),
            "occluded": obj.boolean("occluded", False),
            "outside": obj.boolean("outside", False),
            "z_order": obj.integer("z_order", 0, minimum=-(2**31)),
            "rotation": obj.number("rotation", 0.0, minimum=0, maximum=360),
            "points": points,
        }

    def tag(self, obj: Fields) -> dict[str, Any]:
        label = self.label(obj, None)
        return {**self.common(obj), "attributes": self.attributes(obj, label), "label": label[0]}

    def shape(self, obj: Fields, parent: _Named | None = None) -> dict:
        label = self.label(obj, parent)
        result = {**self.geometry(obj), **self.common(obj)}
        result["attributes"] = self.attributes(obj, label)
        if obj.get("score", None) is not None:  # CVAT writes it since 2.63
            result["score"] = obj.number("score", 1.0, minimum=0, maximum=1)
        result |= self.elements(obj, parent, label, self.shape)
        result["label"] = label[0]
        return result

    def track(self, obj: Fields, parent: _Named | None = None) -> dict:
        label = self.label(obj, parent)
        check_count(obj, "shapes", "shapes", self.limits.max_track_shapes)
        result = self.common(obj)
        result["shapes"] = [
            {
                **self.geometry(shape),
                "frame": shape.integer("frame"),
                "attributes": self.attributes(shape, label),
            }
            for shape in obj.objects("shapes", [])
        ]
        result["attributes"] = self.attributes(obj, label)
        result |= self.elements(obj, parent, label, self.track)
        result["label"] = label[0]
        return result

    def elements(
        self,
        obj: Fields,
        parent: _Named | None,
        label: _Named,
        read: Callable[[Fields, _Named], dict],
    ) -> dict[str, Any]:
        """``{"elements": [...]}`` for a top-level object (a skeleton's parts, read with
        ``read`` against the label's sublabels); nothing for an element, which has none."""
        elements = list(obj.objects("elements", []))
        if parent is None:
            return {"elements": [read(element, label) for element in elements]}
        if elements:
            raise obj.fail(ELEMENTS_NOT_ALLOWED, "elements")
        return {}


def _children(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _count_objects(jobs: list[Any], limit: int) -> int:
    """The annotation objects of ``jobs`` (raw annotations.json or built specs), stopping once
    past ``limit``: tags, shapes, tracks, their skeleton elements and the shapes of tracks.
    Anything malformed counts as nothing here; parsing refuses it."""
    count = 0
    for job in jobs:
        stack = [*_children(job, "tags"), *_children(job, "shapes"), *_children(job, "tracks")]
        while stack and count <= limit:
            item = stack.pop()
            count += 1
            stack.extend(_children(item, "elements"))
            count += len(_children(item, "shapes"))
        if count > limit:
            break
    return count


def _count_item(item: Any) -> int:
    """One object of a job's list, counted as ``_count_objects`` counts it."""
    if not isinstance(item, dict) or ("elements" not in item and "shapes" not in item):
        return 1
    count = 0
    stack = [item]
    while stack:
        item = stack.pop()
        count += 1
        stack.extend(_children(item, "elements"))
        count += len(_children(item, "shapes"))
    return count


class RawObjectCount:
    """An ``on_item`` for ``load_json_lazily``: counts the objects of annotations.json (as
    ``parse_annotations_json`` counts them on the raw document) while the document loads."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, key: str, item: Any) -> None:
        if key in ("tags", "shapes", "tracks"):
            self.count += _count_item(item)


def object_count(jobs: list[JobAnnotationsSpec]) -> int:
    """The annotation objects of parsed jobs, counted as ``Limits.max_objects`` counts them."""
    return _count_objects(build_annotations_json(jobs), limit=2**63)


def parse_annotations_json(
    obj: Any,
    *,
    labels: list[LabelSpec],
    job_count: int,
    what: str = ANNOTATIONS_JSON,
    limits: Limits | None = None,
    objects_before: int = 0,
    consume: bool = False,
) -> list[JobAnnotationsSpec]:
    """One ``JobAnnotationsSpec`` per job of task.json, in the same order. Every label,
    sublabel (of skeleton elements) and attribute named must be defined in ``labels``; frames
    are integers >= 0 (their range is the importer's check, see ``max_frame``).

    ``limits`` bound the objects (with ``objects_before``, those of the archive's other
    tasks), the points of a shape and the shapes of a track, checked on the raw document
    before any object is built (contract 9). With ``consume`` the document's lists are reused:
    each object is replaced by its spec as it is read, so that one copy is alive at a time;
    the document is not to be used afterwards."""
    limits = limits or Limits()
    _check_jobs(obj, job_count, what)
    _check_object_count(objects_before + _count_objects(obj, limits.max_objects), what, limits)
    reader = _Annotations(what, labels, limits)
    jobs = []
    for index, item in enumerate(obj):
        job = Fields(what, f"[{index}]", item)
        jobs.append(
            JobAnnotationsSpec(
                version=_job_version(job),
                tags=_read(job, "tags", reader.tag, consume),
                shapes=_read(job, "shapes", reader.shape, consume),
                tracks=_read(job, "tracks", reader.track, consume),
            )
        )
    return jobs


def _check_jobs(obj: Any, job_count: int, what: str) -> None:
    if not isinstance(obj, list):
        raise ArchiveError(NOT_LIST.format(what=what))
    if len(obj) != job_count:
        raise ArchiveError(JOB_COUNT.format(what=what, count=len(obj), jobs=job_count))


def _check_object_count(count: int, what: str, limits: Limits) -> None:
    if count > limits.max_objects:
        raise ArchiveError(TOO_MANY_OBJECTS.format(what=what, limit=limits.max_objects))


def _job_version(job: Fields) -> int:
    """A job entry's checks before its objects, and its version."""
    if job.items("intervals", []):  # CVAT's audio tasks, which cvat_lite does not have
        raise job.fail(INTERVALS_NOT_SUPPORTED, "intervals")
    return job.integer("version", 0)


@dataclass(frozen=True, slots=True)
class JobStream:
    """One job of ``stream_annotations_json``: its version and its objects, read (and checked)
    as ``objects`` is iterated."""

    version: int
    objects: Iterable[tuple[str, dict[str, Any]]]  # (kind, spec) for the tags, shapes, tracks


def stream_annotations_json(
    obj: Any,
    *,
    raw_count: int,
    labels: list[LabelSpec],
    job_count: int,
    what: str = ANNOTATIONS_JSON,
    limits: Limits | None = None,
    objects_before: int = 0,
) -> Generator[JobStream]:
    """``parse_annotations_json`` of a document from ``load_json_lazily`` (``raw_count``: its
    objects, from ``RawObjectCount``), one job at a time and, in each job, one object at a time:
    consume each job's ``objects`` before taking the next job, and the errors are those of
    ``parse_annotations_json``, in the same order. Nothing is kept: each spec is the caller's."""
    limits = limits or Limits()
    _check_jobs(obj, job_count, what)
    _check_object_count(objects_before + raw_count, what, limits)
    reader = _Annotations(what, labels, limits)
    for index, item in enumerate(obj):
        job = Fields(what, f"[{index}]", item)
        yield JobStream(version=_job_version(job), objects=_job_objects(job, reader))


def _job_objects(job: Fields, reader: _Annotations) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind, read in (("tags", reader.tag), ("shapes", reader.shape), ("tracks", reader.track)):
        for obj in job.objects(kind, []):
            yield kind, read(obj)


def spec_object_count(obj: Mapping[str, Any]) -> int:
    """One parsed object (a spec), counted as ``object_count`` counts it."""
    return _count_item(obj)


def frames_of(obj: Mapping[str, Any]) -> Iterator[int]:
    """The frames one parsed object (a spec) touches."""
    return _frames_of(obj)


def _read(job: Fields, key: str, read: Callable[[Fields], dict], consume: bool) -> list[dict]:
    """The objects at ``key`` read with ``read``; with ``consume``, each replaced in the
    document's own list by what ``read`` makes of it, so that every parsed object is freed as
    soon as its spec is built (bench/import_memory.py)."""
    if not consume:
        return [read(obj) for obj in job.objects(key, [])]
    items = job.items(key, [])
    for index, obj in enumerate(job.objects(key, [])):
        items[index] = read(obj)
    return items


def build_annotations_json(jobs: list[JobAnnotationsSpec]) -> list[dict[str, Any]]:
    """annotations.json: one ``{version, tags, shapes, tracks}`` entry per job."""
    return [
        {"version": job.version, "tags": job.tags, "shapes": job.shapes, "tracks": job.tracks}
        for job in jobs
    ]


def _frames_of(obj: Mapping[str, Any]) -> Iterator[int]:
    yield obj["frame"]
    for shape in obj.get("shapes", ()):
        yield shape["frame"]
    for element in obj.get("elements", ()):
        yield from _frames_of(element)


def max_frame(job: JobAnnotationsSpec) -> int | None:
    """The largest frame any object of the job touches (None for a job without objects)."""
    frames = (
        frame
        for kind in (job.tags, job.shapes, job.tracks)
        for obj in kind
        for frame in _frames_of(obj)
    )
    return max(frames, default=None)
