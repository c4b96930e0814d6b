"""Restoring task and project backups (contract 7.4, 9).

``backup_restore_task`` / ``backup_restore_project`` open the archive with the limits of the
settings (``restore_limits``), check everything (``restore_plan``: layout, documents, manifest,
their consistency; a project's tasks all of them first), extract the media of full backups to
a staging folder (``restore_write``), verify the checksums of the members not read yet, then
create every row in ONE transaction and move the media into place. Any failure leaves nothing:
the transaction rolls back and the staged and placed folders are removed; no cache entry is
made.

A full backup becomes a ``local`` task. A lightweight one becomes a ``cloud_storage`` task
without a storage (no cloud access for the restore); afterwards, if the archive names its
origin, ``relink.relink_auto`` links it to a storage of the importing user with that origin
whose listing has the manifest's objects. The outcome's message says which happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from cvat_lite.backup.archive import ArchiveReader
from cvat_lite.backup.format import guide_note, read_project_json, task_folders
from cvat_lite.backup.limits import Limits
from cvat_lite.backup.relink import relink_auto
from cvat_lite.backup.restore_plan import TaskPlan, plan_task
from cvat_lite.backup.restore_write import Workspace, label_items, stage_media, write_task
from cvat_lite.engine.models import CloudStorage, Project, Task
from cvat_lite.engine.services.projects import project_create

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger("cvat_lite.backup")

# Request messages are read by people (the web page shows them as they are): names, plurals, no
# API routes. docs/relink.md says how to connect a restored task from the API.
TASK_RESTORED = "Restored with the media from the backup."
TASK_LINKED = "Restored and connected to the cloud storage “{name}”."
TASK_UNLINKED = (
    "Restored, but not connected to a cloud storage yet: connect it to the storage that holds "
    "its images."
)
PROJECT_RESTORED = "Restored the project with {tasks}."
PROJECT_LINKED = " {tasks} connected to a cloud storage."
PROJECT_UNLINKED = (
    " {tasks} not connected to a cloud storage yet: connect the project to the storage that "
    "holds their images."
)


def counted(count: int, noun: str) -> str:
    """``"1 task"``, ``"2 tasks"``, ``"0 tasks"``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# Shares of the progress bar: checking the archive, extracting media, writing rows.
CHECKED, STAGED, WRITTEN = 0.05, 0.75, 0.97


@dataclass(frozen=True)
class RestoreOutcome:
    obj: Task | Project
    linked: bool  # every lightweight task is linked to a cloud storage (True when none is)
    message: str

    @property
    def id(self) -> int:
        return self.obj.id


def restore_limits() -> Limits:
    """The archive limits of the settings (``CVAT_LITE_BACKUP_MAX_*``)."""
    return Limits(
        max_members=settings.BACKUP_MAX_MEMBERS,
        max_member_size=settings.BACKUP_MAX_MEMBER_SIZE,
        max_total_size=settings.BACKUP_MAX_TOTAL_SIZE,
        max_ratio=settings.BACKUP_MAX_RATIO,
        max_annotations_size=settings.BACKUP_MAX_ANNOTATIONS_SIZE,
        max_task_json_size=settings.BACKUP_MAX_TASK_JSON_SIZE,
        max_jobs=settings.BACKUP_MAX_JOBS,
        max_labels=settings.BACKUP_MAX_LABELS,
        max_attributes=settings.BACKUP_MAX_ATTRIBUTES,
        max_attribute_values=settings.BACKUP_MAX_ATTRIBUTE_VALUES,
        max_objects=settings.BACKUP_MAX_OBJECTS,
        max_points=settings.BACKUP_MAX_POINTS,
        max_track_shapes=settings.BACKUP_MAX_TRACK_SHAPES,
    )


def _silent(fraction: float, force: bool = False) -> None:
    return None


def backup_restore_task(
    *, owner: User, archive_path: str | PathLike[str], progress: Callable | None = None
) -> RestoreOutcome:
    """Restore the task backup at ``archive_path`` as a new task of ``owner``."""
    report = progress or _silent
    with ArchiveReader(archive_path, limits=restore_limits()) as reader:
        plan = plan_task(reader)
        report(CHECKED)
        with Workspace() as workspace:
            staged = _stage(reader, [plan], workspace, report)
            with transaction.atomic():
                task = write_task(
                    reader,
                    plan,
                    owner=owner,
                    project=None,
                    staged=staged[0],
                    workspace=workspace,
                    progress=_part(report, STAGED, WRITTEN),
                )
    notes = plan.spec.notes
    if not plan.lightweight:
        return RestoreOutcome(task, True, _noted(TASK_RESTORED, notes))
    storage = _relink(task, plan, owner)
    report(1.0, force=True)
    if storage is None:
        return RestoreOutcome(task, False, _noted(TASK_UNLINKED, notes))
    message = TASK_LINKED.format(name=storage.display_name)
    return RestoreOutcome(task, True, _noted(message, notes))


