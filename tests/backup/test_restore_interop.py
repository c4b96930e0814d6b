"""A backup written by real CVAT restores (contract 7.4); see the corpus's README."""

from __future__ import annotations

import zipfile
from collections import Counter

import pytest

from cvat_lite.backup.restore import TASK_RESTORED, backup_restore_task
from cvat_lite.engine.frames import local_media_root
from cvat_lite.engine.models import Job, Label

from .restore_helpers import cvat_backup_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def restored(user):
    return backup_restore_task(owner=user, archive_path=cvat_backup_path())


def test_the_task_and_its_data(restored):
    task = restored.obj
    assert restored.message == TASK_RESTORED
    assert task.name == "task with consensus and honeypots"
    assert (task.consensus_replicas, task.segment_size, task.overlap) == (3, 0, None)
    assert task.validation_layout == {
        "mode": "gt_pool",
        "frames_per_job_count": 2,
        "frames": ["32.png", "35.png"],
    }
    data = task.data
    assert (data.storage, data.size, data.chunk_size, data.sorting_method) == (
        "local", 10, 72, "random"
    )  # fmt: skip
    paths = list(data.images.order_by("frame").values_list("path", flat=True))
    assert len(paths) == 10
    assert paths[0] == "32.png"
    assert paths == [f"{n}.png" for n in (32, 30, 31, 35, 34, 35, 32, 33, 32, 35)]


def test_the_labels(restored):
    labels = Label.objects.filter(task=restored.obj).order_by("name")
    assert [(label.name, label.color) for label in labels] == [
        ("cat", "#6080c0"),
        ("dog", "#406040"),
    ]
    for label in labels:
        assert list(label.attributes.values_list("name", "input_type")) == [("src", "text")]


def test_all_nine_jobs_with_their_relations(restored):
    jobs = list(Job.objects.filter(segment__task=restored.obj).select_related("segment"))
    assert len(jobs) == 9
    assert Counter(job.type for job in jobs) == {
        "annotation": 2,
        "consensus_replica": 6,
        "ground_truth": 1,
    }
    ranges = [(job.type, job.segment.start_frame, job.segment.stop_frame) for job in jobs]
    assert ranges == [
        ("annotation", 0, 4),
        *[("consensus_replica", 0, 4)] * 3,
        ("annotation", 5, 7),
        *[("consensus_replica", 5, 7)] * 3,
        ("ground_truth", 8, 9),
    ]
    for job in jobs:
        if job.type == "consensus_replica":
            parent = job.parent_job
            assert parent.type == "annotation"
            assert parent.segment_id == job.segment_id
        else:
            assert job.parent_job is None


def test_the_annotations(restored):
    rows = [
        job.annotations
        for job in Job.objects.filter(segment__task=restored.obj).select_related("annotations")
    ]
    assert sum(len(row.tags) for row in rows) == 4
    assert sum(len(row.shapes) for row in rows) == 43
    assert sum(len(row.tracks) for row in rows) == 0
    cat = Label.objects.get(task=restored.obj, name="cat")
    first_tag = rows[0].tags[0]
    assert first_tag["label_id"] == cat.id
    assert first_tag["frame"] == 0
    assert first_tag["attributes"] == [{"spec_id": cat.attributes.get().id, "value": ""}]
    assert rows[0].shapes[0]["source"] == "consensus"
    assert {shape["frame"] for shape in rows[8].shapes} == {8, 9}


def test_the_media_are_byte_identical(restored):
    root = local_media_root(restored.obj.id)
    with zipfile.ZipFile(cvat_backup_path()) as archive:
        media = {
            name.removeprefix("data/"): archive.read(name)
            for name in archive.namelist()
            if name.startswith("data/") and name.endswith(".png")
        }
    assert sorted(media) == [f"{n}.png" for n in range(30, 36)]
    assert sorted(p.name for p in root.iterdir()) == sorted(media)
    for name, content in media.items():
        assert (root / name).read_bytes() == content
