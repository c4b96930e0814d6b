"""Segments and jobs of a task (contract 2).

``segments_create`` is called once a task's data exists: it cuts the task's frames into
segments the way CVAT does (``segment_size`` frames each, 0 = all in one; ``overlap`` frames
shared by neighbours, default 0 for image tasks and at most half a segment) and gives each
segment one ``annotation`` job with empty annotations. It refuses more jobs than a restore
accepts (``BACKUP_MAX_JOBS``, contract 9), so that every task's backup can be restored.
``jobs_create_from_layout`` rebuilds explicit jobs, e.g. from a backup (ground-truth and
consensus-replica jobs included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from cvat_lite import errors
from cvat_lite.engine.choices import values_of
from cvat_lite.engine.models import (
    Job,
    JobAnnotations,
    JobType,
    Segment,
    StageChoice,
    StateChoice,
    StatusChoice,
    Task,
)

SEGMENT_RANGE = "range"
SEGMENT_SPECIFIC_FRAMES = "specific_frames"
# CVAT's default overlap: 5 frames for interpolation (video) tasks, none for image tasks.
INTERPOLATION_OVERLAP = 5

TASK_HAS_JOBS = "The task already has jobs."
TOO_MANY_JOBS = (
    "The task would have {count} jobs; the limit is {limit}. Choose a larger segment_size."
)
LAYOUT_NOT_A_LIST = "The job layout must be a list of jobs."
LAYOUT_JOB_INVALID = "jobs[{index}]: {problem}"
JOB_FIELD_INVALID = "'{field}' must be one of: {choices}."

_STATUS_STAGE = {
    StatusChoice.ANNOTATION: StageChoice.ANNOTATION,
    StatusChoice.VALIDATION: StageChoice.VALIDATION,
    StatusChoice.COMPLETED: StageChoice.ACCEPTANCE,
}
_STAGE_STATUS = {stage: status for status, stage in _STATUS_STAGE.items()}


@transaction.atomic
def segments_create(*, task: Task, frames: Sequence[int] | range | int) -> list[Job]:
    """Split ``frames`` (task-relative frame numbers, in order; an int N means 0..N-1) into
    segments with one annotation job each. Saves the effective ``segment_size`` and ``overlap``
    on the task, as CVAT does."""
    if Segment.objects.filter(task=task).exists():
        raise errors.Conflict(TASK_HAS_JOBS)
    # A range stays a range (a 1,000,000-frame task's frames are never a list of ints).
    frames = range(frames) if isinstance(frames, int) else frames
    if not isinstance(frames, range):
        frames = list(frames)
    size = len(frames)
    if size == 0:
        return []
    segment_size = task.segment_size
    if segment_size == 0 or segment_size > size:
        segment_size = size
    default_overlap = INTERPOLATION_OVERLAP if task.mode == "interpolation" else 0
    overlap = min(task.overlap if task.overlap is not None else default_overlap, segment_size // 2)
    # A restore refuses more jobs (contract 9): no task may have a backup it cannot restore.
    count = len(range(0, size - overlap, segment_size - overlap))
    if count > settings.BACKUP_MAX_JOBS:
        raise errors.BadRequest(
            TOO_MANY_JOBS.format(count=count, limit=settings.BACKUP_MAX_JOBS),
            code="too_many_jobs",
        )

    segments = []
    for start in range(0, size - overlap, segment_size - overlap):
        chunk = frames[start : start + segment_size]
        if isinstance(chunk, range):
            contiguous = chunk.step == 1 or len(chunk) == 1
        else:
            contiguous = chunk == list(range(chunk[0], chunk[-1] + 1))
        segments.append(
            Segment(
                task=task,
                start_frame=chunk[0],
                stop_frame=chunk[-1],
                frames=None if contiguous else list(chunk),
                type=SEGMENT_RANGE if contiguous else SEGMENT_SPECIFIC_FRAMES,
            )
        )
    segments = Segment.objects.bulk_create(segments)
    jobs = Job.objects.bulk_create([Job(segment=segment) for segment in segments])
    JobAnnotations.objects.bulk_create([JobAnnotations(job=job) for job in jobs])
    task.segment_size = segment_size
    task.overlap = overlap
    task.save(update_fields=["segment_size", "overlap", "updated_date"])
    return jobs


@transaction.atomic
def jobs_create_from_layout(*, task: Task, layout: Sequence[Mapping[str, Any]]) -> list[Job]:
    """Create the jobs ``layout`` describes, in its order: ``[{start_frame, stop_frame,
    type?, status?, stage?, state?, frames?}]``. A consensus replica shares the segment of
    the annotation job with the same frames (its parent)."""
    if not isinstance(layout, Sequence) or isinstance(layout, (str, bytes)):
        raise errors.BadRequest(LAYOUT_NOT_A_LIST)
    if Segment.objects.filter(task=task).exists():
        raise errors.Conflict(TASK_HAS_JOBS)
    size = task.data.size if task.data is not None else None
    parents: dict[tuple, Job] = {}
    jobs = []
    for index, item in enumerate(layout):
        spec = _layout_item(item, index, size)
        key = (spec["start_frame"], spec["stop_frame"], tuple(spec["frames"] or ()))
        parent = parents.get(key) if spec["type"] == JobType.CONSENSUS_REPLICA else None
        if parent is not None:
            segment = parent.segment
        else:
            segment = Segment.objects.create(
                task=task,
                start_frame=spec["start_frame"],
                stop_frame=spec["stop_frame"],
                frames=spec["frames"],
                type=SEGMENT_RANGE if spec["frames"] is None else SEGMENT_SPECIFIC_FRAMES,
            )
        job = Job.objects.create(
            segment=segment,
            parent_job=parent,
            type=spec["type"],
            status=spec["status"],
            stage=spec["stage"],
            state=spec["state"],
        )
        JobAnnotations.objects.create(job=job)
        if spec["type"] == JobType.ANNOTATION:
            parents.setdefault(key, job)
        jobs.append(job)
    return jobs


@transaction.atomic
def job_update(
    *,
    job: Job,
    stage: str | None = None,
    state: str | None = None,
    status: str | None = None,
) -> Job:
    """Change a job's stage, state or status. A new stage without a status moves the status
    along, as in CVAT (acceptance → completed, validation → validation, else annotation)."""
    for field, value, choices in (
        ("stage", stage, StageChoice),
        ("state", state, StateChoice),
        ("status", status, StatusChoice),
    ):
        if value is not None and value not in values_of(choices):
            raise errors.BadRequest(
                JOB_FIELD_INVALID.format(field=field, choices=", ".join(values_of(choices)))
            )
    if stage is not None:
        job.stage = stage
        if status is None:
            job.status = _STAGE_STATUS[StageChoice(stage)]
    if state is not None:
        job.state = state
    if status is not None:
        job.status = status
    job.save()
    return job


def _layout_item(item: Any, index: int, size: int | None) -> dict[str, Any]:
    def invalid(problem: str) -> errors.BadRequest:
        return errors.BadRequest(LAYOUT_JOB_INVALID.format(index=index, problem=problem))

    if not isinstance(item, Mapping):
        raise invalid("expected an object")
    bounds = []
    for name in ("start_frame", "stop_frame"):
        value = item.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise invalid(f"'{name}' must be a non-negative integer")
        bounds.append(value)
    start, stop = bounds
    if start > stop:
        raise invalid("'start_frame' is after 'stop_frame'")
    if size is not None and stop >= size:
        raise invalid(f"'stop_frame' {stop} is outside the task's {size} frames")
    frames = item.get("frames")
    if frames is not None:
        if not isinstance(frames, list) or not all(
            isinstance(f, int) and not isinstance(f, bool) for f in frames
        ):
            raise invalid("'frames' must be a list of frame numbers")
        if frames != sorted(set(frames)) or (frames and (frames[0] < start or frames[-1] > stop)):
            raise invalid("'frames' must be sorted, unique and within start_frame..stop_frame")
        if frames == list(range(start, stop + 1)):
            frames = None
    choices = {
        "type": (JobType, JobType.ANNOTATION),
        "status": (StatusChoice, None),
        "stage": (StageChoice, None),
        "state": (StateChoice, None),
    }
    spec: dict[str, Any] = {"start_frame": start, "stop_frame": stop, "frames": frames}
    for field, (enum, default) in choices.items():
        value = item.get(field)
        if value is None:
            spec[field] = default
        elif value in values_of(enum):
            spec[field] = value
        else:
            raise invalid(f"'{field}' must be one of: {', '.join(values_of(enum))}")
    status = spec["status"] or (
        _STAGE_STATUS[StageChoice(spec["stage"])] if spec["stage"] else StatusChoice.ANNOTATION
    )
    spec["status"] = status
    spec["stage"] = spec["stage"] or _STATUS_STAGE[StatusChoice(status)]
    spec["state"] = spec["state"] or (
        StateChoice.COMPLETED if status == StatusChoice.COMPLETED else StateChoice.NEW
    )
    return spec
