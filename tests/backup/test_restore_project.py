"""Restoring project backups (contract 7.3, 7.4) at the service level: all or nothing."""

from __future__ import annotations

import pytest

from cvat_lite.backup.format import AttributeSpec, LabelSpec
from cvat_lite.backup.restore import (
    PROJECT_RESTORED,
    PROJECT_UNLINKED,
    backup_restore_project,
    backup_restore_task,
    counted,
)
from cvat_lite.engine.frames import local_media_root
from cvat_lite.engine.models import Label, Task
from cvat_lite.errors import ArchiveError, CvatLiteError

from .archives import LABELS
from .restore_helpers import project_backup, snapshot

pytestmark = pytest.mark.django_db


def _restore(backup, tmp_path, owner):
    return backup_restore_project(owner=owner, archive_path=backup.write(tmp_path / "p.zip"))


def _refused(backup, tmp_path, owner) -> CvatLiteError:
    path = backup.write(tmp_path / "p.zip")
    before = snapshot()
    with pytest.raises(CvatLiteError) as caught:
        backup_restore_project(owner=owner, archive_path=path)
    after = snapshot()
    assert (after.rows, after.files, after.cache_keys) == (
        before.rows, before.files, before.cache_keys
    )  # fmt: skip
    return caught.value


def test_a_mixed_project_restores_every_task_with_the_project_labels(tmp_path, user):
    backup = project_backup((3, False), (2, True), (1, False))
    outcome = _restore(backup, tmp_path, user)

    project = outcome.obj
    assert (project.name, project.owner, project.status) == ("zoo", user, "annotation")
    assert outcome.message == (
        PROJECT_RESTORED.format(tasks="3 tasks")
        + PROJECT_UNLINKED.format(tasks="1 lightweight task")
    )
    assert outcome.message == (
        "Restored the project with 3 tasks. 1 lightweight task not connected to a cloud storage "
        "yet: connect the project to the storage that holds their images."
    )
    assert not outcome.linked
    tasks = list(Task.objects.filter(project=project).order_by("id"))
    assert [(t.data.storage, t.data.size) for t in tasks] == [
        ("local", 3), ("cloud_storage", 2), ("local", 1)
    ]  # fmt: skip
    assert not Label.objects.filter(task__in=tasks).exists()  # the project's labels only
    project_labels = {label.name: label.id for label in Label.objects.filter(project=project)}
    assert sorted(project_labels) == ["cat", "dog", "eye", "nose", "person"]
    first_tag = tasks[0].segments.first().jobs.first().annotations.tags[0]
    assert first_tag["label_id"] == project_labels["cat"]
    for task, images in ((tasks[0], 3), (tasks[2], 1)):
        assert len(list(local_media_root(task.id).iterdir())) == images
        assert (local_media_root(task.id) / "img0.png").read_bytes() == backup.members[
            f"task_{tasks.index(task)}/data/img0.png"
        ]
    assert not local_media_root(tasks[1].id).exists()


def test_a_project_without_tasks(tmp_path, user):
    outcome = _restore(project_backup(), tmp_path, user)
    assert outcome.message == "Restored the project with 0 tasks."
    assert outcome.linked


def test_a_project_with_a_broken_task_creates_nothing(tmp_path, user):
    """The first task is fine (its media would be extracted), the second is not."""
    backup = project_backup((2, False), (2, False))
    backup.edit_json("task_1/annotations.json", lambda doc: doc[0]["tags"][0].update(label="horse"))
    error = _refused(backup, tmp_path, user)
    assert error.message == "task_1/annotations.json: label 'horse' is not defined."


def test_a_project_whose_last_task_fails_while_written_creates_nothing(tmp_path, user):
    backup = project_backup((2, False), (2, True), (2, False))
    backup.edit_json("task_2/annotations.json", lambda doc: doc[1]["tracks"][0].update(shapes=[]))
    error = _refused(backup, tmp_path, user)
    assert error.message == (
        "task_2/annotations.json: job 1: tracks[0]: a track needs at least one shape."
    )


def test_task_labels_must_be_the_project_labels(tmp_path, user):
    backup = project_backup((1, False), labels=[LABELS[1], LABELS[2]])
    error = _refused(backup, tmp_path, user)
    assert isinstance(error, ArchiveError)
    assert error.message == "task_0/task.json: the label 'cat' is not a label of the project."


def test_task_attributes_must_be_in_the_project(tmp_path, user):
    labels = [LabelSpec(name="cat", attributes=[]), *LABELS[1:]]
    error = _refused(project_backup((1, False), labels=labels), tmp_path, user)
    assert error.message == (
        "task_0/task.json: the attribute 'fluffy' of the label 'cat' is not defined in the project."
    )


def test_task_sublabels_must_be_in_the_project(tmp_path, user):
    person = LabelSpec(
        name="person",
        type="skeleton",
        sublabels=[
            LabelSpec(
                name="nose",
                type="points",
                attributes=[AttributeSpec(name="visible", input_type="text", values=[""])],
            )
        ],
    )
    error = _refused(project_backup((1, False), labels=[*LABELS[:2], person]), tmp_path, user)
    assert error.message == "task_0/task.json: the label 'eye' is not a label of the project."


def test_a_task_archive_is_not_a_project_archive(tmp_path, user):
    from .archives import task_backup

    error = _refused(task_backup(1), tmp_path, user)
    assert error.message == "The archive has no project.json: it is not a project backup."


def test_a_project_archive_is_not_a_task_archive(tmp_path, user):
    path = project_backup((1, False)).write(tmp_path / "p.zip")
    with pytest.raises(ArchiveError) as caught:
        backup_restore_task(owner=user, archive_path=path)
    assert caught.value.message == "The archive has no task.json."


def test_counted_speaks_plurals():
    assert [counted(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
