"""Restoring a backup, step 1: read and cross-check one task of an archive, write nothing.

``plan_task`` runs every check of contract 9 that needs the archive's documents together, before a
row or a file is created: the layout (``format.check_task_layout``: task.json, the manifest and,
for a full backup, every medium), annotations.json (labels and attributes by name), then the
consistency between them: the manifest has the frames task.json's data and jobs describe, the
jobs' ``files`` (CVAT's custom segments and ground-truth pools) name the manifest's images at
their frames, a consensus replica has its annotation job, annotation frames are task frames,
and a task inside a project uses the project's labels. Problems are ``ArchiveError``s naming
the member and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from cvat_lite.backup.archive import ArchiveReader
from cvat_lite.backup.format import (
    ANNOTATIONS_JSON,
    DATA_DIR,
    MANIFEST,
    TASK_JSON,
    JobSpec,
    LabelSpec,
    TaskSpec,
    check_task_layout,
    frames_of,
    spec_object_count,
    stream_annotations,
)
from cvat_lite.engine.models import JobType
from cvat_lite.errors import ArchiveError
from cvat_lite.media.manifest import ManifestEntry
from cvat_lite.media.paths import MAX_PATH_BYTES, path_problem, shown

TOO_MANY_IMAGES = "{what} lists {count} images; the limit is {limit}."
TOO_FEW_IMAGES = (
    "{what} lists {count} images, but {task} says the task's frames go up to image {stop}."
)
FRAMES_OUTSIDE_JOB = (
    "{what}: 'jobs[{index}].frames' must be within the job's start and stop frames."
)
FILES_COUNT = "{what}: 'jobs[{index}].files' lists {count} files for a job of {frames} frames."
FILES_MISMATCH = (
    "{what}: 'jobs[{index}].files[{position}]' is {name}, but the manifest has {actual} there."
)
REPLICA_WITHOUT_PARENT = (
    "{what}: 'jobs[{index}]' is a consensus replica without an annotation job of the same "
    "frames before it."
)
ANNOTATION_FRAME = (
    "{what}: job {index} has an object on frame {frame}, outside the task's frames 0..{last}."
)
LABEL_NOT_IN_PROJECT = "{what}: the label {name} is not a label of the project."
BAD_ORIGIN_PREFIX = "{what}: 'cloud_storage.prefix' {reason}."
KEY_TOO_LONG = (
    "{what}: the object key {key} (the origin's prefix and the name) is longer than {limit} bytes."
)
ATTRIBUTE_NOT_IN_PROJECT = (
    "{what}: the attribute {name} of the label {label} is not defined in the project."
)


@dataclass(frozen=True, slots=True)
class JobSummary:
    """What the plan keeps of one job's annotations: they are read again, one object at a time,
    when the rows are written (``restore_write``), so that no restore holds a task's objects."""

    version: int
    objects: int  # top-level and nested, as ``Limits.max_objects`` counts them
    max_frame: int | None  # the largest frame an object touches; None without objects


@dataclass
class TaskPlan:
    """One task of an archive, checked, ready to be written."""

    prefix: str  # "" for a task backup, "task_<i>/" inside a project backup
    spec: TaskSpec
    annotations: list[JobSummary]  # one per job, in archive order
    image_count: int  # manifest entries (repeated honeypot images counted)
    jobs: list[dict[str, Any]]  # the layout for ``jobs_create_from_layout``, in archive order
    segment_size: int
    overlap: int | None
    media: list[str] = field(default_factory=list)  # full backups: files to extract, unique
    media_bytes: int = 0
    # Lightweight backups: what turns a manifest name into its object key ("<prefix>/" or "").
    key_prefix: str = ""
    object_count: int = 0  # annotation objects, as ``Limits.max_objects`` counts them

    @property
    def lightweight(self) -> bool:
        return self.spec.lightweight

    @property
    def manifest(self) -> str:
        return self.prefix + MANIFEST

    def member(self, path: str) -> str:
        """The archive member of the medium at manifest path ``path``."""
        return self.prefix + DATA_DIR + path


