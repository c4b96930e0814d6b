"""The members of a task inside a backup archive, and reading its JSON documents."""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass

from cvat_lite.backup.archive import ArchiveReader, load_json, load_json_lazily
from cvat_lite.backup.format.annotations import (
    JobAnnotationsSpec,
    JobStream,
    RawObjectCount,
    stream_annotations_json,
)
from cvat_lite.backup.format.base import (
    ANNOTATIONS_JSON,
    DATA_DIR,
    MANIFEST,
    PROJECT_JSON,
    TASK_FOLDER,
    TASK_JSON,
)
from cvat_lite.backup.format.task import (
    ProjectSpec,
    TaskSpec,
    complete_task_spec,
    parse_project_json,
    parse_task_json,
)
from cvat_lite.errors import ArchiveError, ManifestError
from cvat_lite.media.manifest import ManifestEntry, read_manifest
from cvat_lite.media.paths import shown

NO_MEMBER = "The archive has no {name}."
NOT_A_PROJECT = "The archive has no project.json: it is not a project backup."
LIGHTWEIGHT_EXTRA = "A lightweight backup may only contain {manifest}; found {name}."
MISSING_MEDIA = "The backup says it is full but lacks media: {name}."
EXPECTED_LIGHTWEIGHT = "The backup is a full one; a lightweight backup was expected."
EXPECTED_FULL = "The backup is a lightweight one; a full backup was expected."
GUIDE = "annotation_guide.md"
ASSETS_DIR = "assets/"
NOTE_GUIDE = (
    "{name} and its {assets} asset(s) were not restored: cvat_lite keeps no annotation guides."
)

_TASK_FOLDER = re.compile(r"task_(0|[1-9][0-9]{0,8})/")


@dataclass
class TaskLayout:
    prefix: str  # "" for a task backup, "task_<i>/" inside a project backup
    spec: TaskSpec
    image_count: int  # image entries in the manifest (repeated honeypot images counted)

    @property
    def lightweight(self) -> bool:
        return self.spec.lightweight


def task_folder(index: int) -> str:
    return TASK_FOLDER.format(index=index)


def task_folders(reader: ArchiveReader) -> list[str]:
    """The ``task_<i>/`` folders of a project archive, by increasing ``i`` (as CVAT reads
    them)."""
    found = {
        int(match.group(1)): match.group(0)
        for name in reader.names()
        if (match := _TASK_FOLDER.match(name))
    }
    return [found[index] for index in sorted(found)]


def _require(reader: ArchiveReader, name: str) -> None:
    if not reader.has(name):
        raise ArchiveError(NO_MEMBER.format(name=name), extra={"member": name})


def read_task_json(reader: ArchiveReader, prefix: str = "") -> TaskSpec:
    name = prefix + TASK_JSON
    _require(reader, name)
    data = reader.read_bytes(name, limit=reader.limits.max_task_json_size)
    return parse_task_json(load_json(data, what=name), what=name, limits=reader.limits)


def read_annotations_json(
    reader: ArchiveReader, prefix: str = "", *, spec: TaskSpec, objects_before: int = 0
) -> list[JobAnnotationsSpec]:
    """The task's annotations; ``objects_before`` are those of the archive's tasks read
    before (``Limits.max_objects`` bounds the archive's)."""
    jobs = []
    for job in stream_annotations(reader, prefix, spec=spec, objects_before=objects_before):
        read = JobAnnotationsSpec(version=job.version)
        for kind, obj in job.objects:
            getattr(read, kind).append(obj)
        jobs.append(read)
    return jobs


