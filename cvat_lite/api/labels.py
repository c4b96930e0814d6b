"""``/api/labels``: list (``?task_id=|project_id=|job_id=``), read, change, delete (contract 5.1).

A list shows top-level labels (skeleton elements are nested in ``sublabels``) unless
``parent_id`` asks for the elements of one skeleton. ``task_id``/``job_id`` give the labels the
task uses: its project's when it is in one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from cvat_lite import errors
from cvat_lite.api.schema import error_responses
from cvat_lite.api.serializers.labels import LabelSerializer, label_queryset_prefetch
from cvat_lite.api.serializers.listing import (
    FILTER_NOT_INTEGER,
    ListSpec,
    ResourceViewSet,
    read_schemas,
)
from cvat_lite.engine.models import Label, Task
from cvat_lite.engine.selectors import visible
from cvat_lite.engine.services.labels import label_delete, label_update

if TYPE_CHECKING:
    from django.contrib.auth.models import User

LABEL_LIST = ListSpec(
    integers={"project_id": "project_id", "parent_id": "parent_id"},
    strings={"name": "name", "type": "type", "color": "color", "parent": "parent__name"},
    search=("name",),
    sort={"id": "id", "name": "name", "type": "type", "parent_id": "parent_id"},
    default_sort=("id",),
)
_OWNER_PARAMETERS = [
    OpenApiParameter("task_id", int, description="Labels used by the task"),
    OpenApiParameter("job_id", int, description="Labels used by the job's task"),
]


def _integer(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.BadRequest(FILTER_NOT_INTEGER.format(name=name)) from None


def _used_by(queryset: QuerySet[Label], params: Mapping[str, str], user: User) -> QuerySet[Label]:
    """Restrict to the labels a task (``task_id``) or a job's task (``job_id``) uses."""
    for name, lookup in (("task_id", "pk"), ("job_id", "segments__jobs__id")):
        value = _integer(params, name)
        if value is None:
            continue
        task = visible(Task.objects.filter(**{lookup: value}), user).first()
        if task is None:
            return queryset.none()
        owner = Q(project_id=task.project_id) if task.project_id else Q(task_id=task.id)
        queryset = queryset.filter(owner)
    if "parent_id" not in params and "parent" not in params:
        queryset = queryset.filter(parent__isnull=True)
    return queryset


@extend_schema_view(**read_schemas(LabelSerializer, LABEL_LIST, "label", _OWNER_PARAMETERS))
class LabelViewSet(ResourceViewSet):
    model = Label
    serializer_class = LabelSerializer
    list_spec = LABEL_LIST

    def read_queryset(self) -> QuerySet[Label]:
        return label_queryset_prefetch(Label.objects.all())

    def narrow(self, queryset: QuerySet[Label]) -> QuerySet[Label]:
        return _used_by(queryset, self.request.GET, self.request.user)

    @extend_schema(
        summary="Change a label",
        description="Attributes: an item with `id` (or an existing name) updates that "
        "attribute, `deleted: true` deletes it (and its values in annotations), others are "
        "created.",
        request=LabelSerializer,
        responses={200: LabelSerializer, **error_responses(400, 401, 404)},
    )
    def partial_update(self, request, pk=None):
        label = self.target(pk)
        changes = self.validated(LabelSerializer, partial=True)
        changes = {k: v for k, v in changes.items() if k not in ("id", "deleted")}
        label_update(label=label, data=changes)
        return self.read(label)

    @extend_schema(
        summary="Delete a label and the annotations that use it",
        responses={204: None, **error_responses(401, 404)},
    )
    def destroy(self, request, pk=None):
        label_delete(label=self.target(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


router = SimpleRouter()
router.trailing_slash = "/?"  # both spellings (contract 10)
router.register("labels", LabelViewSet, basename="label")
urlpatterns = router.urls
