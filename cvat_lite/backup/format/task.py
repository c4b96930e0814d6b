"""Labels, task.json and project.json: typed specs, strict parsing, CVAT-ordered building."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cvat_lite.backup.format.base import (
    EMPTY,
    FORMAT_VERSION,
    PROJECT_JSON,
    TASK_JSON,
    WRONG_TYPE,
    Fields,
    check_version,
    root,
)
from cvat_lite.backup.limits import Limits
from cvat_lite.engine.choices import (
    ChunkType,
    InputType,
    JobType,
    LabelType,
    ProviderType,
    StageChoice,
    StateChoice,
    StatusChoice,
    StorageChoice,
    StorageMethod,
    values_of,
)
from cvat_lite.errors import ArchiveError, BadRequest
from cvat_lite.media.paths import path_problem, shown
from cvat_lite.media.selection import SORTING_METHODS, SortingMethod, parse_frame_filter

# The value sets the models accept, from their one definition (cvat_lite/engine/choices.py).
STORAGES = values_of(StorageChoice)
LIGHTWEIGHT_STORAGE = StorageChoice.CLOUD_STORAGE.value
STATUSES = values_of(StatusChoice)
STAGES = values_of(StageChoice)
STATES = values_of(StateChoice)
JOB_TYPES = values_of(JobType)
LABEL_TYPES = values_of(LabelType)
INPUT_TYPES = values_of(InputType)
PROVIDER_TYPES = values_of(ProviderType)
CHUNK_TYPES = values_of(ChunkType)
STORAGE_METHODS = values_of(StorageMethod)
# The database's column sizes (cvat_lite.engine.models), so an import never fails half-way.
MAX_NAME = 256
MAX_LABEL_NAME = 64
MAX_COLOR = 8
MAX_SUBSET = 64
MAX_BUG_TRACKER = 2000
MAX_DEFAULT_VALUE = 128
MAX_PREFIX = 1024
MAX_FRAME_FILTER = 256

BAD_FRAME_FILTER = "{what}: {field} must be empty or 'step=N'."
BAD_FILE = "{what}: {field} {reason}."
STOP_BEFORE_START = "{what}: {field} is before the start frame."
FRAME_OUT_OF_RANGE = "{what}: {field} is outside the task's frames 0..{last}."
NO_ANNOTATION_JOB = "{what}: 'jobs' must list at least one annotation job."
TOO_MANY = "{what}: {field} lists {count} {items}; the limit is {limit}."
TOO_MANY_LABELS = "{what}: the labels and sublabels number more than {limit}."
DUPLICATE_LABEL = "{what}: the label {name} is defined more than once."
DUPLICATE_ATTRIBUTE = "{what}: the label {label} defines the attribute {name} more than once."
SUBLABELS_NOT_ALLOWED = "{what}: {field} must be empty: only skeleton labels have sublabels."
START_PAST_IMAGES = (
    "{what}: 'data.start_frame' is {start}, but the manifest lists {count} images (0..{last})."
)
FILE_MAPPING_MISMATCH = (
    "{what}: 'data.job_file_mapping' does not list the files of the annotation jobs "
    "('jobs[i].files')."
)
# Notes: what a restore leaves out, said in the request's message.
NOTE_FILE_MAPPING = (
    "{what}: 'data.job_file_mapping' was ignored: without 'data.custom_segments' the jobs "
    "follow the segment size."
)
NOTE_FILE_SYSTEM = (
    "{what}: 'data.storage_method' \"file_system\" was not kept: frames are served from the cache."
)


# --- specs -------------------------------------------------------------------------------------


@dataclass
class AttributeSpec:
    name: str
    input_type: str
    mutable: bool = False
    default_value: str = ""
    values: list[str] = field(default_factory=list)


@dataclass
class LabelSpec:
    name: str
    color: str = ""
    type: str = LabelType.ANY.value
    attributes: list[AttributeSpec] = field(default_factory=list)
    sublabels: list[LabelSpec] = field(default_factory=list)
    svg: str = ""  # a skeleton's layout, sublabels referenced as data-label-name="<name>"


@dataclass
class DataSpec:
    chunk_size: int | None
    image_quality: int
    start_frame: int = 0
    # None until the manifest is counted: CVAT leaves start_frame, stop_frame and frame_filter
    # out of task.json when the manifest it wrote lists exactly the task's frames (then the
    # task's frames are the manifest's images; see ``complete_task_spec``).
    stop_frame: int | None = None
    frame_filter: str = ""
    sorting_method: str = SortingMethod.LEXICOGRAPHICAL.value
    deleted_frames: list[int] = field(default_factory=list)
    storage: str = StorageChoice.LOCAL.value
    storage_method: str = StorageMethod.CACHE.value
    chunk_type: str = ChunkType.IMAGESET.value
    custom_segments: bool = False
    validation_layout: dict[str, Any] | None = None  # CVAT's, kept as it is

    @property
    def step(self) -> int:
        return parse_frame_filter(self.frame_filter)

    @property
    def stop(self) -> int:
        """``stop_frame``, once it is known (``complete_task_spec``)."""
        if self.stop_frame is None:
            raise ValueError("stop_frame is not known before the manifest is counted")
        return self.stop_frame

    @property
    def frame_count(self) -> int:
        """The task's frames (0..frame_count-1): the manifest's images start_frame..stop_frame,
        every ``step``-th. Only once ``stop_frame`` is known (``complete_task_spec``)."""
        return len(range(self.start_frame, self.stop + 1, self.step))


@dataclass
class JobSpec:
    start_frame: int
    stop_frame: int
    status: str = StatusChoice.ANNOTATION.value
    type: str = JobType.ANNOTATION.value
    files: list[str] | None = None  # custom segments / ground-truth pools: the job's files
    frames: list[int] | None = None  # ground-truth jobs of older backups: the job's frames
    stage: str | None = None
    state: str | None = None


@dataclass
class OriginSpec:
    """Where a lightweight backup's media are: never an id, never a credential."""

    provider_type: str
    resource: str
    prefix: str = ""


