"""Helpers for the restore tests: project archives, and a snapshot of everything a restore
could leave behind (rows, background requests, files under DATA_DIR, cache entries in Redis)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import redis
from django.conf import settings

from cvat_lite.backup.format import LabelSpec, ProjectSpec, build_project_json
from cvat_lite.engine.models import (
    Attribute,
    CloudStorage,
    Data,
    Image,
    Job,
    JobAnnotations,
    Label,
    Project,
    Segment,
    Task,
)
from cvat_lite.requests.models import Request
from cvat_lite.uploads.models import Upload
from tests.fixtures.interop import interop_dir, missing_corpus

from .archives import LABELS, Backup, task_backup

INTEROP = interop_dir()
CVAT_BACKUP = INTEROP / "task_30_backup_pre_consensus_replica_removal.zip"

MODELS = (
    *(Project, Task, Data, Image, Label, Attribute, Segment, Job, JobAnnotations),
    *(CloudStorage, Upload),
)


def cvat_backup_path() -> Path:
    if not CVAT_BACKUP.is_file():
        missing_corpus(f"The CVAT backup {CVAT_BACKUP}")
    return CVAT_BACKUP


def project_backup(
    *tasks: tuple[int, bool], labels: list[LabelSpec] | None = None, name: str = "zoo"
) -> Backup:
    """project.json and one ``task_<i>/`` folder per ``(images, lightweight)``."""
    backup = Backup()
    spec = ProjectSpec(name=name, labels=labels if labels is not None else LABELS)
    backup.set_json("project.json", build_project_json(spec))
    for index, (images, lightweight) in enumerate(tasks):
        part = task_backup(images, lightweight=lightweight, prefix=f"task_{index}/")
        backup.members.update(part.members)
    return backup


@dataclasses.dataclass(frozen=True)
class Snapshot:
    rows: dict[str, int]  # per model of MODELS (background requests are in ``requests``)
    files: frozenset[str]
    cache_keys: frozenset[bytes]
    requests: frozenset[str] = frozenset()  # ids of the Request rows


def _files() -> frozenset[str]:
    root = Path(settings.DATA_DIR)
    found = set()
    for folder, _dirs, names in os.walk(root):
        for name in names:
            found.add(str(Path(folder, name).relative_to(root)))
    return frozenset(found)


def _cache_keys() -> frozenset[bytes]:
    """Redis keys that are not RQ's own (queues, jobs, registries)."""
    connection = redis.Redis.from_url(settings.REDIS_URL)
    return frozenset(key for key in connection.keys("*") if not key.startswith(b"rq:"))


def snapshot() -> Snapshot:
    return Snapshot(
        rows={model.__name__: model.objects.count() for model in MODELS},
        files=_files(),
        cache_keys=_cache_keys(),
        requests=frozenset(Request.objects.values_list("id", flat=True)),
    )


# --- comparing tasks (round trips) -------------------------------------------------------------


def _label_tree(labels) -> list[dict]:
    return [
        {
            "name": label.name,
            "color": label.color,
            "type": label.type,
            "svg": label.svg,
            "attributes": list(
                label.attributes.order_by("id").values_list(
                    "name", "mutable", "input_type", "default_value", "values"
                )
            ),
            "sublabels": _label_tree(label.sublabels.order_by("id")),
        }
        for label in labels
    ]


def _by_names(obj: dict, labels: dict[int, str], specs: dict[int, str]) -> dict:
    """An annotation object with labels and attributes by name and without ids. A null
    ``group`` is 0: backups write CVAT's 0 for "no group"."""
    result = {k: v for k, v in obj.items() if k not in ("id", "label_id")}
    if "group" in result and result["group"] is None:
        result["group"] = 0
    if "label_id" in obj:
        result["label"] = labels[obj["label_id"]]
    result["attributes"] = [(specs[a["spec_id"]], a["value"]) for a in obj.get("attributes", [])]
    for nested in ("shapes", "elements"):
        if nested in obj:
            result[nested] = [_by_names(item, labels, specs) for item in obj[nested]]
    return result


def task_state(task: Task, *, key_prefix: str = "") -> dict:
    """Everything a backup carries about ``task``, comparable between two tasks: fields,
    labels, data, the manifest (paths without ``key_prefix``), jobs, annotations by name."""
    task.refresh_from_db()
    owner = {"project_id": task.project_id} if task.project_id else {"task_id": task.id}
    top = Label.objects.filter(**owner, parent__isnull=True).order_by("id")
    labels = dict(Label.objects.filter(**owner).values_list("id", "name"))
    specs = dict(Attribute.objects.filter(label__in=list(labels)).values_list("id", "name"))
    data = task.data
    jobs = list(Job.objects.filter(segment__task=task).select_related("segment", "annotations"))
    jobs.sort(key=lambda job: job.id)
    position = {job.id: index for index, job in enumerate(jobs)}
    strip = len(key_prefix)
    return {
        "task": {
            field: getattr(task, field)
            for field in (
                "name", "status", "subset", "bug_tracker", "mode", "segment_size", "overlap",
                "validation_layout", "consensus_replicas",
            )
        },
        "labels": _label_tree(top),
        "data": {
            field: getattr(data, field)
            for field in (
                "size", "chunk_size", "image_quality", "start_frame", "stop_frame",
                "frame_filter", "sorting_method", "deleted_frames",
            )
        },
        "images": [
            (path[strip:], frame, width, height, checksum, [r[strip:] for r in related])
            for path, frame, width, height, checksum, related in data.images.order_by(
                "frame"
            ).values_list("path", "frame", "width", "height", "checksum", "related_files")
        ],
        "jobs": [
            (
                job.type, job.status, job.stage, job.state, job.segment.start_frame,
                job.segment.stop_frame, job.segment.frames,
                position.get(job.parent_job_id),
            )
            for job in jobs
        ],
        "annotations": [
            {
                "version": job.annotations.version,
                **{
                    kind: [_by_names(obj, labels, specs) for obj in getattr(job.annotations, kind)]
                    for kind in ("tags", "shapes", "tracks")
                },
            }
            for job in jobs
        ],
    }  # fmt: skip
