"""Checks of the fields that projects and tasks share (contract 5.1): names, statuses, the
``source_storage`` / ``target_storage`` locations. Used by both services, so that neither
imports the other's module for them (tasks.py is imported by projects.py, to delete a project's
tasks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cvat_lite import errors
from cvat_lite.engine.choices import Location
from cvat_lite.engine.models import CloudStorage
from cvat_lite.engine.selectors import visible

if TYPE_CHECKING:
    from django.contrib.auth.models import User

STORAGE_INVALID = (
    '\'{field}\' must be null or {{"location": "local" | "cloud_storage", "cloud_storage_id": N}}.'
)
STORAGE_NEEDS_ID = "'{field}': the location 'cloud_storage' needs a cloud_storage_id."
STORAGE_NOT_FOUND = "'{field}': cloud storage {id} does not exist."
STATUS_INVALID = "'status' must be one of: annotation, validation, completed."
NAME_INVALID = "The name must be 1 to 256 characters long."


def storage_location_clean(*, field: str, value: Any, user: User) -> dict[str, Any] | None:
    """Validate a ``{location, cloud_storage_id}`` pair; the storage must be visible to
    ``user``. ``local`` drops the storage id."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise errors.BadRequest(STORAGE_INVALID.format(field=field))
    storage_id = value.get("cloud_storage_id")
    if storage_id is not None and (not isinstance(storage_id, int) or isinstance(storage_id, bool)):
        raise errors.BadRequest(STORAGE_INVALID.format(field=field))
    location = value.get("location") or (
        Location.CLOUD_STORAGE if storage_id is not None else Location.LOCAL
    )
    if location == Location.LOCAL:
        return {"location": Location.LOCAL.value, "cloud_storage_id": None}
    if location != Location.CLOUD_STORAGE:
        raise errors.BadRequest(STORAGE_INVALID.format(field=field))
    if storage_id is None:
        raise errors.BadRequest(STORAGE_NEEDS_ID.format(field=field))
    if not visible(CloudStorage.objects.filter(pk=storage_id), user).exists():
        raise errors.BadRequest(STORAGE_NOT_FOUND.format(field=field, id=storage_id))
    return {"location": Location.CLOUD_STORAGE.value, "cloud_storage_id": storage_id}
