"""What a backup says about a task or project, read from the models: the typed specs of
``backup.format`` (task.json, project.json, annotations.json) and the task's media manifest.

Reads only (no writes, no network). Media names in a backup are relative to the task's media
root (``MediaRoot``): the upload folder of a ``local`` task, the share root of a ``share`` task,
``Data.cloud_prefix`` of a cloud task (the folder its manifest was in), so that
``<prefix>/<name>`` is the object key again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import TextField
from django.db.models.functions import Cast

from cvat_lite.backup.format import (
    LIGHTWEIGHT_STORAGE,
    AttributeSpec,
    DataSpec,
    JobAnnotationsSpec,
    JobSpec,
    LabelSpec,
    OriginSpec,
    ProjectSpec,
    TaskSpec,
)
from cvat_lite.engine.choices import ChunkType, StorageMethod
from cvat_lite.engine.models import (
    Attribute,
    Data,
    Job,
    JobType,
    Label,
    Project,
    StorageChoice,
    Task,
)
from cvat_lite.engine.services.labels import labels_of
from cvat_lite.errors import CvatLiteError
from cvat_lite.media.manifest import ManifestEntry, entry_from_key

FULL_STORAGE = StorageChoice.LOCAL.value  # every full backup carries its media (contract 7.2)
ROW_BATCH = 10_000
_RELATED_TEXT = "related_files_text"


# --- media names -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaRoot:
    """Turns an ``Image.path`` (a full object key, or a path under the task's folder or the
    share) into its name in the backup: the path relative to ``prefix``."""

    prefix: str  # "" or a folder without a trailing slash
    strip: bool = False  # the paths start with "<prefix>/" (full object keys)

    def name(self, path: str) -> str:
        if not self.strip:
            return path
        if not path.startswith(self.prefix + "/"):  # media_root() checked every row
            raise CvatLiteError()
        return path[len(self.prefix) + 1 :]


def media_root(data: Data) -> MediaRoot:
    """A cloud task's media are named relative to ``cloud_prefix`` (the folder its manifest
    was in). Its Image paths are full object keys, all in that folder; paths that are not
    (all of them) are taken as already relative to it."""
    if data.storage != StorageChoice.CLOUD_STORAGE:
        return MediaRoot("")
    prefix = data.cloud_prefix.strip("/")
    strip = bool(prefix) and not data.images.exclude(path__startswith=prefix + "/").exists()
    return MediaRoot(prefix, strip)


def image_rows(data: Data, fields: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    """``values_list(fields)`` of the task's Image rows in frame order, fetched in batches by
    frame (no cursor stays open while the caller works). ``related_files`` is read as text
    and decoded only when it is not ``[]``: decoding every row's empty list was most of the
    time of reading a large task's rows."""
    related = [index for index, name in enumerate(fields) if name == "related_files"]
    names = tuple(_RELATED_TEXT if name == "related_files" else name for name in fields)
    rows_of = data.images.annotate(**{_RELATED_TEXT: Cast("related_files", TextField())})
    start = 0
    while True:
        rows = list(
            rows_of.filter(frame__gte=start)
            .order_by("frame")
            .values_list("frame", *names)[:ROW_BATCH]
        )
        if not rows:
            return
        for row in rows:
            if not related:
                yield row[1:]
                continue
            values = list(row[1:])
            for index in related:
                values[index] = _related_files(values[index])
            yield tuple(values)
        start = rows[-1][0] + 1


def _related_files(text: str | None) -> list[str]:
    if text is None or text == "[]":
        return []
    return json.loads(text) or []


def manifest_entries(data: Data, root: MediaRoot) -> Iterator[ManifestEntry]:
    """The task's media manifest: one entry per Image row (repeated honeypot images too)."""
    fields = ("path", "width", "height", "checksum", "related_files")
    for path, width, height, checksum, related in image_rows(data, fields):
        yield entry_from_key(
            root.name(path),
            width,
            height,
            checksum or None,
            [root.name(item) for item in related] if related else (),
        )


# --- labels ------------------------------------------------------------------------------------


def _label_owner(*, task: Task | None = None, project: Project | None = None) -> dict[str, int]:
    """The filter for every label (sublabels included) a task uses or a project owns."""
    if task is not None:
        return {"project_id": task.project_id} if task.project_id else {"task_id": task.id}
    assert project is not None
    return {"project_id": project.id}


