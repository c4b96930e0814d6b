"""The backup format (contract 7.2, 7.3): CVAT's task/project archive layout, version "1.0".

Pure code, no ORM. ``parse_*`` functions take the untrusted JSON of an archive (loaded with
``archive.load_json``) and return typed specs, or raise ``ArchiveError`` naming the file and the
field path ("task.json: 'data.chunk_size' must be an integer."). ``build_*`` functions are their
inverses and write CVAT's key sets in CVAT's key order, so CVAT restores our backups.
``check_task_layout`` checks which members a task backup has and reads its task.json.

Leniency, as in CVAT: unknown keys are ignored (unknown top-level keys of task.json are kept in
``TaskSpec.extra`` and written back); optional keys CVAT did not always write get CVAT's
defaults (without ``data.stop_frame`` the task spans the manifest: ``complete_task_spec``).
What CVAT wrote and a restore does not keep is listed in ``TaskSpec.notes`` (for the request's
message) instead of being dropped silently; docs/cvat-differences.md lists each case.

Not checked here: that the frames exist in the manifest (the importer compares
``DataSpec.frame_count`` and ``max_frame`` with it) and that jobs do not overlap (annotation
jobs overlap by ``overlap``; consensus replicas repeat their parent's range; ground-truth jobs
pick arbitrary frames).

Modules: ``base`` (versions, member names, the field reader), ``task`` (labels, task.json,
project.json), ``annotations`` (annotations.json), ``layout`` (members of a task in an archive).
"""

from cvat_lite.backup.format.annotations import (
    JobAnnotationsSpec,
    JobStream,
    build_annotations_json,
    frames_of,
    max_frame,
    object_count,
    parse_annotations_json,
    spec_object_count,
    stream_annotations_json,
)
from cvat_lite.backup.format.base import (
    ANNOTATIONS_JSON,
    CHECKSUMS,
    DATA_DIR,
    FORMAT_VERSION,
    MANIFEST,
    PROJECT_JSON,
    SUPPORTED_VERSIONS,
    TASK_FOLDER,
    TASK_JSON,
)
from cvat_lite.backup.format.layout import (
    TaskLayout,
    check_task_layout,
    guide_note,
    read_annotations_json,
    read_project_json,
    read_task_json,
    stream_annotations,
    task_folder,
    task_folders,
)
from cvat_lite.backup.format.task import (
    LIGHTWEIGHT_STORAGE,
    AttributeSpec,
    DataSpec,
    JobSpec,
    LabelSpec,
    OriginSpec,
    ProjectSpec,
    TaskSpec,
    build_project_json,
    build_task_json,
    complete_task_spec,
    parse_project_json,
    parse_task_json,
)

__all__ = [
    "ANNOTATIONS_JSON",
    "CHECKSUMS",
    "DATA_DIR",
    "FORMAT_VERSION",
    "LIGHTWEIGHT_STORAGE",
    "MANIFEST",
    "PROJECT_JSON",
    "SUPPORTED_VERSIONS",
    "TASK_FOLDER",
    "TASK_JSON",
    "AttributeSpec",
    "DataSpec",
    "JobAnnotationsSpec",
    "JobSpec",
    "JobStream",
    "LabelSpec",
    "OriginSpec",
    "ProjectSpec",
    "TaskLayout",
    "TaskSpec",
    "build_annotations_json",
    "build_project_json",
    "build_task_json",
    "check_task_layout",
    "complete_task_spec",
    "frames_of",
    "guide_note",
    "max_frame",
    "object_count",
    "parse_annotations_json",
    "parse_project_json",
    "parse_task_json",
    "read_annotations_json",
    "read_project_json",
    "read_task_json",
    "spec_object_count",
    "stream_annotations",
    "stream_annotations_json",
    "task_folder",
    "task_folders",
]