@dataclass
class TaskSpec:
    name: str
    labels: list[LabelSpec]
    data: DataSpec
    jobs: list[JobSpec]
    version: str = FORMAT_VERSION
    bug_tracker: str = ""
    status: str = StatusChoice.ANNOTATION.value
    subset: str = ""
    consensus_replicas: int = 0
    origin: OriginSpec | None = None  # lightweight backups only
    extra: dict[str, Any] = field(default_factory=dict)  # unknown top-level keys
    # What a restore leaves out of the archive's task.json, for the request's message.
    notes: list[str] = field(default_factory=list, compare=False)

    @property
    def lightweight(self) -> bool:
        return self.data.storage == LIGHTWEIGHT_STORAGE


@dataclass
class ProjectSpec:
    name: str
    labels: list[LabelSpec]
    version: str = FORMAT_VERSION
    bug_tracker: str = ""
    status: str = StatusChoice.ANNOTATION.value


# --- labels ------------------------------------------------------------------------------------


def check_count(obj: Fields, key: str, items: str, limit: int) -> None:
    """Refuse a list at ``key`` of more than ``limit`` items before anything is built from it
    (contract 9); a missing key or another type is for the reading that follows."""
    value = obj.value.get(key)
    if isinstance(value, list) and len(value) > limit:
        raise obj.fail(TOO_MANY, key, count=len(value), items=items, limit=limit)


class _LabelCounter:
    """Labels and sublabels of one document, counted as they are read."""

    def __init__(self, limits: Limits):
        self.limits, self.count = limits, 0

    def add(self, doc: Fields, count: int) -> None:
        self.count += count
        if self.count > self.limits.max_labels:
            raise ArchiveError(TOO_MANY_LABELS.format(what=doc.what, limit=self.limits.max_labels))


def _attribute(obj: Fields, limits: Limits) -> AttributeSpec:
    check_count(obj, "values", "values", limits.max_attribute_values)
    return AttributeSpec(
        name=obj.string("name", limit=MAX_LABEL_NAME, empty=False),
        input_type=obj.choice("input_type", INPUT_TYPES),
        mutable=obj.boolean("mutable", False),
        default_value=obj.string("default_value", "", limit=MAX_DEFAULT_VALUE),
        values=obj.strings("values", []),
    )


