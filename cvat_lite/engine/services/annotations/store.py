"""Reading and writing the annotations of jobs and tasks (contract 2, 5.1).

A job's annotations live in its ``JobAnnotations`` row, in CVAT's JSON shape with labels by id.
Object ids are unique within a task: they are handed out from the highest ``next_id`` of the
task's rows, which are locked for the duration of a write. ``version`` grows by one on every
change. A task's annotations are the union of its ``annotation`` jobs' (ground-truth and
consensus-replica jobs keep their own); a task-level write splits the objects into those jobs
by frame.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.engine.models import (
    Attribute,
    Job,
    JobAnnotations,
    JobType,
    Label,
    Project,
    Segment,
    Task,
)
from cvat_lite.engine.services.annotations import schema
from cvat_lite.engine.services.annotations.schema import KINDS

ACTIONS = ("create", "update", "delete")

ACTION_UNKNOWN = "The action must be one of: create, update, delete."
FRAME_OUT_OF_JOB = "{path}.frame: frame {frame} is outside the job's frames ({frames})."
FRAME_OUT_OF_TASK = "{path}.frame: frame {frame} is not in any annotation job of the task."
SPANS_JOBS = "{path}: the object spans several jobs; write it to each job's annotations instead."
OBJECT_NOT_FOUND = "{path}.id: there is no {kind} object with id {id}."


# --- job level ---------------------------------------------------------------------------------


def annotations_get(*, job: Job) -> dict[str, Any]:
    """The job's annotations ``{version, tags, shapes, tracks}``."""
    row = JobAnnotations.objects.filter(job=job).first()
    if row is None:
        return schema.empty_document()
    return _document(row)


@transaction.atomic
def annotations_put(*, job: Job, data: Any) -> dict[str, Any]:
    """Replace the job's annotations; returns them with their new ids."""
    store = _Store(job.segment.task)
    document = store.parse(data)
    store.check_frames(document, job)
    row = store.rows[job.id]
    for kind in KINDS:
        for obj in document[kind]:
            schema.assign_ids(obj, store.ids)
        setattr(row, kind, document[kind])
    store.commit([row])
    return _document(row)


@transaction.atomic
def annotations_patch(*, job: Job, data: Any, action: str) -> dict[str, Any]:
    """CVAT's PATCH ``?action=create|update|delete``; returns the objects concerned."""
    store = _Store(job.segment.task)
    result = store.patch({job.id: data}, action, jobs=[job])
    return result


@transaction.atomic
def annotations_delete(*, job: Job) -> None:
    """Remove all of the job's annotations."""
    store = _Store(job.segment.task)
    row = store.rows[job.id]
    for kind in KINDS:
        setattr(row, kind, [])
    store.commit([row])


# --- task level --------------------------------------------------------------------------------


def task_annotations_get(*, task: Task) -> dict[str, Any]:
    """The union of the task's annotation jobs' annotations."""
    rows = {
        row.job_id: row for row in JobAnnotations.objects.filter(job__in=_annotation_jobs(task))
    }
    result = schema.empty_document()
    for job in _annotation_jobs(task):
        row = rows.get(job.id)
        if row is None:
            continue
        result["version"] = max(result["version"], row.version)
        for kind in KINDS:
            result[kind].extend(getattr(row, kind))
    return result


@transaction.atomic
def task_annotations_put(*, task: Task, data: Any) -> dict[str, Any]:
    """Replace the task's annotations, splitting the objects into its jobs by frame."""
    store = _Store(task)
    jobs = _annotation_jobs(task)
    document = store.parse(data)
    parts = store.split(document, jobs)
    rows = []
    for job in jobs:
        row = store.rows[job.id]
        for kind in KINDS:
            for obj in parts[job.id][kind]:
                schema.assign_ids(obj, store.ids)
            setattr(row, kind, parts[job.id][kind])
        rows.append(row)
    store.commit(rows)
    return task_annotations_get(task=task)


@transaction.atomic
def task_annotations_patch(*, task: Task, data: Any, action: str) -> dict[str, Any]:
    """PATCH ``?action=`` on a task: new objects go to their jobs by frame, updated and deleted
    ones are found by id."""
    store = _Store(task)
    jobs = _annotation_jobs(task)
    if action == "create":
        document = store.parse(data)
        parts = store.split(document, jobs)
        return store.patch(parts, action, jobs=jobs, parsed=True)
    if action not in ACTIONS:
        raise errors.BadRequest(ACTION_UNKNOWN)
    return store.patch(store.split_by_id(data, jobs), action, jobs=jobs)


@transaction.atomic
def task_annotations_delete(*, task: Task) -> None:
    store = _Store(task)
    rows = [store.rows[job.id] for job in _annotation_jobs(task)]
    for row in rows:
        for kind in KINDS:
            setattr(row, kind, [])
    store.commit(rows)


# --- maintenance (labels deleted, task moved to a project) -------------------------------------


