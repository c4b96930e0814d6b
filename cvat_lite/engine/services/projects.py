"""Projects (contract 2, 5.1): a name, labels shared by its tasks, storage defaults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from cvat_lite import errors
from cvat_lite.engine.models import CloudStorage, Project, StatusChoice
from cvat_lite.engine.selectors import visible
from cvat_lite.engine.services.labels import labels_create, labels_patch

STORAGE_INVALID = (
    '\'{field}\' must be null or {{"location": "local" | "cloud_storage", "cloud_storage_id": N}}.'
)
STORAGE_NEEDS_ID = "'{field}': the location 'cloud_storage' needs a cloud_storage_id."
STORAGE_NOT_FOUND = "'{field}': cloud storage {id} does not exist."
STATUS_INVALID = "'status' must be one of: annotation, validation, completed."
NAME_INVALID = "The name must be 1 to 256 characters long."

PROJECT_FIELDS = ("name", "bug_tracker", "status", "source_storage", "target_storage")


def storage_location_clean(*, field: str, value: Any, user) -> dict[str, Any] | None:
    """Validate a ``{location, cloud_storage_id}`` pair; the storage must be visible to
    ``user``. ``local`` drops the storage id."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise errors.BadRequest(STORAGE_INVALID.format(field=field))
    storage_id = value.get("cloud_storage_id")
    if storage_id is not None and (not isinstance(storage_id, int) or isinstance(storage_id, bool)):
        raise errors.BadRequest(STORAGE_INVALID.format(field=field))
    location = value.get("location") or ("cloud_storage" if storage_id is not None else "local")
    if location == "local":
        return {"location": "local", "cloud_storage_id": None}
    if location != "cloud_storage":
        raise errors.BadRequest(STORAGE_INVALID.format(field=field))
    if storage_id is None:
        raise errors.BadRequest(STORAGE_NEEDS_ID.format(field=field))
    if not visible(CloudStorage.objects.filter(pk=storage_id), user).exists():
        raise errors.BadRequest(STORAGE_NOT_FOUND.format(field=field, id=storage_id))
    return {"location": "cloud_storage", "cloud_storage_id": storage_id}


@transaction.atomic
def project_create(
    *,
    owner,
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
def project_update(*, project: Project, user, changes: Mapping[str, Any]) -> Project:
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
    from cvat_lite.engine.services.tasks import task_delete

    for task in project.tasks.all():
        task_delete(task=task)
    project.delete()


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise errors.BadRequest(NAME_INVALID)
