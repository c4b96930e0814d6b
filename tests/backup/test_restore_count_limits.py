"""The count limits of an import (contract 9; docs/security.md, "Import limits"): jobs, labels,
attributes, attribute values, annotation objects, points and track shapes. Each is set small
through its setting; an archive one over the limit is refused with the limit and the count,
leaving nothing behind; one exactly at the limit restores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cvat_lite.backup.restore import backup_restore_project, backup_restore_task
from cvat_lite.backup.verify import backup_archive_verify
from cvat_lite.engine.models import Job, Task
from cvat_lite.errors import ArchiveError

from .archives import Backup, task_backup
from .restore_helpers import project_backup, snapshot

pytestmark = pytest.mark.django_db


def _restore(backup: Backup, tmp_path, owner, *, project: bool = False):
    path = backup.write(tmp_path / "b.zip")
    restore = backup_restore_project if project else backup_restore_task
    return restore(owner=owner, archive_path=path)


def _refused(backup: Backup, tmp_path, owner, *, project: bool = False) -> str:
    before = snapshot()
    with pytest.raises(ArchiveError) as caught:
        _restore(backup, tmp_path, owner, project=project)
    after = snapshot()
    assert (after.rows, after.files, after.cache_keys) == (
        before.rows, before.files, before.cache_keys
    )  # fmt: skip
    return caught.value.message


def _task(change: Callable[[Backup], Any] | None = None) -> Backup:
    """A 3-image task backup: 2 jobs; labels cat (1 attribute, 1 value), dog and the skeleton
    person (2 sublabels): 5 labels; per job a tag, a skeleton of 2 elements and a track of one
    4-number rectangle: 6 objects, 12 in all."""
    backup = task_backup(3)
    if change is not None:
        change(backup)
    return backup


def _edit(name: str, change: Callable[[Any], None]) -> Callable[[Backup], Any]:
    return lambda backup: backup.edit_json(name, change)


def test_jobs_over_the_limit_are_refused_and_at_it_restored(tmp_path, user, settings):
    settings.BACKUP_MAX_JOBS = 1
    message = _refused(_task(), tmp_path, user)
    assert message == "task.json: 'jobs' lists 2 jobs; the limit is 1."
    settings.BACKUP_MAX_JOBS = 2
    task = _restore(_task(), tmp_path, user).obj
    assert Job.objects.filter(segment__task=task).count() == 2


def test_labels_and_sublabels_over_the_limit_are_refused(tmp_path, user, settings):
    settings.BACKUP_MAX_LABELS = 4
    message = _refused(_task(), tmp_path, user)
    assert message == "task.json: the labels and sublabels number more than 4."
    settings.BACKUP_MAX_LABELS = 5
    task = _restore(_task(), tmp_path, user).obj
    assert Task.objects.filter(id=task.id).exists()


def test_project_labels_over_the_limit_are_refused(tmp_path, user, settings):
    settings.BACKUP_MAX_LABELS = 4
    message = _refused(project_backup((2, False)), tmp_path, user, project=True)
    assert message == "project.json: the labels and sublabels number more than 4."
    settings.BACKUP_MAX_LABELS = 5
    _restore(project_backup((2, False)), tmp_path, user, project=True)


def _more_attributes(doc: dict) -> None:
    cat = doc["labels"][0]
    cat["attributes"].append({**cat["attributes"][0], "name": "grumpy"})


def test_attributes_of_a_label_over_the_limit_are_refused(tmp_path, user, settings):
    settings.BACKUP_MAX_ATTRIBUTES = 1
    message = _refused(_task(_edit("task.json", _more_attributes)), tmp_path, user)
    assert message == "task.json: 'labels[0].attributes' lists 2 attributes; the limit is 1."
    settings.BACKUP_MAX_ATTRIBUTES = 2
    _restore(_task(_edit("task.json", _more_attributes)), tmp_path, user)


def _more_values(doc: dict) -> None:
    doc["labels"][0]["attributes"][0]["values"] = ["false", "true"]


def test_values_of_an_attribute_over_the_limit_are_refused(tmp_path, user, settings):
    settings.BACKUP_MAX_ATTRIBUTE_VALUES = 1
    message = _refused(_task(_edit("task.json", _more_values)), tmp_path, user)
    assert message == (
        "task.json: 'labels[0].attributes[0].values' lists 2 values; the limit is 1."
    )
    settings.BACKUP_MAX_ATTRIBUTE_VALUES = 2
    _restore(_task(_edit("task.json", _more_values)), tmp_path, user)


OBJECTS_MESSAGE = (
    "{what}: the archive has more than {limit} annotation objects (tags, shapes, tracks, the "
    "shapes of tracks and skeleton elements)."
)


def test_annotation_objects_over_the_limit_are_refused(tmp_path, user, settings):
    settings.BACKUP_MAX_OBJECTS = 11
    message = _refused(_task(), tmp_path, user)
    assert message == OBJECTS_MESSAGE.format(what="annotations.json", limit=11)
    settings.BACKUP_MAX_OBJECTS = 12
    task = _restore(_task(), tmp_path, user).obj
    assert Job.objects.filter(segment__task=task).count() == 2


def test_the_object_limit_is_on_the_whole_project_archive(tmp_path, user, settings):
    # Two tasks of 2 images (2 jobs each): 12 objects each, 24 in the archive.
    settings.BACKUP_MAX_OBJECTS = 23
    message = _refused(project_backup((2, False), (2, True)), tmp_path, user, project=True)
    assert message == OBJECTS_MESSAGE.format(what="task_1/annotations.json", limit=23)
    path = project_backup((2, False), (2, True)).write(tmp_path / "v.zip")
    details = [check.detail for check in backup_archive_verify(path).checks if not check.ok]
    assert details == [message]  # verify counts the archive's objects the same way
    settings.BACKUP_MAX_OBJECTS = 24
    project = _restore(project_backup((2, False), (2, True)), tmp_path, user, project=True).obj
    assert project.tasks.count() == 2


def test_points_of_a_shape_over_the_limit_are_refused(tmp_path, user, settings):
    settings.BACKUP_MAX_POINTS = 3
    message = _refused(_task(), tmp_path, user)
    # The skeleton's elements have 2 numbers each, the track's rectangle 4.
    assert message == (
        "annotations.json: '[0].tracks[0].shapes[0].points' lists 4 numbers; the limit is 3."
    )
    settings.BACKUP_MAX_POINTS = 4
    _restore(_task(), tmp_path, user)


def _second_track_shape(jobs: list) -> None:
    shapes = jobs[0]["tracks"][0]["shapes"]
    shapes.append({**shapes[0], "frame": 1})


def test_shapes_of_a_track_over_the_limit_are_refused(tmp_path, user, settings):
    settings.BACKUP_MAX_TRACK_SHAPES = 1
    message = _refused(_task(_edit("annotations.json", _second_track_shape)), tmp_path, user)
    assert message == "annotations.json: '[0].tracks[0].shapes' lists 2 shapes; the limit is 1."
    settings.BACKUP_MAX_TRACK_SHAPES = 2
    _restore(_task(_edit("annotations.json", _second_track_shape)), tmp_path, user)