def stream_annotations(
    reader: ArchiveReader,
    prefix: str = "",
    *,
    spec: TaskSpec,
    objects_before: int = 0,
    checked: bool = False,
) -> Generator[JobStream]:
    """The task's annotations one job, and in each job one object, at a time
    (``stream_annotations_json``), with the errors of ``read_annotations_json``: the member's
    JSON is checked here (unless ``checked``: read and checked before, as a restore writes
    what its plan checked), its content as the jobs are read. The member's text stays in memory
    while the iterator lives; nothing else does."""
    name = prefix + ANNOTATIONS_JSON
    _require(reader, name)
    counter = RawObjectCount()
    document = load_json_lazily(
        reader.read_bytes(name, limit=reader.limits.max_annotations_size),
        what=name,
        on_item=counter,
        checked=checked,
    )
    return stream_annotations_json(
        document,
        raw_count=counter.count,
        labels=spec.labels,
        job_count=len(spec.jobs),
        what=name,
        limits=reader.limits,
        objects_before=objects_before,
    )


def read_project_json(reader: ArchiveReader) -> ProjectSpec:
    if not reader.has(PROJECT_JSON):
        raise ArchiveError(NOT_A_PROJECT, extra={"member": PROJECT_JSON})
    data = reader.read_bytes(PROJECT_JSON, limit=reader.limits.max_task_json_size)
    return parse_project_json(load_json(data, what=PROJECT_JSON), limits=reader.limits)


def check_task_layout(
    reader: ArchiveReader,
    prefix: str = "",
    *,
    lightweight_expected: bool | None = None,
    on_entry: Callable[[TaskSpec, ManifestEntry], None] | None = None,
) -> TaskLayout:
    """Check the members of the task at ``prefix`` and return its parsed task.json.

    task.json, annotations.json and data/manifest.jsonl must be there; the manifest is read
    (every line validated; repeated images allowed: CVAT's honeypots). A lightweight backup
    (``data.storage == "cloud_storage"``) has nothing else under ``data/``; a full one has
    every image the manifest names at ``data/<path>``. Other members (CVAT's ``task/``,
    ``annotation_guide.md``, ``assets/``, related images) are tolerated and ignored; an
    annotation guide is named in ``spec.notes``. Without ``data.stop_frame`` the task's frames
    are the manifest's images (``complete_task_spec``).

    ``on_entry(spec, entry)`` is called with every manifest entry once it is checked, so that
    a caller that needs the entries too reads the manifest only once."""
    for name in (TASK_JSON, ANNOTATIONS_JSON, MANIFEST):
        _require(reader, prefix + name)
    spec = read_task_json(reader, prefix)
    if lightweight_expected is not None and spec.lightweight != lightweight_expected:
        raise ArchiveError(EXPECTED_LIGHTWEIGHT if lightweight_expected else EXPECTED_FULL)
    data_dir, manifest = prefix + DATA_DIR, prefix + MANIFEST
    if spec.lightweight:
        extra = sorted(n for n in reader.names() if n.startswith(data_dir) and n != manifest)
        if extra:
            message = LIGHTWEIGHT_EXTRA.format(manifest=manifest, name=shown(extra[0]))
            raise ArchiveError(message, extra={"member": extra[0]})
    count = 0
    with reader.open(manifest) as stream:
        try:
            for entry in read_manifest(stream, allow_duplicates=True):
                count += 1
                media = data_dir + entry.path
                if not spec.lightweight and not reader.has(media):
                    message = MISSING_MEDIA.format(name=shown(media))
                    raise ArchiveError(message, extra={"member": media})
                if on_entry is not None:
                    on_entry(spec, entry)
        except ManifestError as error:
            error.extra["member"] = manifest
            raise
    complete_task_spec(spec, count, what=prefix + TASK_JSON)
    if (note := guide_note(reader, prefix)) is not None:
        spec.notes.append(note)
    return TaskLayout(prefix=prefix, spec=spec, image_count=count)


def guide_note(reader: ArchiveReader, prefix: str = "") -> str | None:
    """The note saying that the annotation guide at ``prefix`` (CVAT's ``annotation_guide.md``
    and its ``assets/``) is not restored; None when there is none."""
    if not reader.has(prefix + GUIDE):
        return None
    assets = prefix + ASSETS_DIR
    count = sum(1 for name in reader.names() if name.startswith(assets) and name != assets)
    return NOTE_GUIDE.format(name=prefix + GUIDE, assets=count)
