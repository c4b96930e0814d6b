"""Restores that must be refused (contract 9) at the service level: the cross-file checks made
before anything is written, and failures after rows and files were written. Each asserts the
exact message and that nothing was left behind. (The archive-level cases of contract 9 go through
the API in tests/api/test_backup_import_refusals.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cvat_lite.backup.format import build_annotations_json
from cvat_lite.backup.restore import backup_restore_task
from cvat_lite.errors import ArchiveError, CvatLiteError

from .archives import Backup, job_annotations, task_backup
from .restore_helpers import snapshot

pytestmark = pytest.mark.django_db


def _refused(backup: Backup, tmp_path, owner, *, raw: dict | None = None) -> CvatLiteError:
    path = tmp_path / "b.zip"
    if raw is None:
        backup.write(path)
    else:
        backup.write_raw(path, **raw)
    before = snapshot()
    with pytest.raises(CvatLiteError) as caught:
        backup_restore_task(owner=owner, archive_path=path)
    after = snapshot()
    assert after.rows == before.rows
    assert after.files == before.files
    assert after.cache_keys == before.cache_keys
    return caught.value


def _edit_task(change: Callable[[dict], None], images: int = 3, **kwargs) -> Backup:
    return task_backup(images, **kwargs).edit_json("task.json", change)


def _set(path: str, value) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        *parents, last = path.split(".")
        target = doc
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value

    return change


CASES = {
    "manifest shorter than the frames": (
        _edit_task(_set("data.stop_frame", 5)),
        "'data/manifest.jsonl' lists 3 images, but task.json says the task's frames go up to "
        "image 5.",
    ),
    "job files in the wrong order": (
        _edit_task(_set("jobs.1.files", ["img2.png", "img1.png"])),
        "task.json: 'jobs[1].files[0]' is 'img2.png', but the manifest has 'img1.png' there.",
    ),
    "job files of the wrong count": (
        _edit_task(_set("jobs.1.files", ["img1.png"])),
        "task.json: 'jobs[1].files' lists 1 files for a job of 2 frames.",
    ),
    "consensus replica without its annotation job": (
        _edit_task(_set("jobs.1.type", "consensus_replica")),
        "task.json: 'jobs[1]' is a consensus replica without an annotation job of the same "
        "frames before it.",
    ),
    "ground-truth frames outside the job": (
        _edit_task(
            lambda doc: doc["jobs"].append(
                {
                    "status": "annotation",
                    "type": "ground_truth",
                    "start_frame": 1,
                    "stop_frame": 1,
                    "frames": [0, 1],
                }
            )
        ).set_json("annotations.json", build_annotations_json([job_annotations(0)] * 3)),
        "task.json: 'jobs[2].frames' must be within the job's start and stop frames.",
    ),
    "annotation beyond the task's frames": (
        task_backup(3).edit_json("annotations.json", _set("1.tags.0.frame", 3)),
        "annotations.json: job 1 has an object on frame 3, outside the task's frames 0..2.",
    ),
    "annotation beyond the task's frames, in a track shape": (
        task_backup(3).edit_json("annotations.json", _set("0.tracks.0.shapes.0.frame", 40)),
        "annotations.json: job 0 has an object on frame 40, outside the task's frames 0..2.",
    ),
    "origin prefix with '..'": (
        _edit_task(_set("cloud_storage.prefix", "a/../b"), lightweight=True),
        "task.json: 'cloud_storage.prefix' contains a '..' segment.",
    ),
    "object key too long with the origin's prefix": (
        _edit_task(_set("cloud_storage.prefix", "p" * 1020), lightweight=True),
        "'data/manifest.jsonl': the object key 'pppp",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_inconsistent_archives_are_refused_before_anything_is_written(tmp_path, user, case):
    backup, message = CASES[case]
    error = _refused(backup, tmp_path, user)
    assert isinstance(error, ArchiveError)
    if case.startswith("object key too long"):
        assert error.message.startswith(message)
        assert error.message.endswith(
            "(the origin's prefix and the name) is longer than 1024 bytes."
        )
    else:
        assert error.message == message


def test_too_many_images(tmp_path, user, settings):
    settings.MAX_TASK_IMAGES = 2
    error = _refused(task_backup(3), tmp_path, user)
    assert error.message == "'data/manifest.jsonl' lists 3 images; the limit is 2."


def test_a_failure_after_rows_and_media_were_written_leaves_nothing(tmp_path, user):
    """A track without shapes passes the archive format but not the annotation store: the
    restore fails while writing annotations, after the task, its data, images and jobs were
    created and the media extracted."""
    backup = task_backup(3).edit_json("annotations.json", _set("1.tracks.0.shapes", []))
    error = _refused(backup, tmp_path, user)
    assert error.message == "annotations.json: job 1: tracks[0]: a track needs at least one shape."


def test_a_checksum_mismatch_in_the_media_leaves_nothing(tmp_path, user):
    backup = task_backup(3)
    error = _refused(
        backup, tmp_path, user, raw={"checksums": "auto", "tamper": {"data/img2.png": b"evil"}}
    )
    assert error.message == "The archive member 'data/img2.png' does not match its checksum."


def test_a_checksum_mismatch_in_a_member_that_is_not_restored(tmp_path, user):
    """CVAT's extra members (``task/``, the annotation guide) are ignored but still verified."""
    backup = task_backup(2)
    backup.members["task/notes.txt"] = b"hello"
    error = _refused(
        backup, tmp_path, user, raw={"checksums": "auto", "tamper": {"task/notes.txt": b"bye"}}
    )
    assert error.message == "The archive member 'task/notes.txt' does not match its checksum."


def test_labels_the_label_service_refuses(tmp_path, user):
    def change(doc: dict) -> None:
        doc["labels"][1]["attributes"] = [
            {"name": "size", "input_type": "number", "values": ["1", "2"], "mutable": False}
        ]

    error = _refused(task_backup(2).edit_json("task.json", change), tmp_path, user)
    assert error.message == (
        "Attribute 'size' (number) needs three values [min, max, step] with min <= max and "
        "step > 0."
    )
