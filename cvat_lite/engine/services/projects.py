"""Projects (contract 2, 5.1): a name, labels shared by its tasks, storage defaults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction

from cvat_lite import errors
from cvat_lite.engine.models import Project, StatusChoice
from cvat_lite.engine.services.fields import (
    NAME_INVALID,
    STATUS_INVALID,
    storage_location_clean,
)
from cvat_lite.engine.services.fields import (  # the messages of the project endpoints
    STORAGE_INVALID as STORAGE_INVALID,
)
from cvat_lite.engine.services.fields import (
    STORAGE_NEEDS_ID as STORAGE_NEEDS_ID,
)
from cvat_lite.engine.services.fields import (
    STORAGE_NOT_FOUND as STORAGE_NOT_FOUND,
)
from cvat_lite.engine.services.labels import labels_create, labels_patch
from cvat_lite.engine.services.tasks import task_delete

if TYPE_CHECKING:
    from django.contrib.auth.models import User

PROJECT_FIELDS = ("name", "bug_tracker", "status", "source_storage", "target_storage")


@transaction.atomic
def project_create(
    *,
    owner: User,
    name: str,
    labels: Sequence[Mapping[str, Any]] = (),
    bug_tracker: str = "",
    status: str = StatusChoice.ANNOTATION,
    source_storage: Mapping[str, Any] | None = None,
    target_storage: Mapping[str, Any] | None = None,
) -> Project:
    _check_name(name)
    if status not in StatusChoice.values:
        raise errors.BadRequest(STATUS_INVALID)
    project = Project.objects.create(
        owner=owner,
        name=name,
        status=status,
        bug_tracker=bug_tracker or "",
        source_storage=storage_location_clean(
            field="source_storage", value=source_storage, user=owner
        ),
        target_storage=storage_location_clean(
            field="target_storage", value=target_storage, user=owner
        ),
    )
    labels_create(labels=labels, project=project)
    return project


@transaction.atomic
def project_update(*, project: Project, user: User, changes: Mapping[str, Any]) -> Project:
    """Apply a PATCH: ``name``, ``bug_tracker``, ``status``, storages, nested ``labels``."""
    for field in PROJECT_FIELDS:
        if field not in changes:
            continue
        value = changes[field]
        if field == "name":
            _check_name(value)
        elif field == "status" and value not in StatusChoice.values:
            raise errors.BadRequest(STATUS_INVALID)
        elif field in ("source_storage", "target_storage"):
            value = storage_location_clean(field=field, value=value, user=user)
        setattr(project, field, value if value is not None or "storage" in field else "")
    project.save()
    if "labels" in changes:
        labels_patch(labels=changes["labels"], project=project)
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Delete a project with its tasks (their data and files included)."""
    for task in project.tasks.all():
        task_delete(task=task)
    project.delete()


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise errors.BadRequest(NAME_INVALID)