@transaction.atomic
def annotations_purge(*, tasks: Iterable[Task], label_ids: set[int], spec_ids: set[int]) -> None:
    """Drop the objects using ``label_ids`` and the attribute values of ``spec_ids``."""

    def label(label_id: int) -> int | None:
        return None if label_id in label_ids else label_id

    def spec(spec_id: int) -> int | None:
        return None if spec_id in spec_ids else spec_id

    for task in tasks:
        _rewrite(task, label=label, spec=spec)


@transaction.atomic
def annotations_remap(
    *, task: Task, label_map: Mapping[int, int], spec_map: Mapping[int, int]
) -> None:
    """Point the task's annotations at other labels/attributes (a task moved to a project).
    References missing from the maps are dropped."""
    _rewrite(task, label=label_map.get, spec=spec_map.get)


def _rewrite(task: Task, *, label, spec) -> None:
    rows = list(
        JobAnnotations.objects.select_for_update(of=("self",))
        .filter(job__segment__task=task)
        .order_by("id")
    )
    changed = []
    for row in rows:
        before = [getattr(row, kind) for kind in KINDS]
        for kind in KINDS:
            objects = copy.deepcopy(getattr(row, kind))
            mapped = [
                result
                for obj in objects
                if (result := schema.map_references(obj, label=label, spec=spec)) is not None
            ]
            setattr(row, kind, mapped)
        if [getattr(row, kind) for kind in KINDS] != before:
            changed.append(row)
    for row in changed:
        row.version += 1
        row.save(update_fields=["tags", "shapes", "tracks", "version"])


# --- internals ---------------------------------------------------------------------------------


def _document(row: JobAnnotations) -> dict[str, Any]:
    return {"version": row.version, "tags": row.tags, "shapes": row.shapes, "tracks": row.tracks}


def _annotation_jobs(task: Task) -> list[Job]:
    return list(
        Job.objects.filter(segment__task=task, type=JobType.ANNOTATION)
        .select_related("segment")
        .order_by("segment__start_frame", "id")
    )


def _job_frames(segment: Segment) -> tuple[frozenset[int] | range, str]:
    if segment.frames is not None:
        frames = frozenset(segment.frames)
        return frames, ", ".join(str(frame) for frame in sorted(frames)[:20])
    return range(segment.start_frame, segment.stop_frame + 1), (
        f"{segment.start_frame}-{segment.stop_frame}"
    )


def _label_specs(task: Task) -> dict[int, schema.LabelSpec]:
    owner = Q(project_id=task.project_id) if task.project_id else Q(task_id=task.id)
    label_ids = list(Label.objects.filter(owner).values_list("id", flat=True))
    attributes: dict[int, set[int]] = {label_id: set() for label_id in label_ids}
    for label_id, attr_id in Attribute.objects.filter(label_id__in=label_ids).values_list(
        "label_id", "id"
    ):
        attributes[label_id].add(attr_id)
    return {
        label_id: schema.LabelSpec(attribute_ids=frozenset(ids))
        for label_id, ids in attributes.items()
    }


