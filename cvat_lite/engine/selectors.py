"""Reads shared by the API: what a user may see (contract 3).

Rule: superusers see everything; other users see only what they own. Another user's object is
answered with 404 everywhere (its existence is not revealed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.db.models import Model, QuerySet

from cvat_lite import errors
from cvat_lite.engine.models import CloudStorage, Job, Label, Project, Task

if TYPE_CHECKING:
    from django.contrib.auth.models import User

M = TypeVar("M", bound=Model)

_OWNER_PATHS: dict[type[Model], str] = {
    CloudStorage: "owner",
    Project: "owner",
    Task: "owner",
    Job: "segment__task__owner",
}


def visible(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """Restrict ``queryset`` to the objects ``user`` may see."""
    if user.is_superuser:
        return queryset
    model = queryset.model
    if model is Label:
        from django.db.models import Q

        return queryset.filter(Q(task__owner=user) | Q(project__owner=user))
    return queryset.filter(**{_OWNER_PATHS[model]: user})


def get_visible(queryset: QuerySet[M], user: User, pk: object) -> M:
    """The object with ``pk`` if ``user`` may see it; else NotFound (never reveal existence)."""
    try:
        pk_int = int(str(pk))
    except ValueError:
        raise errors.NotFound() from None
    obj = visible(queryset, user).filter(pk=pk_int).first()
    if obj is None:
        raise errors.NotFound()
    return obj


MSG_CLOUD_STORAGE_NOT_FOUND = "Cloud storage #{id} does not exist or is not visible to you."


def cloud_storage_for(
    user: User, storage_id: int, *, error: type[errors.CvatLiteError] = errors.BadRequest
) -> CloudStorage:
    """The cloud storage ``storage_id`` named in a request's body or query, if ``user`` may see
    it; else ``error`` (400 by default: the id is the caller's input) naming the id."""
    storage = visible(CloudStorage.objects.all(), user).filter(pk=storage_id).first()
    if storage is None:
        raise error(
            MSG_CLOUD_STORAGE_NOT_FOUND.format(id=storage_id),
            code="cloud_storage_not_found",
            extra={"cloud_storage_id": storage_id},
        )
    return storage
