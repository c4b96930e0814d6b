"""What CVAT's backup importer (2.30 to 2.73) requires of an archive, as read in its code
(``cvat/apps/engine/backup.py``: ``TaskImporter``, ``ProjectImporter``; the serializers it
runs; ``task.py``'s segment and job-file-mapping rules). ``cvat_import_problems`` lists what
CVAT would refuse, or restore differently from what the archive says. Pure ``zipfile`` +
``json``, independent of cvat_lite's own format code.

Where CVAT is lenient, so is this: unknown keys of task.json, of ``data`` and of jobs are
dropped by CVAT (``_prepare_meta``) and are no problem; members outside ``data/`` other than
``annotation_guide.md`` / ``assets/`` are never read.
"""

from __future__ import annotations

import json
import re
import zipfile
from typing import Any

VERSIONS = {"1.0"}
STORAGES = {"local", "cloud_storage"}  # anything else: "Unexpected storage type"
SORTING_METHODS = {"lexicographical", "natural", "predefined", "random"}
STORAGE_METHODS = {"cache", "file_system"}
CHUNK_TYPES = {"imageset", "video"}
JOB_TYPES = {"annotation", "ground_truth", "consensus_replica"}
JOB_STATUSES = {"annotation", "validation", "completed"}
VALIDATION_MODES = {"gt", "gt_pool"}
SHAPE_TYPES = {
    *("rectangle", "polygon", "polyline", "points", "ellipse", "cuboid", "mask", "skeleton"),
}
SOURCES = {"manual", "auto", "semi-auto", "file", "consensus"}
# Written by CVAT's UI long ago; the importer makes it "manual" (``_fix_annotation_source``).
LEGACY_SOURCES = {"Ground truth"}
FRAME_FILTER = re.compile(r"step\s*=\s*([1-9]\d*)")
MANIFEST = "data/manifest.jsonl"
INDEX = "data/index.json"  # excluded from the copied files
_TASK_FOLDER = re.compile(r"task_(\d+)/")


class _Problems(list):
    def add(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}")


def _manifest(text: str) -> list[dict[str, Any]]:
    entries = []
    for line in text.splitlines():
        item = json.loads(line) if line.strip() else {}
        if "name" in item:
            entries.append(item)
    return entries


def _step(data: dict[str, Any]) -> int:
    match = FRAME_FILTER.search(data.get("frame_filter") or "step=1")
    return int(match.group(1)) if match else 1


def _check_data(data: dict[str, Any], where: str, problems: _Problems) -> None:
    # Keys read with [] by the importer (a KeyError there is a failed import).
    for key in ("chunk_type", "storage"):
        if key not in data:
            problems.add(where, f"'data.{key}' is missing")
    if data.get("storage", "local") not in STORAGES:
        problems.add(where, f"'data.storage' {data.get('storage')!r} is refused")
    quality = data.get("image_quality")
    if quality is not None and not (isinstance(quality, int) and 1 <= quality <= 100):
        problems.add(where, "'data.image_quality' must be 1..100")
    chunk = data.get("chunk_size")
    if chunk is not None and not (isinstance(chunk, int) and chunk > 0):
        problems.add(where, "'data.chunk_size' must be a positive integer")
    start, stop = data.get("start_frame", 0), data.get("stop_frame")
    if stop is not None and start > stop:
        problems.add(where, "'data.start_frame' is after 'data.stop_frame'")
    frame_filter = data.get("frame_filter")
    if frame_filter and not FRAME_FILTER.search(frame_filter):
        problems.add(where, "'data.frame_filter' is invalid")  # an empty one is dropped first
    for key, choices in (
        ("sorting_method", SORTING_METHODS),
        ("storage_method", STORAGE_METHODS),
        ("chunk_type", CHUNK_TYPES),
    ):
        if key in data and data[key] not in choices:
            problems.add(where, f"'data.{key}' {data[key]!r} is not a choice")
    if not all(isinstance(f, int) and f >= 0 for f in data.get("deleted_frames", [])):
        problems.add(where, "'data.deleted_frames' must be frame numbers")


