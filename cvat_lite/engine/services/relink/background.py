"""Relinks too large to answer within an HTTP request (contract 7.5, docs/relink.md).

A relink of more images than ``settings.RELINK_SYNC_MAX_IMAGES`` — the task's, or together the
unlinked tasks' of a project — is checked quickly (``relink_precheck``: what is refused without
a listing is still a 400 at once) and queued as an ``update`` request (``update:data_meta`` /
``update:cloud_storage``), followed through ``GET /api/requests/{rq_id}``: its ``progress`` is
the share of rows verified, then saved; when it finishes, its ``result`` holds what the
synchronous answer would have held besides the data meta (the ``verification`` report; for a
project ``relinked``, ``failed``, ``verifications``); when it fails, ``result`` is the error
body (a ``relink_verification_failed`` with its ``extra``). A dry run above the limit runs in
the background too — its listing costs the same — and saves nothing. One relink of a task (or
project) runs at a time: the request id is the task's (project's), a second one while it is
queued or running is a 409 naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model

from cvat_lite import errors
from cvat_lite.engine.models import Image, Project, Task
from cvat_lite.engine.selectors import cloud_storage_for
from cvat_lite.engine.services.relink.service import (
    UNSET,
    RelinkOptions,
    check_available,
    data_meta_update,
    project_relink,
    project_unlinked_tasks,
    relink_precheck,
)
from cvat_lite.requests.models import Request, RequestAction
from cvat_lite.requests.services import RequestSpec, request_submit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TASK_SUBRESOURCE = "data_meta"
PROJECT_SUBRESOURCE = "cloud_storage"

MSG_TASK_GONE = "The task was deleted before it could be relinked."
MSG_PROJECT_GONE = "The project was deleted before it could be relinked."
MSG_USER_GONE = "The user who asked for the relink no longer exists."
MSG_RELINKED = "Relinked to cloud storage #{id}: {how}"
MSG_CHECKED = "Dry run, nothing saved: {how}"
MSG_PROJECT_DONE = "{relinked} task(s) relinked, {failed} not{dry_run}."


def relink_in_background(images: int) -> bool:
    """Whether a relink of ``images`` images runs as a request (202) rather than inline."""
    return images > settings.RELINK_SYNC_MAX_IMAGES


def task_relink_size(task: Task) -> int:
    """The images a relink of ``task`` verifies (its Image rows)."""
    return Image.objects.filter(data_id=task.data_id).count() if task.data_id else 0


def project_relink_size(project: Project) -> int:
    """The images a project relink verifies: those of its unlinked cloud tasks."""
    return Image.objects.filter(data__in=project_unlinked_tasks(project).values("data_id")).count()


def _request_id(target: str, target_id: int, subresource: str) -> str:
    return f"{RequestAction.UPDATE}-{target}-{target_id}-{subresource}"


def task_relink_submit(
    *,
    task: Task,
    user: User,
    cloud_storage_id: int,
    options: RelinkOptions,
    deleted_frames: Any = UNSET,
) -> Request:
    """Check what can be refused at once, then queue the relink of ``task``."""
    relink_precheck(
        task=task,
        user=user,
        cloud_storage_id=cloud_storage_id,
        options=options,
        deleted_frames=deleted_frames,
    )
    kwargs: dict[str, Any] = {
        "task_id": task.id,
        "user_id": user.id,
        "cloud_storage_id": cloud_storage_id,
        "options": dataclasses.asdict(options),
    }
    if deleted_frames is not UNSET:
        kwargs["deleted_frames"] = list(deleted_frames)
    return request_submit(
        owner=user,
        rq_id=_request_id("task", task.id, TASK_SUBRESOURCE),
        spec=RequestSpec(
            action=RequestAction.UPDATE,
            target="task",
            subresource=TASK_SUBRESOURCE,
            target_id=task.id,
            task_id=task.id,
            project_id=task.project_id,
            func=task_relink_job,
            kwargs=kwargs,
            params={"cloud_storage_id": cloud_storage_id, "dry_run": options.dry_run},
        ),
    )


def project_relink_submit(
    *, project: Project, user: User, cloud_storage_id: int, options: RelinkOptions
) -> Request:
    """Check the storage (as the synchronous project relink does first), then queue it."""
    check_available(cloud_storage_for(user, cloud_storage_id))
    return request_submit(
        owner=user,
        rq_id=_request_id("project", project.id, PROJECT_SUBRESOURCE),
        spec=RequestSpec(
            action=RequestAction.UPDATE,
            target="project",
            subresource=PROJECT_SUBRESOURCE,
            target_id=project.id,
            project_id=project.id,
            func=project_relink_job,
            kwargs={
                "project_id": project.id,
                "user_id": user.id,
                "cloud_storage_id": cloud_storage_id,
                "options": dataclasses.asdict(options),
            },
            params={"cloud_storage_id": cloud_storage_id, "dry_run": options.dry_run},
        ),
    )


def _user(user_id: int):
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise errors.BadRequest(MSG_USER_GONE, code="user_gone")
    return user


def task_relink_job(
    *,
    progress: Callable[[float], None],
    task_id: int,
    user_id: int,
    cloud_storage_id: int,
    options: dict[str, Any],
    deleted_frames: Sequence[int] | None = None,
):
    """The ``update:data_meta`` request's job: the relink, every check again."""
    from cvat_lite.requests.jobs import RequestResult

    task = Task.objects.select_related("data").filter(pk=task_id).first()
    if task is None or task.data is None:
        raise errors.BadRequest(MSG_TASK_GONE, code="task_gone")
    relink = RelinkOptions(**options)
    plan = data_meta_update(
        task=task,
        data=task.data,
        user=_user(user_id),
        cloud_storage_id=cloud_storage_id,
        deleted_frames=UNSET if deleted_frames is None else deleted_frames,
        relink=relink,
        progress=progress,
    )
    assert plan is not None and plan.verification is not None  # a relink to a storage
    verification = plan.verification
    message = MSG_CHECKED if relink.dry_run else MSG_RELINKED
    return RequestResult(
        result_id=task_id,
        message=message.format(id=cloud_storage_id, how=verification.how()),
        result={
            "task_id": task_id,
            "cloud_storage_id": cloud_storage_id,
            "dry_run": relink.dry_run,
            "verification": verification.report(),
        },
    )


def project_relink_job(
    *,
    progress: Callable[[float], None],
    project_id: int,
    user_id: int,
    cloud_storage_id: int,
    options: dict[str, Any],
):
    """The ``update:cloud_storage`` request's job: the project relink."""
    from cvat_lite.requests.jobs import RequestResult

    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise errors.BadRequest(MSG_PROJECT_GONE, code="project_gone")
    result = project_relink(
        project=project,
        user=_user(user_id),
        cloud_storage_id=cloud_storage_id,
        options=RelinkOptions(**options),
        progress=progress,
    )
    return RequestResult(
        result_id=project_id,
        message=MSG_PROJECT_DONE.format(
            relinked=len(result.relinked),
            failed=len(result.failed),
            dry_run=" (dry run, nothing saved)" if result.dry_run else "",
        ),
        result=result.body(),
    )
