"""``/api/tasks/{id}/annotations/`` and ``/api/jobs/{id}/annotations/`` (contract 5.1).

GET, PUT (replace), PATCH ``?action=create|update|delete``, DELETE; the body is CVAT's
``{version, tags, shapes, tracks}`` with labels by id. These never touch media, so they work for
a task whose cloud storage is unlinked or unavailable.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite.api.schema import error_responses
from cvat_lite.api.serializers.annotations import LabeledDataSerializer
from cvat_lite.engine.models import Job, Task
from cvat_lite.engine.selectors import get_visible
from cvat_lite.engine.services import annotations as service

ACTION_PARAMETER = OpenApiParameter(
    "action",
    OpenApiTypes.STR,
    enum=list(service.ACTIONS),
    required=True,
    description="create: add the objects (new ids); update: replace the objects with these "
    "ids; delete: remove the objects with these ids.",
)
_PUT_DESCRIPTION = {
    "task": "Replace all annotations (ids are assigned by the server). Objects go to the "
    "task's jobs by frame; a track must fit in one job.",
    "job": "Replace all annotations (ids are assigned by the server). Every frame must be one "
    "of the job's.",
}


def _annotations_view(model: type[Task] | type[Job], noun: str, get, put, patch, delete):
    """The four methods for ``model`` (a task or a job), backed by the given service
    functions, each called with the object as its only keyword (``task=`` / ``job=``)."""

    def target(request, pk):
        objects: QuerySet[Any] = model.objects.all()
        return {noun: get_visible(objects, request.user, pk)}

    class View(APIView):
        @extend_schema(
            summary=f"Get a {noun}'s annotations",
            responses={200: LabeledDataSerializer, **error_responses(401, 404)},
        )
        def get(self, request, pk):
            return Response(get(**target(request, pk)))

        @extend_schema(
            summary=f"Replace a {noun}'s annotations",
            description=_PUT_DESCRIPTION[noun],
            request=LabeledDataSerializer,
            responses={200: LabeledDataSerializer, **error_responses(400, 401, 404)},
        )
        def put(self, request, pk):
            return Response(put(**target(request, pk), data=request.data))

        @extend_schema(
            summary=f"Add, change or remove some of a {noun}'s annotations",
            description="Returns the objects created, updated or deleted, and the new version.",
            parameters=[ACTION_PARAMETER],
            request=LabeledDataSerializer,
            responses={200: LabeledDataSerializer, **error_responses(400, 401, 404)},
        )
        def patch(self, request, pk):
            action = request.query_params.get("action", "")
            return Response(patch(**target(request, pk), data=request.data, action=action))

        @extend_schema(
            summary=f"Remove all of a {noun}'s annotations",
            responses={204: None, **error_responses(401, 404)},
        )
        def delete(self, request, pk):
            delete(**target(request, pk))
            return Response(status=status.HTTP_204_NO_CONTENT)

    View.__name__ = View.__qualname__ = f"{model.__name__}AnnotationsView"
    return View


TaskAnnotationsView = _annotations_view(
    Task,
    "task",
    service.task_annotations_get,
    service.task_annotations_put,
    service.task_annotations_patch,
    service.task_annotations_delete,
)
JobAnnotationsView = _annotations_view(
    Job,
    "job",
    service.annotations_get,
    service.annotations_put,
    service.annotations_patch,
    service.annotations_delete,
)

urlpatterns = [
    re_path(r"^tasks/(?P<pk>\d+)/annotations/?$", TaskAnnotationsView.as_view()),
    re_path(r"^jobs/(?P<pk>\d+)/annotations/?$", JobAnnotationsView.as_view()),
]