def _label(obj: Fields, counter: _LabelCounter, *, sublabel: bool = False) -> LabelSpec:
    limits = counter.limits
    check_count(obj, "attributes", "attributes", limits.max_attributes)
    label = LabelSpec(
        name=obj.string("name", limit=MAX_LABEL_NAME, empty=False),
        color=obj.string("color", "", limit=MAX_COLOR),
        type=obj.choice("type", LABEL_TYPES, LabelType.ANY.value),
        attributes=[_attribute(item, limits) for item in obj.objects("attributes", [])],
        svg=obj.string("svg", ""),
    )
    _unique(obj.what, (a.name for a in label.attributes), DUPLICATE_ATTRIBUTE, label=label.name)
    sublabels = list(obj.objects("sublabels", []))
    if sublabels and (sublabel or label.type != LabelType.SKELETON):
        raise obj.fail(SUBLABELS_NOT_ALLOWED, "sublabels")
    counter.add(obj, len(sublabels))
    label.sublabels = [_label(item, counter, sublabel=True) for item in sublabels]
    _unique(obj.what, (s.name for s in label.sublabels), DUPLICATE_LABEL)
    return label


def _unique(what: str, names: Iterator[str], message: str, **values: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            shown_values = {key: shown(value) for key, value in values.items()}
            raise ArchiveError(message.format(what=what, name=shown(name), **shown_values))
        seen.add(name)


def _labels(doc: Fields, limits: Limits) -> list[LabelSpec]:
    counter = _LabelCounter(limits)
    counter.add(doc, len(doc.items("labels")))
    labels = [_label(item, counter) for item in doc.objects("labels")]
    _unique(doc.what, (label.name for label in labels), DUPLICATE_LABEL)
    return labels


def _label_json(label: LabelSpec) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": label.name,
        "color": label.color,
        "attributes": [
            {
                "name": a.name,
                "mutable": a.mutable,
                "input_type": a.input_type,
                "default_value": a.default_value,
                "values": list(a.values),
            }
            for a in label.attributes
        ],
        "type": label.type,
    }
    if label.svg:
        result["svg"] = label.svg
    result["sublabels"] = [_label_json(sublabel) for sublabel in label.sublabels]
    return result


# --- task.json ---------------------------------------------------------------------------------

# The top-level keys read into TaskSpec's fields; any other goes to TaskSpec.extra.
_TASK_KEYS = frozenset(
    {"version", "name", "bug_tracker", "status", "subset", "labels", "consensus_replicas"}
    | {"data", "jobs", "cloud_storage"}
)


def _data(obj: Fields) -> DataSpec:
    data = DataSpec(
        chunk_size=obj.maybe("chunk_size", lambda key: obj.integer(key, minimum=1)),
        image_quality=obj.integer("image_quality", minimum=0, maximum=100),
        start_frame=obj.integer("start_frame", 0),
        stop_frame=obj.maybe("stop_frame", obj.integer),
        frame_filter=obj.string("frame_filter", "", limit=MAX_FRAME_FILTER),
        sorting_method=obj.choice(
            "sorting_method", SORTING_METHODS, SortingMethod.LEXICOGRAPHICAL.value
        ),
        deleted_frames=obj.frames("deleted_frames", []),
        storage=obj.choice("storage", STORAGES),
        storage_method=obj.choice("storage_method", STORAGE_METHODS, StorageMethod.CACHE.value),
        chunk_type=obj.choice("chunk_type", CHUNK_TYPES, ChunkType.IMAGESET.value),
        custom_segments=obj.boolean("custom_segments", False),
        validation_layout=obj.maybe("validation_layout", lambda key: obj.child(key).value),
    )
    if data.stop_frame is not None and data.stop_frame < data.start_frame:
        raise obj.fail(STOP_BEFORE_START, "stop_frame")
    try:
        parse_frame_filter(data.frame_filter)
    except BadRequest:
        raise obj.fail(BAD_FRAME_FILTER, "frame_filter") from None
    return data


def _file_mapping(obj: Fields) -> list[list[str]] | None:
    """CVAT's ``data.job_file_mapping`` (the files of each annotation job), if present."""
    value = obj.maybe("job_file_mapping", obj.items)
    if value is not None and not all(
        isinstance(job, list) and all(isinstance(name, str) for name in job) for job in value
    ):
        raise obj.fail(WRONG_TYPE, "job_file_mapping", kind="a list of lists of strings")
    return value


def _check_frame(what: str, key: str, frame: int, count: int) -> None:
    if frame >= count:
        raise ArchiveError(FRAME_OUT_OF_RANGE.format(what=what, field=shown(key), last=count - 1))