def _label_spec(label: Label, attributes: dict[int, list[Attribute]], children) -> LabelSpec:
    return LabelSpec(
        name=label.name,
        color=label.color,
        type=label.type,
        attributes=[
            AttributeSpec(
                name=attr.name,
                input_type=attr.input_type,
                mutable=attr.mutable,
                default_value=attr.default_value,
                values=[str(value) for value in attr.values or []],
            )
            for attr in attributes.get(label.id, [])
        ],
        sublabels=[_label_spec(sub, attributes, children) for sub in children.get(label.id, [])],
        svg=label.svg,
    )


def label_specs(*, task: Task | None = None, project: Project | None = None) -> list[LabelSpec]:
    """The labels a task uses (its project's when it is in one) or a project owns."""
    top = list(labels_of(task=task, project=project).order_by("id"))
    everything = Label.objects.filter(**_label_owner(task=task, project=project))
    children: dict[int, list[Label]] = {}
    for label in everything.filter(parent__isnull=False).order_by("id"):
        assert label.parent_id is not None  # the filter's
        children.setdefault(label.parent_id, []).append(label)
    attributes: dict[int, list[Attribute]] = {}
    for attr in Attribute.objects.filter(label__in=everything).order_by("id"):
        attributes.setdefault(attr.label_id, []).append(attr)
    return [_label_spec(label, attributes, children) for label in top]


def project_spec(project: Project) -> ProjectSpec:
    return ProjectSpec(
        name=project.name,
        bug_tracker=project.bug_tracker,
        status=project.status,
        labels=label_specs(project=project),
    )


# --- task.json ---------------------------------------------------------------------------------