def backup_restore_project(
    *, owner: User, archive_path: str | PathLike[str], progress: Callable | None = None
) -> RestoreOutcome:
    """Restore the project backup at ``archive_path`` (project.json and its ``task_<i>/``
    folders) as a new project of ``owner``, all or nothing."""
    report = progress or _silent
    with ArchiveReader(archive_path, limits=restore_limits()) as reader:
        spec = read_project_json(reader)
        plans: list[TaskPlan] = []
        for prefix in task_folders(reader):
            before = sum(plan.object_count for plan in plans)
            plans.append(
                plan_task(reader, prefix, project_labels=spec.labels, objects_before=before)
            )
        notes = [note for plan in plans for note in plan.spec.notes]
        if (guide := guide_note(reader)) is not None:
            notes.insert(0, guide)  # the project's own guide first
        report(CHECKED)
        with Workspace() as workspace:
            staged = _stage(reader, plans, workspace, report)
            with transaction.atomic():
                project = project_create(
                    owner=owner,
                    name=spec.name,
                    labels=label_items(spec.labels),
                    bug_tracker=spec.bug_tracker,
                    status=spec.status,
                )
                tasks = []
                for index, (plan, folder) in enumerate(zip(plans, staged, strict=True)):
                    share = (WRITTEN - STAGED) / len(plans)
                    start = STAGED + index * share
                    tasks.append(
                        write_task(
                            reader,
                            plan,
                            owner=owner,
                            project=project,
                            staged=folder,
                            workspace=workspace,
                            progress=_part(report, start, start + share),
                        )
                    )
    linked = unlinked = 0
    for task, plan in zip(tasks, plans, strict=True):
        if plan.lightweight:
            if _relink(task, plan, owner) is None:
                unlinked += 1
            else:
                linked += 1
    report(1.0, force=True)
    message = PROJECT_RESTORED.format(tasks=counted(len(tasks), "task"))
    if linked:
        message += PROJECT_LINKED.format(tasks=counted(linked, "lightweight task"))
    if unlinked:
        message += PROJECT_UNLINKED.format(tasks=counted(unlinked, "lightweight task"))
    return RestoreOutcome(project, unlinked == 0, _noted(message, notes))


def _noted(message: str, notes: list[str]) -> str:
    """``message`` followed by what the restore left out of the archive (``TaskSpec.notes``):
    CVAT ignores such keys silently; the user hears of it here."""
    return " ".join([message, *notes])


def _part(report: Callable, start: float, end: float) -> Callable[[float], None]:
    def progress(fraction: float) -> None:
        report(start + (end - start) * fraction)

    return progress


def _stage(
    reader: ArchiveReader, plans: list[TaskPlan], workspace: Workspace, report: Callable
) -> list[Path | None]:
    """Extract the media of every full task (None for lightweight ones), then verify the
    checksums of the members not read yet."""
    total = sum(plan.media_bytes for plan in plans) or 1
    done = 0
    staged: list[Path | None] = []
    for index, plan in enumerate(plans):
        if plan.lightweight:
            staged.append(None)
            continue
        folder = workspace.folder(index)

        def staged_progress(written: int, before: int = done) -> None:
            report(CHECKED + (STAGED - CHECKED) * (before + written) / total)

        stage_media(reader, plan, folder, staged_progress)
        done += plan.media_bytes
        staged.append(folder)
    reader.verify_checksums()
    report(STAGED)
    return staged


def _relink(task: Task, plan: TaskPlan, owner: User) -> CloudStorage | None:
    """Auto-relink a restored lightweight task; None when it stays unlinked. The task is
    committed already: a failure here leaves it unlinked (logged), it does not fail the
    restore."""
    origin = plan.spec.origin
    if origin is None:
        return None
    try:
        return relink_auto(task=task, owner=owner, origin=origin)
    except Exception:
        logger.exception("Auto-relink of restored task %s failed", task.id)
        return None