def _check_frames(spec: TaskSpec, what: str) -> None:
    """Every frame task.json names is a task frame (once ``stop_frame`` is known)."""
    count = spec.data.frame_count
    for index, frame in enumerate(spec.data.deleted_frames):
        _check_frame(what, f"data.deleted_frames[{index}]", frame, count)
    for index, job in enumerate(spec.jobs):
        _check_frame(what, f"jobs[{index}].stop_frame", job.stop_frame, count)
        for position, frame in enumerate(job.frames or []):
            _check_frame(what, f"jobs[{index}].frames[{position}]", frame, count)


def _job(obj: Fields) -> JobSpec:
    job = JobSpec(
        start_frame=obj.integer("start_frame"),
        stop_frame=obj.integer("stop_frame"),
        status=obj.choice("status", STATUSES),
        type=obj.choice("type", JOB_TYPES, JobType.ANNOTATION.value),
        files=obj.maybe("files", obj.strings),
        frames=obj.maybe("frames", obj.frames),
        stage=obj.maybe("stage", lambda key: obj.choice(key, STAGES)),
        state=obj.maybe("state", lambda key: obj.choice(key, STATES)),
    )
    if job.stop_frame < job.start_frame:
        raise obj.fail(STOP_BEFORE_START, "stop_frame")
    if job.frames == []:
        raise obj.fail(EMPTY, "frames")
    for index, name in enumerate(job.files or []):
        if (reason := path_problem(name)) is not None:
            raise obj.fail(BAD_FILE, f"files[{index}]", reason=reason)
    return job


def _replicas_per_job(jobs: list[JobSpec]) -> int:
    """Consensus replicas per annotation job as CVAT counts them on restore: each replica
    belongs to the job listed before it; the task's number is the smallest count of an
    annotation job."""
    counts: list[tuple[str, int]] = []
    for job in jobs:
        if job.type != JobType.CONSENSUS_REPLICA:
            counts.append((job.type, 0))
        elif counts:
            counts[-1] = (counts[-1][0], counts[-1][1] + 1)
    return min((count for kind, count in counts if kind == JobType.ANNOTATION), default=0)


def _origin(obj: Fields) -> OriginSpec:
    return OriginSpec(
        provider_type=obj.choice("provider_type", PROVIDER_TYPES),
        resource=obj.string("resource", empty=False, limit=MAX_NAME),
        prefix=obj.string("prefix", "", limit=MAX_PREFIX),
    )


def parse_task_json(obj: Any, *, what: str = TASK_JSON, limits: Limits | None = None) -> TaskSpec:
    """The task described by a task.json document (see the module docstring). Without
    ``data.stop_frame`` the frames are checked by ``complete_task_spec``. ``limits`` bound the
    counts of jobs, labels, attributes and values (the defaults when None)."""
    limits = limits or Limits()
    doc = root(obj, what)
    version = check_version(doc)
    data_doc = doc.child("data")
    data = _data(data_doc)
    origin = doc.maybe("cloud_storage", lambda key: _origin(doc.child(key)))
    check_count(doc, "jobs", "jobs", limits.max_jobs)
    jobs = [_job(job) for job in doc.objects("jobs")]
    derived = _replicas_per_job(jobs)
    given = doc.maybe("consensus_replicas", doc.integer)
    spec = TaskSpec(
        version=version,
        name=doc.string("name", limit=MAX_NAME, empty=False),
        bug_tracker=doc.string("bug_tracker", "", limit=MAX_BUG_TRACKER),
        status=doc.choice("status", STATUSES, StatusChoice.ANNOTATION.value),
        subset=doc.string("subset", "", limit=MAX_SUBSET),
        labels=_labels(doc, limits),
        # CVAT up to 2.58 wrote the key; later ones count the replicas in 'jobs'.
        consensus_replicas=derived if given is None else given,
        data=data,
        jobs=jobs,
        origin=origin if data.storage == LIGHTWEIGHT_STORAGE else None,
        extra={key: value for key, value in obj.items() if key not in _TASK_KEYS},
    )
    if not any(job.type == JobType.ANNOTATION for job in spec.jobs):
        raise ArchiveError(NO_ANNOTATION_JOB.format(what=what))
    _check_file_mapping(spec, _file_mapping(data_doc), what)
    if data.storage_method == StorageMethod.FILE_SYSTEM:
        spec.notes.append(NOTE_FILE_SYSTEM.format(what=what))
    if data.stop_frame is not None:
        _check_frames(spec, what)
    return spec


