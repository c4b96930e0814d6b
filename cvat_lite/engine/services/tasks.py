"""Tasks (contract 2, 5.1): create, change, move into a project, delete.

A task in a project uses the project's labels and has none of its own. Moving a task into a
project maps its labels (and attributes, sublabels) to the project's by name and rewrites its
annotations accordingly; a label the project lacks refuses the move.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from cvat_lite import errors
from cvat_lite.engine.models import Label, Project, Segment, StatusChoice, Task
from cvat_lite.engine.selectors import visible
from cvat_lite.engine.services.annotations import annotations_remap
from cvat_lite.engine.services.fields import (
    NAME_INVALID,
    STATUS_INVALID,
    storage_location_clean,
)
from cvat_lite.engine.services.labels import labels_create, labels_of, labels_patch

if TYPE_CHECKING:
    from django.contrib.auth.models import User
from cvat_lite.store import shared_store

PROJECT_NOT_FOUND = "Project {id} does not exist."
TASK_LABELS_IN_PROJECT = "A task in a project uses the project's labels and cannot have its own."
TASK_LEAVE_PROJECT = "A task cannot be taken out of its project."
TASK_LABEL_NOT_IN_PROJECT = "The project has no label '{name}' for the task's label of that name."
TASK_ATTRIBUTE_NOT_IN_PROJECT = "The project's label '{label}' has no attribute '{name}'."
SEGMENTS_FIXED = "'{field}' cannot change once the task has jobs."
SUBSET_TOO_LONG = "'subset' must be at most 64 characters long."
NUMBER_INVALID = "'{field}' must be a non-negative integer."

TASK_FIELDS = (
    "name",
    "bug_tracker",
    "subset",
    "status",
    "segment_size",
    "overlap",
    "source_storage",
    "target_storage",
)


def task_files_dir(task_id: int) -> Path:
    """Where a task's files live on disk (local media, caches)."""
    return Path(settings.DATA_DIR) / "tasks" / str(task_id)


@transaction.atomic
def task_create(
    *,
    owner: User,
    name: str,
    project_id: int | None = None,
    labels: Sequence[Mapping[str, Any]] = (),
    segment_size: int = 0,
    overlap: int | None = None,
    subset: str = "",
    bug_tracker: str = "",
    status: str = StatusChoice.ANNOTATION,
    source_storage: Mapping[str, Any] | None = None,
    target_storage: Mapping[str, Any] | None = None,
) -> Task:
    project = _project(project_id, owner) if project_id is not None else None
    if project is not None and labels:
        raise errors.BadRequest(TASK_LABELS_IN_PROJECT)
    task = Task(owner=owner, project=project)
    _assign(
        task,
        {
            "name": name,
            "segment_size": segment_size,
            "overlap": overlap,
            "subset": subset,
            "bug_tracker": bug_tracker,
            "status": status,
            "source_storage": source_storage,
            "target_storage": target_storage,
        },
        user=owner,
    )
    task.save()
    if project is None:
        labels_create(labels=labels, task=task)
    return task


@transaction.atomic
def task_update(*, task: Task, user: User, changes: Mapping[str, Any]) -> Task:
    """Apply a PATCH: plain fields, ``project_id`` (move into a project), nested ``labels``."""
    has_jobs = Segment.objects.filter(task=task).exists()
    for field in ("segment_size", "overlap"):
        if field in changes and has_jobs and changes[field] != getattr(task, field):
            raise errors.BadRequest(SEGMENTS_FIXED.format(field=field))
    _assign(task, {k: v for k, v in changes.items() if k in TASK_FIELDS}, user=user)
    if "project_id" in changes and changes["project_id"] != task.project_id:
        if changes["project_id"] is None:
            raise errors.BadRequest(TASK_LEAVE_PROJECT)
        _move_to_project(task, _project(changes["project_id"], user))
    task.save()
    if "labels" in changes:
        if task.project_id is not None:
            if changes["labels"]:
                raise errors.BadRequest(TASK_LABELS_IN_PROJECT)
        else:
            labels_patch(labels=changes["labels"], task=task)
    return task


@transaction.atomic
def task_delete(*, task: Task) -> None:
    """Delete a task with its jobs, annotations, labels, data (images) and files."""
    data = task.data
    files, prefix = task_files_dir(task.id), f"tasks/{task.id}/"
    task.delete()
    if data is not None:
        data.delete()
    transaction.on_commit(lambda: _files_remove(files, prefix))


def _files_remove(files: Path, prefix: str) -> None:
    shutil.rmtree(files, ignore_errors=True)
    store = shared_store()
    if not store.is_local:
        store.delete_prefix(prefix)


def _project(project_id: Any, user: User) -> Project:
    if not isinstance(project_id, int) or isinstance(project_id, bool):
        raise errors.BadRequest(PROJECT_NOT_FOUND.format(id=project_id))
    project = visible(Project.objects.filter(pk=project_id), user).first()
    if project is None:
        raise errors.BadRequest(PROJECT_NOT_FOUND.format(id=project_id))
    return project


def _assign(task: Task, values: Mapping[str, Any], *, user: User) -> None:
    for field, value in values.items():
        if field == "name" and (not isinstance(value, str) or not 1 <= len(value) <= 256):
            raise errors.BadRequest(NAME_INVALID)
        if field == "status" and value not in StatusChoice.values:
            raise errors.BadRequest(STATUS_INVALID)
        if (
            field == "subset"
            and value is not None
            and (not isinstance(value, str) or len(value) > 64)
        ):
            raise errors.BadRequest(SUBSET_TOO_LONG)
        if field in ("segment_size", "overlap") and value is not None and not _count(value):
            raise errors.BadRequest(NUMBER_INVALID.format(field=field))
        if field in ("source_storage", "target_storage"):
            value = storage_location_clean(field=field, value=value, user=user)
        elif field in ("subset", "bug_tracker") and value is None:
            value = ""
        elif field == "segment_size" and value is None:
            value = 0
        setattr(task, field, value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _move_to_project(task: Task, project: Project) -> None:
    """Map the task's labels to the project's by name; rewrite its annotations."""
    label_map: dict[int, int] = {}
    spec_map: dict[int, int] = {}
    targets = {label.name: label for label in labels_of(project=project)}
    for label in labels_of(task=task).prefetch_related("attributes", "sublabels"):
        target = targets.get(label.name)
        if target is None:
            raise errors.BadRequest(TASK_LABEL_NOT_IN_PROJECT.format(name=label.name))
        _map_label(label, target, label_map, spec_map)
        sub_targets = {sub.name: sub for sub in target.sublabels.all()}
        for sub in label.sublabels.all():
            sub_target = sub_targets.get(sub.name)
            if sub_target is None:
                raise errors.BadRequest(TASK_LABEL_NOT_IN_PROJECT.format(name=sub.name))
            _map_label(sub, sub_target, label_map, spec_map)
    annotations_remap(task=task, label_map=label_map, spec_map=spec_map)
    if task.project_id is None:
        Label.objects.filter(task=task).delete()
    task.project = project


def _map_label(
    label: Label, target: Label, label_map: dict[int, int], spec_map: dict[int, int]
) -> None:
    label_map[label.id] = target.id
    target_attrs = {attr.name: attr.id for attr in target.attributes.all()}
    for attr in label.attributes.all():
        if attr.name not in target_attrs:
            raise errors.BadRequest(
                TASK_ATTRIBUTE_NOT_IN_PROJECT.format(label=target.name, name=attr.name)
            )
        spec_map[attr.id] = target_attrs[attr.name]