def plan_task(
    reader: ArchiveReader,
    prefix: str = "",
    *,
    project_labels: list[LabelSpec] | None = None,
    objects_before: int = 0,
) -> TaskPlan:
    """Check the task at ``prefix`` (see the module docstring). With ``project_labels``, the
    task is restored into a project and its labels must be the project's; ``objects_before``
    counts the annotation objects of the project's tasks planned before it (the archive's
    limit is on their sum)."""
    scan = _ManifestScan(reader, prefix)
    layout = check_task_layout(reader, prefix, on_entry=scan)
    spec = layout.spec
    task_json = prefix + TASK_JSON
    annotations = _summaries(reader, prefix, spec, objects_before)
    _check_image_count(spec, layout.image_count, prefix)
    key_prefix = _key_prefix(spec, task_json)
    if scan.too_long is not None:
        _check_key_length(key_prefix, scan.too_long, prefix)
    media, paths = list(scan.media), scan.paths
    jobs = [_job_layout(spec, job, index, paths, task_json) for index, job in enumerate(spec.jobs)]
    _check_replicas(jobs, task_json)
    _check_annotation_frames(annotations, spec.data.frame_count, prefix)
    if project_labels is not None:
        _check_project_labels(spec.labels, project_labels, task_json)
    segment_size, overlap = _segments(spec)
    return TaskPlan(
        prefix=prefix,
        spec=spec,
        annotations=annotations,
        image_count=layout.image_count,
        jobs=jobs,
        segment_size=segment_size,
        overlap=overlap,
        media=media,
        media_bytes=sum(reader.size(prefix + DATA_DIR + path) for path in media),
        key_prefix=key_prefix,
        object_count=sum(job.objects for job in annotations),
    )


# --- the manifest ------------------------------------------------------------------------------


def _check_image_count(spec: TaskSpec, count: int, prefix: str) -> None:
    what = shown(prefix + MANIFEST)
    if count > settings.MAX_TASK_IMAGES:
        raise ArchiveError(
            TOO_MANY_IMAGES.format(what=what, count=count, limit=settings.MAX_TASK_IMAGES)
        )
    if count <= spec.data.stop:
        raise ArchiveError(
            TOO_FEW_IMAGES.format(
                what=what, count=count, task=prefix + TASK_JSON, stop=spec.data.stop
            )
        )


def _position(spec: TaskSpec, frame: int) -> int:
    """The manifest position of task frame ``frame``."""
    return spec.data.start_frame + frame * spec.data.step


def _job_frames(job: JobSpec) -> list[int]:
    if job.frames is not None:
        return job.frames
    return list(range(job.start_frame, job.stop_frame + 1))


def _file_positions(spec: TaskSpec) -> set[int]:
    """The manifest positions whose paths the jobs' ``files`` lists are checked against."""
    return {
        _position(spec, frame)
        for job in spec.jobs
        if job.files is not None
        for frame in _job_frames(job)
    }


def _origin_key_prefix(spec: TaskSpec) -> tuple[str, str | None]:
    """A lightweight backup names its media relative to the origin's prefix (the folder of
    the task's manifest in the bucket): ``<prefix>/<name>`` is the object key. Returns that
    ``"<prefix>/"`` ("" for none) and, for a prefix that is not a valid path, why (and "")."""
    if not spec.lightweight or spec.origin is None:
        return "", None
    prefix = spec.origin.prefix.strip("/")
    if not prefix:
        return "", None
    reason = path_problem(prefix)
    return ("", reason) if reason is not None else (prefix + "/", None)


def _key_prefix(spec: TaskSpec, what: str) -> str:
    prefix, reason = _origin_key_prefix(spec)
    if reason is not None:
        raise ArchiveError(BAD_ORIGIN_PREFIX.format(what=what, reason=reason))
    return prefix


class _ManifestScan:
    """What ``plan_task`` needs from the manifest, gathered while ``check_task_layout`` reads
    (and validates) it, so that it is read once: the unique media paths to extract (full
    backups; related images too, when the archive has them), the paths at the manifest
    positions the jobs' ``files`` are checked against, and the first path whose object key
    would be too long (lightweight backups; refused after the checks that came first)."""

    def __init__(self, reader: ArchiveReader, prefix: str):
        self.reader, self.prefix = reader, prefix
        self.media: dict[str, None] = {}
        self.paths: dict[int, str] = {}
        self.too_long: str | None = None
        self._position = 0
        self._positions: set[int] | None = None
        self._key_prefix = ""

    def _start(self, spec: TaskSpec) -> set[int]:
        self._positions = _file_positions(spec)
        self._key_prefix, _ = _origin_key_prefix(spec)  # an invalid one: refused by _key_prefix
        return self._positions

    def __call__(self, spec: TaskSpec, entry: ManifestEntry) -> None:
        positions = self._positions if self._positions is not None else self._start(spec)
        position, self._position = self._position, self._position + 1
        path = entry.path
        if position in positions:
            self.paths[position] = path
        if spec.lightweight:
            if self._key_prefix and self.too_long is None and _key_too_long(self._key_prefix, path):
                self.too_long = path
            return
        self.media[path] = None
        for related in entry.related_images:
            if self.reader.has(self.prefix + DATA_DIR + related):
                self.media[related] = None


def _key_too_long(key_prefix: str, path: str) -> bool:
    key = key_prefix + path
    return len(key) > MAX_PATH_BYTES // 4 and len(key.encode("utf-8")) > MAX_PATH_BYTES