def _check_file_mapping(spec: TaskSpec, mapping: list[list[str]] | None, what: str) -> None:
    """CVAT never writes ``data.job_file_mapping`` (a write-only field of its API) but
    accepts it: with custom segments it must agree with the jobs' files, else it is ignored
    (as CVAT does)."""
    if mapping is None:
        return
    if not spec.data.custom_segments:
        spec.notes.append(NOTE_FILE_MAPPING.format(what=what))
        return
    files = [job.files for job in spec.jobs if job.type == JobType.ANNOTATION]
    if files != mapping:
        raise ArchiveError(FILE_MAPPING_MISMATCH.format(what=what))


def complete_task_spec(spec: TaskSpec, image_count: int, *, what: str = TASK_JSON) -> None:
    """Once the manifest is counted: a task.json without ``data.stop_frame`` (CVAT's backups
    with a filtered manifest, since 2.52) spans the manifest's images from ``start_frame`` to
    the last one reachable with the step, as CVAT restores it; then every frame task.json
    names is checked against the task's frames."""
    data = spec.data
    if data.stop_frame is not None:
        return
    if data.start_frame >= image_count:
        raise ArchiveError(
            START_PAST_IMAGES.format(
                what=what, start=data.start_frame, count=image_count, last=image_count - 1
            )
        )
    data.stop_frame = (
        data.start_frame + (image_count - 1 - data.start_frame) // data.step * data.step
    )
    _check_frames(spec, what)


def _data_json(data: DataSpec) -> dict[str, Any]:
    result: dict[str, Any] = {
        "chunk_size": data.chunk_size,
        "image_quality": data.image_quality,
        "start_frame": data.start_frame,
    }
    if data.stop_frame is not None:
        result["stop_frame"] = data.stop_frame
    if data.frame_filter:
        result["frame_filter"] = data.frame_filter
    result |= {
        "storage_method": data.storage_method,
        "sorting_method": data.sorting_method,
        "chunk_type": data.chunk_type,
        "deleted_frames": list(data.deleted_frames),
    }
    if data.custom_segments:
        result["custom_segments"] = True
    if data.validation_layout is not None:
        result["validation_layout"] = data.validation_layout
    result["storage"] = data.storage
    return result


def _job_json(job: JobSpec) -> dict[str, Any]:
    result: dict[str, Any] = {
        "status": job.status,
        "type": job.type,
        "start_frame": job.start_frame,
        "stop_frame": job.stop_frame,
    }
    optional = {"frames": job.frames, "files": job.files, "stage": job.stage, "state": job.state}
    result |= {key: value for key, value in optional.items() if value is not None}
    return result


def build_task_json(spec: TaskSpec) -> dict[str, Any]:
    """task.json for ``spec``, in CVAT's key order. The origin block is written only for a
    lightweight backup (``data.storage == "cloud_storage"``)."""
    result: dict[str, Any] = {
        "name": spec.name,
        "bug_tracker": spec.bug_tracker,
        "status": spec.status,
        "subset": spec.subset,
        "labels": [_label_json(label) for label in spec.labels],
    }
    if spec.consensus_replicas:
        result["consensus_replicas"] = spec.consensus_replicas
    result["version"] = spec.version
    result["data"] = _data_json(spec.data)
    result["jobs"] = [_job_json(job) for job in spec.jobs]
    if spec.lightweight and spec.origin is not None:
        origin = spec.origin
        result["cloud_storage"] = {
            "provider_type": origin.provider_type,
            "resource": origin.resource,
            "prefix": origin.prefix,
        }
    result |= {key: value for key, value in spec.extra.items() if key not in _TASK_KEYS}
    return result


# --- project.json ------------------------------------------------------------------------------


def parse_project_json(
    obj: Any, *, what: str = PROJECT_JSON, limits: Limits | None = None
) -> ProjectSpec:
    limits = limits or Limits()
    doc = root(obj, what)
    return ProjectSpec(
        version=check_version(doc),
        name=doc.string("name", limit=MAX_NAME, empty=False),
        bug_tracker=doc.string("bug_tracker", "", limit=MAX_BUG_TRACKER),
        status=doc.choice("status", STATUSES, StatusChoice.ANNOTATION.value),
        labels=_labels(doc, limits),
    )


def build_project_json(spec: ProjectSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "bug_tracker": spec.bug_tracker,
        "status": spec.status,
        "labels": [_label_json(label) for label in spec.labels],
        "version": spec.version,
    }
