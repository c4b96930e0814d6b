"""``/api/projects``: list, create, read, change, delete (contract 5.1)."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

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
from cvat_lite.api.serializers.summaries import LabelsSummarySerializer, TasksSummarySerializer
from cvat_lite.api.serializers.users import OwnerSerializer
from cvat_lite.engine.choices import choices_of
from cvat_lite.engine.models import Project, StatusChoice
from cvat_lite.engine.services.projects import project_create, project_delete, project_update

PROJECT_LIST = ListSpec(
    strings={"name": "name", "status": "status", "owner": "owner__username"},
    search=("name",),
    sort={
        "id": "id",
        "name": "name",
        "status": "status",
        "owner": "owner__username",
        "created_date": "created_date",
        "updated_date": "updated_date",
    },
)


def project_queryset() -> QuerySet[Project]:
    return Project.objects.select_related("owner").annotate(
        tasks_count=Count("tasks", distinct=True)
    )


class ProjectReadSerializer(serializers.Serializer):
    url = UrlField("/api/projects/{obj.id}")
    id = serializers.IntegerField()
    name = serializers.CharField()
    labels = LabelsSummarySerializer(source="*")
    tasks = TasksSummarySerializer(source="*")
    owner = OwnerSerializer(allow_null=True)
    assignee = NullObjectField()
    guide_id = NullIntegerField()
    bug_tracker = serializers.CharField()
    task_subsets = serializers.SerializerMethodField()
    created_date = serializers.DateTimeField()
    updated_date = serializers.DateTimeField()
    status = serializers.CharField()
    dimension = serializers.SerializerMethodField()
    organization = NullIntegerField()
    organization_id = NullIntegerField()
    target_storage = StorageSerializer(allow_null=True)
    source_storage = StorageSerializer(allow_null=True)
    assignee_updated_date = NullDateTimeField()

    def get_task_subsets(self, project: Project) -> list[str]:
        subsets = project.tasks.exclude(subset="").values_list("subset", flat=True)
        return sorted(set(subsets))

    def get_dimension(self, project: Project) -> str | None:
        return "2d" if getattr(project, "tasks_count", 0) else None  # read_queryset counts


class ProjectWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=256)
    labels = LabelSerializer(many=True, required=False)
    bug_tracker = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices_of(StatusChoice), required=False)
    target_storage = StorageSerializer(required=False, allow_null=True)
    source_storage = StorageSerializer(required=False, allow_null=True)


@extend_schema_view(**read_schemas(ProjectReadSerializer, PROJECT_LIST, "project"))
class ProjectViewSet(ResourceViewSet):
    model = Project
    serializer_class = ProjectReadSerializer
    list_spec = PROJECT_LIST

    def read_queryset(self) -> QuerySet[Project]:
        return project_queryset()

    @extend_schema(
        summary="Create a project",
        request=ProjectWriteSerializer,
        responses={201: ProjectReadSerializer, **error_responses(400, 401)},
    )
    def create(self, request):
        fields = self.validated(ProjectWriteSerializer)
        project = project_create(owner=request.user, **fields)
        return self.read(project, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a project",
        description="Nested `labels`: an item with `id` updates that label (`deleted: true` "
        "deletes it and the annotations that use it); an item without `id` creates a label.",
        request=ProjectWriteSerializer,
        responses={200: ProjectReadSerializer, **error_responses(400, 401, 404)},
    )
    def partial_update(self, request, pk=None):
        project = self.target(pk)
        changes = self.validated(ProjectWriteSerializer, partial=True)
        project_update(project=project, user=request.user, changes=changes)
        return self.read(project)

    @extend_schema(
        summary="Delete a project with its tasks",
        responses={204: None, **error_responses(401, 404)},
    )
    def destroy(self, request, pk=None):
        project_delete(project=self.target(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


router = SimpleRouter()
router.trailing_slash = "/?"  # both spellings (contract 10)
router.register("projects", ProjectViewSet, basename="project")
urlpatterns = router.urls
