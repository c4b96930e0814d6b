"""task.json / annotations.json shapes that CVAT 2.30-2.76 writes and older code refused or
lost: no start_frame / stop_frame / frame_filter (a filtered manifest, CVAT >= 2.52), replicas
without ``consensus_replicas`` (CVAT >= 2.59), shape scores (CVAT >= 2.63), keys and members
cvat_lite does not keep (a note in the message) and audio intervals (refused by name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvat_lite.backup.format import parse_task_json
from cvat_lite.backup.format.layout import NOTE_GUIDE
from cvat_lite.backup.format.task import (
    FILE_MAPPING_MISMATCH,
    NOTE_FILE_MAPPING,
    NOTE_FILE_SYSTEM,
    START_PAST_IMAGES,
)
from cvat_lite.backup.restore import (
    PROJECT_RESTORED,
    TASK_RESTORED,
    backup_restore_project,
    backup_restore_task,
)
from cvat_lite.engine.models import Job, Task
from cvat_lite.errors import ArchiveError

from .archives import task_backup
from .restore_helpers import project_backup, snapshot

pytestmark = pytest.mark.django_db


def _restore(backup, tmp_path: Path, user):
    return backup_restore_task(owner=user, archive_path=backup.write(tmp_path / "b.zip"))


def _refused(backup, tmp_path: Path, user) -> str:
    before = snapshot()
    with pytest.raises(ArchiveError) as caught:
        _restore(backup, tmp_path, user)
    assert snapshot() == before
    return caught.value.message


def _without_frame_range(doc, *, start=None, frame_filter=None):
    for key in ("start_frame", "stop_frame", "frame_filter"):
        doc["data"].pop(key, None)
    if start is not None:
        doc["data"]["start_frame"] = start
    if frame_filter is not None:
        doc["data"]["frame_filter"] = frame_filter


def test_no_frame_range_means_every_image_of_the_manifest(tmp_path, user):
    backup = task_backup(6).edit_json("task.json", _without_frame_range)
    outcome = _restore(backup, tmp_path, user)
    data = outcome.obj.data
    assert (data.size, data.start_frame, data.stop_frame, data.frame_filter) == (6, 0, 5, "")
    assert outcome.message == TASK_RESTORED


def test_a_start_and_step_without_a_stop_end_at_the_last_reachable_image(tmp_path, user):
    backup = task_backup(6).edit_json(
        "task.json",
        lambda doc: (
            _without_frame_range(doc, start=1, frame_filter="step=2"),
            doc.update(jobs=[{"status": "annotation", "start_frame": 0, "stop_frame": 2}]),
        ),
    )
    backup.set_json("annotations.json", [{"version": 0, "tags": [], "shapes": [], "tracks": []}])
    data = _restore(backup, tmp_path, user).obj.data
    assert (data.size, data.start_frame, data.stop_frame) == (3, 1, 5)  # images 1, 3, 5


def test_frames_beyond_the_manifest_are_refused_once_it_is_counted(tmp_path, user):
    backup = task_backup(6).edit_json(
        "task.json",
        lambda doc: (_without_frame_range(doc), doc["jobs"][-1].update(stop_frame=6)),
    )
    message = _refused(backup, tmp_path, user)
    assert message == "task.json: 'jobs[1].stop_frame' is outside the task's frames 0..5."


def test_a_start_past_the_manifest_is_refused_naming_the_key(tmp_path, user):
    backup = task_backup(3).edit_json("task.json", lambda d: _without_frame_range(d, start=3))
    message = _refused(backup, tmp_path, user)
    assert message == START_PAST_IMAGES.format(what="task.json", start=3, count=3, last=2)
    assert "'data.start_frame'" in message


def _replicas(doc):
    doc.pop("consensus_replicas", None)
    first, second = doc["jobs"]
    doc["jobs"] = [
        first,
        {**first, "type": "consensus_replica"},
        {**first, "type": "consensus_replica"},
        second,
        {**second, "type": "consensus_replica"},
        {**second, "type": "consensus_replica"},
    ]


def test_replicas_are_counted_from_the_jobs_when_the_key_is_gone(tmp_path, user):
    backup = task_backup(6).edit_json("task.json", _replicas)
    backup.edit_json("annotations.json", lambda jobs: jobs.extend([jobs[0]] * 4))
    task = _restore(backup, tmp_path, user).obj
    assert task.consensus_replicas == 2
    assert Job.objects.filter(segment__task=task, type="consensus_replica").count() == 4


def test_an_old_consensus_replicas_key_is_kept():
    doc = task_backup(6).json("task.json")
    _replicas(doc)
    assert parse_task_json(doc).consensus_replicas == 2
    assert parse_task_json({**doc, "consensus_replicas": 3}).consensus_replicas == 3


def test_a_shape_score_is_kept(tmp_path, user):
    def scored(jobs):
        jobs[0]["shapes"][0]["score"] = 0.25

    backup = task_backup(6).edit_json("annotations.json", scored)
    assert backup.json("annotations.json")[0]["shapes"], "the fixture has a shape"
    task = _restore(backup, tmp_path, user).obj
    job = Job.objects.filter(segment__task=task).order_by("id").select_related("annotations")[0]
    assert job.annotations.shapes[0]["score"] == 0.25


def test_audio_intervals_are_refused_by_name(tmp_path, user):
    def intervals(jobs):
        jobs[1]["intervals"] = [{"start": 0, "stop": 10, "label": "cat"}]

    backup = task_backup(6).edit_json("annotations.json", intervals)
    message = _refused(backup, tmp_path, user)
    assert message == (
        "annotations.json: '[1].intervals' must be empty: audio interval annotations are not "
        "supported here."
    )
    empty = task_backup(6).edit_json("annotations.json", lambda j: j[1].update(intervals=[]))
    assert _restore(empty, tmp_path, user).message == TASK_RESTORED


def test_job_file_mapping_without_custom_segments_is_ignored_with_a_note(tmp_path, user):
    backup = task_backup(6).edit_json(
        "task.json", lambda doc: doc["data"].update(job_file_mapping=[["img0.png"]])
    )
    outcome = _restore(backup, tmp_path, user)
    assert outcome.message == f"{TASK_RESTORED} {NOTE_FILE_MAPPING.format(what='task.json')}"


def test_job_file_mapping_must_agree_with_custom_segments():
    doc = task_backup(6).json("task.json")
    doc["data"]["custom_segments"] = True
    doc["jobs"][0]["files"] = [f"img{i}.png" for i in range(0, 3)]
    doc["jobs"][1]["files"] = [f"img{i}.png" for i in range(3, 6)]
    doc["data"]["job_file_mapping"] = [doc["jobs"][0]["files"], doc["jobs"][1]["files"]]
    assert parse_task_json(doc).notes == []
    doc["data"]["job_file_mapping"] = [doc["jobs"][1]["files"], doc["jobs"][0]["files"]]
    with pytest.raises(ArchiveError) as caught:
        parse_task_json(doc)
    assert caught.value.message == FILE_MAPPING_MISMATCH.format(what="task.json")
    doc["data"]["job_file_mapping"] = [[1, 2]]
    with pytest.raises(ArchiveError) as caught:
        parse_task_json(doc)
    assert caught.value.message == (
        "task.json: 'data.job_file_mapping' must be a list of lists of strings."
    )


def test_file_system_storage_is_noted(tmp_path, user):
    backup = task_backup(3).edit_json(
        "task.json", lambda doc: doc["data"].update(storage_method="file_system")
    )
    outcome = _restore(backup, tmp_path, user)
    assert outcome.message == f"{TASK_RESTORED} {NOTE_FILE_SYSTEM.format(what='task.json')}"


def test_an_annotation_guide_is_noted_for_a_task_and_a_project(tmp_path, user):
    backup = task_backup(3)
    backup.members["annotation_guide.md"] = b"# Guide\n![x](assets/x.png)"
    backup.members["assets/x.png"] = b"png"
    backup.members["assets/y.png"] = b"png"
    outcome = _restore(backup, tmp_path, user)
    note = NOTE_GUIDE.format(name="annotation_guide.md", assets=2)
    assert outcome.message == f"{TASK_RESTORED} {note}"

    project = project_backup((2, False), (2, False))
    project.members["annotation_guide.md"] = b"# Project guide"
    project.members["task_1/annotation_guide.md"] = b"# Task guide"
    project.members["task_1/assets/a.jpg"] = b"jpg"
    outcome = backup_restore_project(owner=user, archive_path=project.write(tmp_path / "p.zip"))
    assert outcome.message == " ".join(
        [
            PROJECT_RESTORED.format(tasks="2 tasks"),
            NOTE_GUIDE.format(name="annotation_guide.md", assets=0),
            NOTE_GUIDE.format(name="task_1/annotation_guide.md", assets=1),
        ]
    )
    assert Task.objects.filter(project=outcome.obj).count() == 2


def test_a_share_task_written_as_share_restores_with_its_media(tmp_path, user):
    # CVAT up to 2.51 wrote tasks on a file share with storage "share" and their media inside.
    backup = task_backup(3).edit_json("task.json", lambda doc: doc["data"].update(storage="share"))
    outcome = _restore(backup, tmp_path, user)
    data = outcome.obj.data
    assert (data.storage, data.size) == ("local", 3)
    assert outcome.message == TASK_RESTORED