def _segment_ranges(size: int, segment_size: int, overlap: int) -> list[tuple[int, int]]:
    """CVAT's default segments (``_generate_segment_params``) for images."""
    if segment_size == 0 or segment_size > size:
        segment_size = size
    overlap = min(overlap, segment_size // 2)
    return [
        (start, min(start + segment_size - 1, size - 1))
        for start in range(0, size - overlap, segment_size - overlap)
    ]


def _check_jobs(doc: dict[str, Any], size: int, where: str, problems: _Problems) -> None:
    jobs, data = doc["jobs"], doc["data"]
    for index, job in enumerate(jobs):
        if "status" not in job:
            problems.add(where, f"'jobs[{index}].status' is missing")
        elif job["status"] not in JOB_STATUSES:
            problems.add(where, f"'jobs[{index}].status' is not a choice")
        if job.get("type", "annotation") not in JOB_TYPES:
            problems.add(where, f"'jobs[{index}].type' is not a choice")
    types = [job.get("type", "annotation") for job in jobs]
    if types and types[0] == "consensus_replica":
        problems.add(where, "a consensus replica must follow its parent job")
    annotation = [job for job in jobs if job.get("type", "annotation") == "annotation"]
    if not annotation:
        problems.add(where, "no annotation job")
        return
    layout = data.get("validation_layout")
    gt_pool = bool(layout) and layout.get("mode") == "gt_pool"
    ground_truth = [job for job in jobs if job.get("type") == "ground_truth"]

    # Replicas: CVAT makes min(count per annotation job) of them for every annotation job,
    # then matches the archive's jobs with its own in order: the counts must be equal.
    counts: list[int] = []
    for kind in types:
        if kind == "annotation":
            counts.append(0)
        elif kind == "consensus_replica" and counts:
            counts[-1] += 1
    if len(set(counts)) > 1:
        problems.add(where, f"annotation jobs have different replica counts {counts}")
    # CVAT's job order: each segment's annotation job then its replicas, ground truth last.
    if "ground_truth" in types and any(
        kind != "ground_truth" for kind in types[types.index("ground_truth") :]
    ):
        problems.add(where, "ground-truth jobs must come last")

    if data.get("custom_segments"):
        mapping = []
        for index, job in enumerate(jobs):
            if job.get("type", "annotation") != "annotation":
                continue
            if "files" not in job:
                problems.add(where, f"'jobs[{index}].files' is missing (custom segments)")
                continue
            frames = job.get("frames")
            length = len(set(frames)) if frames else job["stop_frame"] - job["start_frame"] + 1
            if len(job["files"]) != length:
                problems.add(where, f"'jobs[{index}].files' does not match the job's size")
            mapping.append(job["files"])
        if not gt_pool:
            files = [name for job_files in mapping for name in job_files]
            if len(files) != len(set(files)):
                problems.add(where, "a file is in two custom segments (job_file_mapping)")
    elif len(annotation) > 1:
        segment_size = annotation[0]["stop_frame"] - annotation[0]["start_frame"] + 1
        overlap = annotation[0]["stop_frame"] - annotation[1]["start_frame"] + 1
        expected = _segment_ranges(size, segment_size, overlap)
        actual = [(job["start_frame"], job["stop_frame"]) for job in annotation]
        if actual != expected:
            problems.add(where, f"CVAT would make the segments {expected}, not {actual}")
    elif (annotation[0]["start_frame"], annotation[0]["stop_frame"]) != (0, size - 1):
        problems.add(where, "a single annotation job must span the task")

    if layout:
        if layout.get("mode") not in VALIDATION_MODES:
            problems.add(where, "'data.validation_layout.mode' is not a choice")
        if len(ground_truth) != 1:
            problems.add(where, "a validation layout needs exactly one ground-truth job")
        elif gt_pool:
            if set(ground_truth[0].get("files", [])) != set(layout.get("frames", [])):
                problems.add(where, "the ground-truth job's files are not the validation frames")
            if not data.get("custom_segments"):
                problems.add(where, "a gt_pool layout needs custom segments")
    else:
        for index, job in enumerate(jobs):
            if job.get("type") == "ground_truth" and "frames" not in job:
                problems.add(where, f"'jobs[{index}].frames' is missing (ground truth)")


def _label_names(labels: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {label["name"]: label for label in labels}


def _check_object(
    obj: dict[str, Any], labels: dict[str, dict[str, Any]], where: str, problems: _Problems
) -> None:
    label = labels.get(obj.get("label"))
    if label is None:
        problems.add(where, f"label {obj.get('label')!r} is not defined")
        return
    names = {attribute["name"] for attribute in label.get("attributes", [])}
    attributes = [*obj.get("attributes", [])]
    for shape in obj.get("shapes", []):
        attributes += shape.get("attributes", [])
        if shape.get("type") not in SHAPE_TYPES:
            problems.add(where, f"shape type {shape.get('type')!r}")
    for attribute in attributes:
        if attribute.get("name") not in names:
            problems.add(where, f"attribute {attribute.get('name')!r} of {label['name']!r}")
    if "type" in obj and obj["type"] not in SHAPE_TYPES:
        problems.add(where, f"shape type {obj['type']!r}")
    if obj.get("source", "manual") not in SOURCES | LEGACY_SOURCES:
        problems.add(where, f"source {obj.get('source')!r}")
    sublabels = _label_names(label.get("sublabels", []))
    for element in obj.get("elements", []):
        _check_object(element, sublabels, where, problems)


def _check_task(
    archive: zipfile.ZipFile,
    folder: str,
    project_labels: list[dict[str, Any]] | None,
    problems: _Problems,
) -> None:
    names = set(archive.namelist())
    where = folder + "task.json"
    for member in ("task.json", "annotations.json", MANIFEST):
        if folder + member not in names:
            problems.add(folder or "archive", f"{member} is missing")
            return
    doc = json.loads(archive.read(folder + "task.json"))
    if doc.get("version") not in VERSIONS:
        problems.add(where, f"version {doc.get('version')!r} is not supported")
    for key in ("name", "labels", "data", "jobs"):
        if key not in doc:
            problems.add(where, f"{key!r} is missing")
            return
    data = doc["data"]
    _check_data(data, where, problems)
    entries = _manifest(archive.read(folder + MANIFEST).decode())
    files = [entry["name"] + entry["extension"] for entry in entries]
    related = {
        path for entry in entries for path in entry.get("meta", {}).get("related_images", [])
    }
    data_dir = folder + "data/"
    members = {
        name[len(data_dir) :]
        for name in names
        if name.startswith(data_dir) and not name.endswith("/") and name != folder + INDEX
    }
    if data.get("storage") == "cloud_storage":
        if members != {"manifest.jsonl"}:
            problems.add(where, f"a lightweight backup has other files in data/: {members}")
    else:
        missing = sorted(set(files) - members)
        if missing:
            problems.add(where, f"media missing from data/: {missing[:3]}")
        unknown = sorted(members - {"manifest.jsonl", *files, *related})
        if unknown:
            problems.add(where, f"files in data/ the manifest does not name: {unknown[:3]}")
    start, step = data.get("start_frame", 0), _step(data)
    stop = data.get("stop_frame")
    if stop is None or (stop == 0 and not data.get("custom_segments")):
        stop = len(files) - 1  # CVAT: 0 means "to the last image"
    size = len(range(start, min(stop, len(files) - 1) + 1, step))
    _check_jobs(doc, size, where, problems)
    labels = _label_names(project_labels if project_labels is not None else doc["labels"])
    if project_labels is not None:
        for label in doc["labels"]:
            if label["name"] not in labels:
                problems.add(where, f"label {label['name']!r} is not a project label")
    annotations = json.loads(archive.read(folder + "annotations.json"))
    if len(annotations) != len(doc["jobs"]):
        problems.add(folder + "annotations.json", "not one entry per job")
    for index, job in enumerate(annotations):
        for kind in ("tags", "shapes", "tracks"):
            for obj in job.get(kind, []):
                _check_object(obj, labels, f"{folder}annotations.json[{index}]", problems)


def cvat_import_problems(path) -> list[str]:
    """What CVAT's importer would refuse in the task or project backup at ``path`` (empty:
    CVAT restores it as the archive says)."""
    problems = _Problems()
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if "project.json" not in names:
            _check_task(archive, "", None, problems)
            return problems
        project = json.loads(archive.read("project.json"))
        if project.get("version") not in VERSIONS:
            problems.add("project.json", f"version {project.get('version')!r} is not supported")
        indexes = sorted({int(m.group(1)) for n in names if (m := _TASK_FOLDER.match(n))})
        for index in indexes:
            _check_task(archive, f"task_{index}/", project.get("labels", []), problems)
    return problems
