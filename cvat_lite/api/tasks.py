"""``/api/tasks``: list, create, read, change, delete (contract 5.1). Task data endpoints are in
``task_data``; annotations in ``annotations``."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from cvat_lite import errors
from cvat_lite.api.schema import error_responses
from cvat_lite.api.serializers.fields import (
    NullDateTimeField,
    NullIntegerField,
    NullObjectField,
    UrlField,
)
from cvat_lite.api.serializers.labels import LabelSerializer
from cvat_lite.api.serializers.listing import ListSpec, ResourceViewSet, read_schemas
from cvat_lite.api.serializers.storage import StorageSerializer
from cvat_lite.api.serializers.summaries import JobsSummarySerializer, LabelsSummarySerializer
from cvat_lite.api.serializers.users import OwnerSerializer
from cvat_lite.engine.choices import ChunkType, choices_of
from cvat_lite.engine.models import StageChoice, StateChoice, StatusChoice, Task
from cvat_lite.engine.services.tasks import task_create, task_delete, task_update

LABELS_OR_PROJECT_REQUIRED = "Label set or project_id must be present."
CHUNK_TYPE = ChunkType.IMAGESET.value

TASK_LIST = ListSpec(
    integers={"project_id": "project_id"},
    strings={
        "name": "name",
        "project_name": "project__name",
        "status": "status",
        "subset": "subset",
        "mode": "mode",
        "dimension": "dimension",
        "owner": "owner__username",
    },
    search=("name", "project__name", "subset"),
    sort={
        "id": "id",
        "name": "name",
        "project_id": "project_id",
        "project_name": "project__name",
        "status": "status",
        "subset": "subset",
        "owner": "owner__username",
        "created_date": "created_date",
        "updated_date": "updated_date",
    },
)


def task_queryset() -> QuerySet[Task]:
    """Tasks with what their read model needs (owner, project, data, job counts)."""
    jobs = "segments__jobs"
    return Task.objects.select_related("owner", "project", "data").annotate(
        jobs_count=Count(jobs, distinct=True),
        jobs_completed=Count(
            jobs, filter=Q(segments__jobs__state=StateChoice.COMPLETED), distinct=True
        ),
        jobs_validation=Count(
            jobs, filter=Q(segments__jobs__stage=StageChoice.VALIDATION), distinct=True
        ),
    )


class _FromData(serializers.IntegerField):
    """An integer read from the task's Data, or ``empty`` while the task has none."""

    def __init__(self, attr: str, empty: int | None, **kwargs: Any):
        self.attr, self.empty = attr, empty
        super().__init__(source="*", read_only=True, allow_null=empty is None, **kwargs)

    def to_representation(self, task: Task) -> int | None:
        return getattr(task.data, self.attr) if task.data_id else self.empty


class _ChunkType(serializers.CharField):
    def __init__(self, **kwargs: Any):
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, task: Task) -> str | None:
        return CHUNK_TYPE if task.data_id else None


class _ValidationMode(serializers.CharField):
    """Kept from CVAT backups (``validation_layout.mode``); cvat_lite has no validation of its
    own."""

    def __init__(self, **kwargs: Any):
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, task: Task) -> str | None:
        return (task.validation_layout or {}).get("mode")


class TaskReadSerializer(serializers.Serializer):
    url = UrlField("/api/tasks/{obj.id}")
    id = serializers.IntegerField()
    name = serializers.CharField()
    project_id = serializers.IntegerField(allow_null=True)
    project_name = serializers.CharField(source="project.name", allow_null=True, default=None)
    mode = serializers.CharField()
    owner = OwnerSerializer(allow_null=True)
    assignee = NullObjectField()
    bug_tracker = serializers.CharField()
    created_date = serializers.DateTimeField()
    updated_date = serializers.DateTimeField()
    overlap = serializers.IntegerField(allow_null=True)
    segment_size = serializers.IntegerField()
    status = serializers.CharField()
    labels = LabelsSummarySerializer(source="*")
    jobs = JobsSummarySerializer(source="*")
    data_chunk_size = _FromData("chunk_size", None)
    data_compressed_chunk_type = _ChunkType()
    data_original_chunk_type = _ChunkType()
    data_cloud_storage_id = _FromData("cloud_storage_id", None)
    guide_id = NullIntegerField()
    size = _FromData("size", 0)
    image_quality = _FromData("image_quality", 0)
    data = serializers.IntegerField(source="data_id", allow_null=True)
    dimension = serializers.CharField()
    subset = serializers.CharField()
    organization = NullIntegerField()
    organization_id = NullIntegerField()
    target_storage = StorageSerializer(allow_null=True)
    source_storage = StorageSerializer(allow_null=True)
    assignee_updated_date = NullDateTimeField()
    validation_mode = _ValidationMode()


# The columns' range (PositiveIntegerField: a 32-bit integer on PostgreSQL).
POSITIVE_INT_MAX = 2**31 - 1


class TaskWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=256)
    project_id = serializers.IntegerField(required=False, allow_null=True)
    labels = LabelSerializer(many=True, required=False)
    bug_tracker = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    overlap = serializers.IntegerField(
        min_value=0, max_value=POSITIVE_INT_MAX, required=False, allow_null=True
    )
    segment_size = serializers.IntegerField(min_value=0, max_value=POSITIVE_INT_MAX, required=False)
    subset = serializers.CharField(max_length=64, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices_of(StatusChoice), required=False)
    target_storage = StorageSerializer(required=False, allow_null=True)
    source_storage = StorageSerializer(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not self.partial and not attrs.get("project_id") and not attrs.get("labels"):
            raise errors.BadRequest(LABELS_OR_PROJECT_REQUIRED)  # CVAT's rule, API only
        return attrs


@extend_schema_view(**read_schemas(TaskReadSerializer, TASK_LIST, "task"))
class TaskViewSet(ResourceViewSet):
    model = Task
    serializer_class = TaskReadSerializer
    list_spec = TASK_LIST

    def read_queryset(self) -> QuerySet[Task]:
        return task_queryset()

    @extend_schema(
        summary="Create a task",
        description="A task in a project (`project_id`) uses the project's labels; other tasks "
        "need `labels`. Add media with `POST /api/tasks/{id}/data/`.",
        request=TaskWriteSerializer,
        responses={201: TaskReadSerializer, **error_responses(400, 401)},
    )
    def create(self, request):
        fields = self.validated(TaskWriteSerializer)
        task = task_create(owner=request.user, **fields)
        return self.read(task, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a task",
        description="`project_id` moves the task into a project (its labels are matched by "
        "name). Nested `labels` as for projects; refused for a task in a project. "
        "`segment_size`/`overlap` can change only while the task has no jobs.",
        request=TaskWriteSerializer,
        responses={200: TaskReadSerializer, **error_responses(400, 401, 404)},
    )
    def partial_update(self, request, pk=None):
        task = self.target(pk)
        changes = self.validated(TaskWriteSerializer, partial=True)
        task_update(task=task, user=request.user, changes=changes)
        return self.read(task)

    @extend_schema(
        summary="Delete a task with its data, jobs and annotations",
        responses={204: None, **error_responses(401, 404)},
    )
    def destroy(self, request, pk=None):
        task_delete(task=self.target(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


router = SimpleRouter()
router.trailing_slash = "/?"  # both spellings (contract 10)
router.register("tasks", TaskViewSet, basename="task")
urlpatterns = router.urls