def _default_ranges(task: Task, size: int) -> list[tuple[int, int]]:
    """The annotation segments ``segments_create`` cuts from ``size`` frames with the task's
    segment size and overlap."""
    segment_size = task.segment_size if 0 < task.segment_size <= size else size
    overlap = min(task.overlap or 0, segment_size // 2)
    return [
        (start, min(start + segment_size, size) - 1)
        for start in range(0, size - overlap, segment_size - overlap)
    ]


def _jobs(task: Task, *related: str) -> list[Job]:
    """The task's jobs in their order (CVAT's: by id), with ``related`` rows selected."""
    jobs = Job.objects.filter(segment__task=task).select_related("segment", *related)
    return list(jobs.order_by("id"))


def _job_frames(job: Job) -> list[int]:
    segment = job.segment
    if segment.frames is not None:
        return sorted(segment.frames)
    return list(range(segment.start_frame, segment.stop_frame + 1))


def _custom_segments(task: Task, data: Data, jobs: list[Job]) -> bool:
    """Are the annotation jobs other than the segment size and overlap make them (a layout
    restored from CVAT's ``custom_segments``)? CVAT then needs every job's files."""
    annotation = [job.segment for job in jobs if job.type == JobType.ANNOTATION]
    if any(segment.frames is not None for segment in annotation):
        return True
    ranges = [(segment.start_frame, segment.stop_frame) for segment in annotation]
    return ranges != _default_ranges(task, data.size)


def _frame_names(data: Data, root: MediaRoot) -> list[str]:
    """The backup name of each task frame (0..size-1)."""
    step = data.step
    names = []
    for frame, path in (
        data.images.filter(frame__gte=data.start_frame, frame__lte=data.stop_frame)
        .order_by("frame")
        .values_list("frame", "path")
    ):
        if (frame - data.start_frame) % step == 0:
            names.append(root.name(path))
    return names


def _job_spec(job: Job, names: list[str] | None) -> JobSpec:
    explicit = job.segment.frames is not None
    frames = _job_frames(job)
    return JobSpec(
        start_frame=job.segment.start_frame,
        stop_frame=job.segment.stop_frame,
        status=job.status,
        type=job.type,
        files=[names[frame] for frame in frames] if names is not None else None,
        frames=frames if explicit else None,
        stage=job.stage,
        state=job.state,
    )


def task_spec(*, task: Task, data: Data, lightweight: bool, root: MediaRoot) -> TaskSpec:
    """task.json of ``task``: ``data.storage`` is "cloud_storage" only in a lightweight backup,
    which also names the media's origin when it is known (``origin_of``)."""
    jobs = _jobs(task)
    custom = _custom_segments(task, data, jobs)
    every_job = custom or task.validation_layout is not None
    needs_names = every_job or any(job.segment.frames is not None for job in jobs)
    names = _frame_names(data, root) if needs_names else None
    return TaskSpec(
        name=task.name,
        bug_tracker=task.bug_tracker,
        status=task.status,
        subset=task.subset,
        labels=label_specs(task=task),
        consensus_replicas=task.consensus_replicas,
        data=DataSpec(
            chunk_size=data.chunk_size,
            image_quality=data.image_quality,
            start_frame=data.start_frame,
            stop_frame=data.stop_frame,
            frame_filter=data.frame_filter,
            sorting_method=data.sorting_method,
            deleted_frames=sorted(data.deleted_frames or []),
            storage=LIGHTWEIGHT_STORAGE if lightweight else FULL_STORAGE,
            storage_method=StorageMethod.CACHE.value,
            chunk_type=ChunkType.IMAGESET.value,
            custom_segments=custom,
            validation_layout=task.validation_layout,
        ),
        jobs=[
            _job_spec(job, names if every_job or job.segment.frames is not None else None)
            for job in jobs
        ],
        origin=origin_of(data, root) if lightweight else None,
    )


def origin_of(data: Data, root: MediaRoot) -> OriginSpec | None:
    """Where a cloud task's media are: the linked storage's provider and bucket (read from the
    database, no network), else the ones the Data remembers (``Data.cloud_origin``)."""
    storage = data.cloud_storage if data.cloud_storage_id is not None else None
    if storage is not None:
        origin = {"provider_type": storage.provider_type, "resource": storage.resource}
    else:
        origin = data.cloud_origin or {}
    if not origin.get("provider_type") or not origin.get("resource"):
        return None
    return OriginSpec(
        provider_type=origin["provider_type"], resource=origin["resource"], prefix=root.prefix
    )


# --- annotations.json --------------------------------------------------------------------------


class _Names:
    """Label and attribute names by id, for the labels of one task or project."""

    def __init__(self, task: Task):
        labels = Label.objects.filter(**_label_owner(task=task))
        self.labels = dict(labels.values_list("id", "name"))
        self.specs = dict(Attribute.objects.filter(label__in=labels).values_list("id", "name"))

    def attributes(self, items: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [{"value": item["value"], "name": self.specs[item["spec_id"]]} for item in items]

    def common(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "frame": obj["frame"],
            "group": obj.get("group") or 0,
            "source": obj.get("source") or "manual",
        }

    def geometry(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": obj["type"],
            "occluded": obj.get("occluded", False),
            "outside": obj.get("outside", False),
            "z_order": obj.get("z_order") or 0,
            "rotation": float(obj.get("rotation") or 0.0),
            "points": list(obj.get("points") or []),
        }

    def tag(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.common(obj),
            "attributes": self.attributes(obj.get("attributes", [])),
            "label": self.labels[obj["label_id"]],
        }

    def shape(self, obj: dict[str, Any], *, top: bool = True) -> dict[str, Any]:
        result = {**self.geometry(obj), **self.common(obj)}
        result["attributes"] = self.attributes(obj.get("attributes", []))
        if obj.get("score") is not None:
            result["score"] = obj["score"]
        if top:
            result["elements"] = [self.shape(e, top=False) for e in obj.get("elements", [])]
        result["label"] = self.labels[obj["label_id"]]
        return result

    def track(self, obj: dict[str, Any], *, top: bool = True) -> dict[str, Any]:
        result = self.common(obj)
        result["shapes"] = [
            {
                **self.geometry(shape),
                "frame": shape["frame"],
                "attributes": self.attributes(shape.get("attributes", [])),
            }
            for shape in obj.get("shapes", [])
        ]
        result["attributes"] = self.attributes(obj.get("attributes", []))
        if top:
            result["elements"] = [self.track(e, top=False) for e in obj.get("elements", [])]
        result["label"] = self.labels[obj["label_id"]]
        return result


def annotation_specs(task: Task) -> list[JobAnnotationsSpec]:
    """One entry per job, in job order (task.json's), labels and attributes by name."""
    names = _Names(task)
    result = []
    for job in _jobs(task, "annotations"):
        row = getattr(job, "annotations", None)
        if row is None:
            result.append(JobAnnotationsSpec())
            continue
        result.append(
            JobAnnotationsSpec(
                version=row.version,
                tags=[names.tag(obj) for obj in row.tags],
                shapes=[names.shape(obj) for obj in row.shapes],
                tracks=[names.track(obj) for obj in row.tracks],
            )
        )
    return result
