"""``/api/jobs``: list (``?task_id=``), read, change stage/state/status (contract 5.1)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.routers import SimpleRouter

from cvat_lite.api.schema import error_responses
from cvat_lite.api.serializers.fields import (
    NullDateTimeField,
    NullIntegerField,
    NullObjectField,
    UrlField,
)
from cvat_lite.api.serializers.listing import ListSpec, ResourceViewSet, read_schemas
from cvat_lite.api.serializers.storage import StorageSerializer
from cvat_lite.api.serializers.summaries import IssuesSummarySerializer, LabelsSummarySerializer
from cvat_lite.engine.choices import ChunkType, choices_of
from cvat_lite.engine.models import Job, StageChoice, StateChoice, StatusChoice
from cvat_lite.engine.services.jobs import job_update

ASSIGNEE_UNSUPPORTED = "cvat_lite has no job assignees: 'assignee' can only be null."
CHUNK_TYPE = ChunkType.IMAGESET.value

JOB_LIST = ListSpec(
    integers={
        "task_id": "segment__task_id",
        "project_id": "segment__task__project_id",
        "parent_job_id": "parent_job_id",
    },
    strings={
        "task_name": "segment__task__name",
        "project_name": "segment__task__project__name",
        "stage": "stage",
        "state": "state",
        "type": "type",
        "status": "status",
    },
    search=("segment__task__name", "segment__task__project__name"),
    sort={
        "id": "id",
        "task_id": "segment__task_id",
        "task_name": "segment__task__name",
        "project_id": "segment__task__project_id",
        "stage": "stage",
        "state": "state",
        "type": "type",
        "updated_date": "updated_date",
    },
    default_sort=("id",),
)


def job_queryset() -> QuerySet[Job]:
    return Job.objects.select_related("segment__task__project", "segment__task__data").annotate(
        replicas_count=Count("replicas", distinct=True)
    )


class _FrameCount(serializers.IntegerField):
    def __init__(self, **kwargs: Any):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, job: Job) -> int:
        segment = job.segment
        if segment.frames is not None:
            return len(segment.frames)
        return segment.stop_frame - segment.start_frame + 1


class _DataChunkSize(serializers.IntegerField):
    def __init__(self, **kwargs: Any):
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, job: Job) -> int | None:
        task = job.segment.task
        return task.data.chunk_size if task.data is not None else None


class _ChunkType(serializers.CharField):
    def __init__(self, **kwargs: Any):
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, job: Job) -> str | None:
        return CHUNK_TYPE if job.segment.task.data_id else None


class JobReadSerializer(serializers.Serializer):
    url = UrlField("/api/jobs/{obj.id}")
    id = serializers.IntegerField()
    task_id = serializers.IntegerField(source="segment.task_id")
    task_name = serializers.CharField(source="segment.task.name", allow_null=True)
    project_id = serializers.IntegerField(source="segment.task.project_id", allow_null=True)
    project_name = serializers.CharField(
        source="segment.task.project.name", allow_null=True, default=None
    )
    assignee = NullObjectField()
    guide_id = NullIntegerField()
    dimension = serializers.CharField(source="segment.task.dimension")
    mode = serializers.CharField(source="segment.task.mode")
    bug_tracker = serializers.CharField(source="segment.task.bug_tracker", allow_null=True)
    status = serializers.CharField()
    stage = serializers.CharField()
    state = serializers.CharField()
    type = serializers.CharField()
    frame_count = _FrameCount()
    start_frame = serializers.IntegerField(source="segment.start_frame")
    stop_frame = serializers.IntegerField(source="segment.stop_frame")
    data_chunk_size = _DataChunkSize()
    data_compressed_chunk_type = _ChunkType()
    data_original_chunk_type = _ChunkType()
    created_date = serializers.DateTimeField()
    updated_date = serializers.DateTimeField()
    issues = IssuesSummarySerializer(source="*")
    labels = LabelsSummarySerializer(source="*")
    organization = NullIntegerField()
    target_storage = StorageSerializer(source="segment.task.target_storage", allow_null=True)
    source_storage = StorageSerializer(source="segment.task.source_storage", allow_null=True)
    assignee_updated_date = NullDateTimeField()
    parent_job_id = serializers.IntegerField(allow_null=True)
    replicas_count = serializers.IntegerField()


class JobWriteSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices_of(StageChoice), required=False)
    state = serializers.ChoiceField(choices_of(StateChoice), required=False)
    status = serializers.ChoiceField(choices_of(StatusChoice), required=False)
    assignee = serializers.IntegerField(required=False, allow_null=True)

    def validate_assignee(self, value: int | None) -> None:
        if value is not None:
            raise serializers.ValidationError(ASSIGNEE_UNSUPPORTED)
        return value


@extend_schema_view(**read_schemas(JobReadSerializer, JOB_LIST, "job"))
class JobViewSet(ResourceViewSet):
    model = Job
    serializer_class = JobReadSerializer
    list_spec = JOB_LIST

    def read_queryset(self) -> QuerySet[Job]:
        return job_queryset()

    @extend_schema(
        summary="Change a job's stage, state or status",
        request=JobWriteSerializer,
        responses={200: JobReadSerializer, **error_responses(400, 401, 404)},
    )
    def partial_update(self, request, pk=None):
        job = self.target(pk)
        changes = self.validated(JobWriteSerializer, partial=True)
        changes = {k: v for k, v in changes.items() if k != "assignee"}
        job_update(job=job, **changes)
        return self.read(job)


router = SimpleRouter()
router.trailing_slash = "/?"  # both spellings (contract 10)
router.register("jobs", JobViewSet, basename="job")
urlpatterns = router.urls