def _check_key_length(key_prefix: str, path: str, prefix: str) -> None:
    key = key_prefix + path
    if _key_too_long(key_prefix, path):
        raise ArchiveError(
            KEY_TOO_LONG.format(what=shown(prefix + MANIFEST), key=shown(key), limit=MAX_PATH_BYTES)
        )


# --- jobs --------------------------------------------------------------------------------------


def _job_layout(
    spec: TaskSpec, job: JobSpec, index: int, paths: dict[int, str], what: str
) -> dict[str, Any]:
    frames = None
    if job.frames is not None:
        frames = sorted(set(job.frames))
        if frames[0] < job.start_frame or frames[-1] > job.stop_frame:
            raise ArchiveError(FRAMES_OUTSIDE_JOB.format(what=what, index=index))
    if job.files is not None:
        job_frames = frames if frames is not None else _job_frames(job)
        if len(job.files) != len(job_frames):
            raise ArchiveError(
                FILES_COUNT.format(
                    what=what, index=index, count=len(job.files), frames=len(job_frames)
                )
            )
        for position, (name, frame) in enumerate(zip(job.files, job_frames, strict=True)):
            actual = paths[_position(spec, frame)]
            if name != actual:
                raise ArchiveError(
                    FILES_MISMATCH.format(
                        what=what,
                        index=index,
                        position=position,
                        name=shown(name),
                        actual=shown(actual),
                    )
                )
    return {
        "start_frame": job.start_frame,
        "stop_frame": job.stop_frame,
        "frames": frames,
        "type": job.type,
        "status": job.status,
        "stage": job.stage,
        "state": job.state,
    }


def _frames_key(job: dict[str, Any]) -> tuple:
    frames = job["frames"]
    if frames is not None and frames == list(range(job["start_frame"], job["stop_frame"] + 1)):
        frames = None
    return job["start_frame"], job["stop_frame"], tuple(frames or ())


def _check_replicas(jobs: list[dict[str, Any]], what: str) -> None:
    """A consensus replica shares the segment of the annotation job with its frames, listed
    before it (as CVAT writes them)."""
    parents: set[tuple] = set()
    for index, job in enumerate(jobs):
        key = _frames_key(job)
        if job["type"] == JobType.ANNOTATION:
            parents.add(key)
        elif job["type"] == JobType.CONSENSUS_REPLICA and key not in parents:
            raise ArchiveError(REPLICA_WITHOUT_PARENT.format(what=what, index=index))


def _segments(spec: TaskSpec) -> tuple[int, int | None]:
    """``segment_size`` and ``overlap`` as CVAT derives them on restore: none for custom
    segments, else from the first two annotation jobs."""
    if spec.data.custom_segments:
        return 0, None
    jobs = [job for job in spec.jobs if job.type == JobType.ANNOTATION]
    size = jobs[0].stop_frame - jobs[0].start_frame + 1
    overlap = 0 if len(jobs) == 1 else max(0, jobs[0].stop_frame - jobs[1].start_frame + 1)
    return size, overlap


# --- annotations and labels --------------------------------------------------------------------


def _summaries(
    reader: ArchiveReader, prefix: str, spec: TaskSpec, objects_before: int
) -> list[JobSummary]:
    """annotations.json read and checked (``format.stream_annotations``), one object at a
    time, each object dropped once it is counted."""
    summaries = []
    for job in stream_annotations(reader, prefix, spec=spec, objects_before=objects_before):
        objects, last = 0, None
        for _, obj in job.objects:
            objects += spec_object_count(obj)
            frame = max(frames_of(obj))
            last = frame if last is None else max(last, frame)
        summaries.append(JobSummary(version=job.version, objects=objects, max_frame=last))
    return summaries


def _check_annotation_frames(annotations: list[JobSummary], frame_count: int, prefix: str) -> None:
    for index, job in enumerate(annotations):
        frame = job.max_frame
        if frame is not None and frame >= frame_count:
            raise ArchiveError(
                ANNOTATION_FRAME.format(
                    what=prefix + ANNOTATIONS_JSON, index=index, frame=frame, last=frame_count - 1
                )
            )


def _check_project_labels(
    labels: list[LabelSpec], project_labels: list[LabelSpec], what: str
) -> None:
    """Every label of the task (its attributes, its sublabels) exists in the project by name."""
    known = {label.name: label for label in project_labels}
    for label in labels:
        target = known.get(label.name)
        if target is None:
            raise ArchiveError(LABEL_NOT_IN_PROJECT.format(what=what, name=shown(label.name)))
        attributes = {attribute.name for attribute in target.attributes}
        for attribute in label.attributes:
            if attribute.name not in attributes:
                raise ArchiveError(
                    ATTRIBUTE_NOT_IN_PROJECT.format(
                        what=what, name=shown(attribute.name), label=shown(label.name)
                    )
                )
        _check_project_labels(label.sublabels, target.sublabels, what)
