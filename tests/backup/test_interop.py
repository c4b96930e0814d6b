"""A backup written by real CVAT (contract 7.4) opens and parses; see the corpus's README."""

import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from cvat_lite.backup.archive import ArchiveReader, ArchiveWriter
from cvat_lite.backup.format import (
    build_annotations_json,
    build_task_json,
    check_task_layout,
    max_frame,
    read_annotations_json,
)
from cvat_lite.media.manifest import read_manifest
from tests.fixtures.interop import interop_dir, missing_corpus

INTEROP = interop_dir()
CVAT_BACKUP = INTEROP / "task_30_backup_pre_consensus_replica_removal.zip"


@pytest.fixture
def cvat_backup() -> Path:
    if not CVAT_BACKUP.is_file():
        missing_corpus(f"The CVAT backup {CVAT_BACKUP}")
    return CVAT_BACKUP


def test_cvat_backup_opens_and_parses(cvat_backup):
    with ArchiveReader(cvat_backup) as reader:
        assert not reader.has_checksums  # CVAT writes none: accepted
        layout = check_task_layout(reader, lightweight_expected=False)
        spec = layout.spec
        annotations = read_annotations_json(reader, spec=spec)
        with reader.open("data/manifest.jsonl") as stream:
            entries = list(read_manifest(stream, allow_duplicates=True))
        reader.verify_checksums()

    assert spec.version == "1.0"
    assert spec.name == "task with consensus and honeypots"
    assert [label.name for label in spec.labels] == ["cat", "dog"]
    assert spec.labels[0].attributes[0].name == "src"
    assert spec.consensus_replicas == 3
    assert spec.data.storage == "local"
    assert spec.data.sorting_method == "random"
    assert spec.data.custom_segments is True
    assert spec.data.frame_count == 10
    assert spec.data.validation_layout == {
        "mode": "gt_pool",
        "frames_per_job_count": 2,
        "frames": ["32.png", "35.png"],
    }
    assert Counter(job.type for job in spec.jobs) == {
        "annotation": 2,
        "consensus_replica": 6,
        "ground_truth": 1,
    }
    assert spec.jobs[-1].files == ["32.png", "35.png"]

    assert layout.image_count == len(entries) == 10
    assert entries[0].path == "32.png"  # frame 0
    assert len({entry.path for entry in entries}) == 6  # honeypots repeat images

    assert len(annotations) == 9
    assert [len(job.tags) for job in annotations] == [1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert sum(len(job.shapes) for job in annotations) == 43
    assert annotations[0].tags[0] == {
        "frame": 0,
        "group": 0,
        "source": "manual",
        "attributes": [{"value": "", "name": "src"}],
        "label": "cat",
    }
    assert max(frame for job in annotations if (frame := max_frame(job)) is not None) == 9


def test_what_we_build_is_what_cvat_wrote(cvat_backup):
    with zipfile.ZipFile(cvat_backup) as zf:
        task_json = json.loads(zf.read("task.json"))
        annotations_json = json.loads(zf.read("annotations.json"))
    with ArchiveReader(cvat_backup) as reader:
        spec = check_task_layout(reader).spec
        annotations = read_annotations_json(reader, spec=spec)
    # Same keys, same order, same values: CVAT restores what we write.
    assert json.dumps(build_task_json(spec)) == json.dumps(task_json)
    assert json.dumps(build_annotations_json(annotations)) == json.dumps(annotations_json)


def test_rewritten_with_checksums(cvat_backup, tmp_path):
    """Re-packing CVAT's backup with our writer keeps every member and adds checksums."""
    path = tmp_path / "repacked.zip"
    with ArchiveReader(cvat_backup) as source, path.open("wb") as out, ArchiveWriter(out) as writer:
        for name in source.names():
            with source.open(name) as stream:
                writer.add_stream(name, iter(lambda: stream.read(1000), b""), source.size(name))
    with ArchiveReader(path) as reader:
        assert reader.has_checksums
        assert check_task_layout(reader).image_count == 10
        reader.verify_checksums()