class _Store:
    """The locked annotation rows of one task, with its id counter and labels."""

    def __init__(self, task: Task):
        self.task = task
        job_ids = list(Job.objects.filter(segment__task=task).values_list("id", flat=True))
        existing = set(
            JobAnnotations.objects.filter(job_id__in=job_ids).values_list("job_id", flat=True)
        )
        JobAnnotations.objects.bulk_create(
            [JobAnnotations(job_id=job_id) for job_id in job_ids if job_id not in existing]
        )
        self.rows = {
            row.job_id: row
            for row in JobAnnotations.objects.select_for_update(of=("self",))
            .filter(job_id__in=job_ids)
            .order_by("id")
        }
        self.ids = schema.Ids(max((row.next_id for row in self.rows.values()), default=1))
        self._labels: dict[int, schema.LabelSpec] | None = None

    @property
    def labels(self) -> dict[int, schema.LabelSpec]:
        if self._labels is None:
            self._labels = _label_specs(self.task)
        return self._labels

    def parse(self, data: Any, *, ids_required: bool = False) -> dict[str, list[dict]]:
        document = schema.parse_document(data, ids_required=ids_required)
        schema.check_labels(document, self.labels)
        return document

    def check_frames(self, document: Mapping[str, list[dict]], job: Job) -> None:
        frames, text = _job_frames(job.segment)
        for kind in KINDS:
            for index, obj in enumerate(document[kind]):
                for frame in schema.frames_of(obj):
                    if frame not in frames:
                        raise errors.BadRequest(
                            FRAME_OUT_OF_JOB.format(
                                path=f"{kind}[{index}]", frame=frame, frames=text
                            )
                        )

    def split(
        self, document: Mapping[str, list[dict]], jobs: list[Job]
    ) -> dict[int, dict[str, list[dict]]]:
        """Each object goes to the first job (by start frame) that holds all of its frames."""
        job_frames = [(job.id, _job_frames(job.segment)[0]) for job in jobs]
        parts: dict[int, dict[str, list[dict]]] = {
            job.id: {kind: [] for kind in KINDS} for job in jobs
        }
        for kind in KINDS:
            for index, obj in enumerate(document[kind]):
                target = next(
                    (job_id for job_id, frames in job_frames if schema.fits(obj, frames)), None
                )
                if target is None:
                    path = f"{kind}[{index}]"
                    missing = next(
                        (
                            frame
                            for frame in schema.frames_of(obj)
                            if not any(frame in frames for _, frames in job_frames)
                        ),
                        None,
                    )
                    if missing is None:
                        raise errors.BadRequest(SPANS_JOBS.format(path=path))
                    raise errors.BadRequest(FRAME_OUT_OF_TASK.format(path=path, frame=missing))
                parts[target][kind].append(obj)
        return parts

    def split_by_id(self, data: Any, jobs: list[Job]) -> dict[int, Any]:
        """Group an update/delete document by the job that holds each object id."""
        owner = {
            (kind, obj["id"]): job.id
            for job in jobs
            for kind in KINDS
            for obj in getattr(self.rows[job.id], kind)
        }
        parsed = schema.parse_ids(data)
        parts: dict[int, dict[str, list]] = {job.id: {kind: [] for kind in KINDS} for job in jobs}
        for kind in KINDS:
            items = data.get(kind) or []
            for index, object_id in enumerate(parsed[kind]):
                job_id = owner.get((kind, object_id))
                if job_id is None:
                    raise errors.BadRequest(
                        OBJECT_NOT_FOUND.format(path=f"{kind}[{index}]", kind=kind, id=object_id)
                    )
                parts[job_id][kind].append(items[index])
        return parts

    def patch(
        self,
        data_by_job: Mapping[int, Any],
        action: str,
        *,
        jobs: list[Job],
        parsed: bool = False,
    ) -> dict[str, Any]:
        if action not in ACTIONS:
            raise errors.BadRequest(ACTION_UNKNOWN)
        result: dict[str, Any] = schema.empty_document()
        changed = []
        for job in jobs:
            data = data_by_job.get(job.id)
            if data is None:
                continue
            row = self.rows[job.id]
            if action == "delete":
                done = self._delete(row, schema.parse_ids(data))
            else:
                document = data if parsed else self.parse(data, ids_required=action == "update")
                self.check_frames(document, job)
                done = (
                    self._create(row, document)
                    if action == "create"
                    else self._update(row, document)
                )
            if any(done[kind] for kind in KINDS):
                changed.append(row)
            for kind in KINDS:
                result[kind].extend(done[kind])
        self.commit(changed)
        result["version"] = max((self.rows[job.id].version for job in jobs), default=0)
        return result

    def _create(self, row: JobAnnotations, document: Mapping[str, list[dict]]):
        for kind in KINDS:
            for obj in document[kind]:
                schema.assign_ids(obj, self.ids)
            setattr(row, kind, [*getattr(row, kind), *document[kind]])
        return document

    def _update(self, row: JobAnnotations, document: Mapping[str, list[dict]]):
        for kind in KINDS:
            objects = list(getattr(row, kind))
            index_of = {obj["id"]: index for index, obj in enumerate(objects)}
            for position, obj in enumerate(document[kind]):
                index = index_of.get(obj["id"])
                if index is None:
                    raise errors.BadRequest(
                        OBJECT_NOT_FOUND.format(path=f"{kind}[{position}]", kind=kind, id=obj["id"])
                    )
                schema.assign_ids(obj, self.ids, keep=schema.nested_ids(objects[index]))
                objects[index] = obj
            setattr(row, kind, objects)
        return document

    def _delete(self, row: JobAnnotations, ids: Mapping[str, list[int]]):
        done: dict[str, list[dict]] = {}
        for kind in KINDS:
            objects = getattr(row, kind)
            present = {obj["id"] for obj in objects}
            for position, object_id in enumerate(ids[kind]):
                if object_id not in present:
                    raise errors.BadRequest(
                        OBJECT_NOT_FOUND.format(path=f"{kind}[{position}]", kind=kind, id=object_id)
                    )
            wanted = set(ids[kind])
            done[kind] = [obj for obj in objects if obj["id"] in wanted]
            setattr(row, kind, [obj for obj in objects if obj["id"] not in wanted])
        return done

    def commit(self, rows: list[JobAnnotations]) -> None:
        """Save the changed rows: version + 1, the id counter, the dates of job, task, project."""
        if not rows:
            return
        for row in rows:
            row.version += 1
            row.next_id = max(row.next_id, self.ids.next)
            row.save(update_fields=["tags", "shapes", "tracks", "version", "next_id"])
        now = timezone.now()
        Job.objects.filter(id__in=[row.job_id for row in rows]).update(updated_date=now)
        Task.objects.filter(id=self.task.id).update(updated_date=now)
        if self.task.project_id:
            Project.objects.filter(id=self.task.project_id).update(updated_date=now)
