"""``PATCH /api/projects/{id}/cloud_storage``: relink the unlinked cloud tasks of a project
(contract 7.5)."""

from __future__ import annotations

from django.conf import settings
from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite.api.schema import error_responses
from cvat_lite.api.serializers.relink import (
    RelinkOptionsSerializer,
    RelinkQueuedSerializer,
    VerificationSerializer,
    relink_queued_body,
)
from cvat_lite.engine.models import Project
from cvat_lite.engine.selectors import get_visible
from cvat_lite.engine.services import relink as relink_services

PROJECT_RELINK_DESCRIPTION = """\
Links every task of the project whose media are in a cloud storage and that has no storage
link (restored from a lightweight backup, or its storage was deleted or unlinked) to the
given storage — each one only if the storage holds its media. Other tasks are left alone.

The storage must exist, be visible to the caller (else 400 `cloud_storage_not_found`) and be
`AVAILABLE` (else 400 `cloud_storage_not_available` naming the status): checked once, for the
whole request.

**Verification**, per task, as for `PATCH /api/tasks/{id}/data/meta` (one paged listing;
sizes and fingerprints where both sides have them; a random content sample where only CVAT's
pixel checksum is known), with the same `prefix` / `prefix_from` move and `content_sample`. A
task that fails is not linked and is reported in `failed` with the error's `code` (e.g.
`relink_verification_failed`) and `message`; the linked ones are in `relinked`; every task
whose storage was listed has its report in `verifications`. Linking a task drops its cached
chunks and previews and moves its `updated_date`. With `dry_run: true` nothing is saved and
`relinked` lists the tasks that would be linked.

**Large projects** (more images in the unlinked cloud tasks together than the server's
`CVAT_LITE_RELINK_SYNC_MAX_IMAGES`, 20000 by default): once the storage is checked, the relink
is queued and the answer is **202** with `rq_id` and `request_url`. Follow
`GET /api/requests/{rq_id}` (`operation.type` `update:cloud_storage`, `progress`) until it is
`finished`: its `result` is the body described here. A dry run is queued the same way.
"""


class ProjectCloudStorageWriteSerializer(RelinkOptionsSerializer):
    cloud_storage_id = serializers.IntegerField(
        help_text="The cloud storage to link the project's unlinked cloud tasks to."
    )


class ProjectRelinkFailureSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    code = serializers.CharField(help_text="The error code, e.g. relink_verification_failed.")
    message = serializers.CharField()
    extra = serializers.DictField(
        help_text="The error's details, as in the task relink's error body: for "
        "relink_verification_failed the first missing and mismatched keys and their counts."
    )


class TaskVerificationSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    verification = VerificationSerializer()


class ProjectRelinkResultSerializer(serializers.Serializer):
    relinked = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the tasks now linked."
    )
    failed = ProjectRelinkFailureSerializer(many=True)
    dry_run = serializers.BooleanField(
        help_text="True: nothing was saved; relinked lists the tasks that would be linked."
    )
    verifications = TaskVerificationSerializer(
        many=True, help_text="The report of every task whose storage was listed."
    )


class ProjectCloudStorageView(APIView):
    @extend_schema(
        tags=["projects"],
        operation_id="projects_partial_update_cloud_storage",
        summary="Relink the project's unlinked cloud tasks to a cloud storage",
        description=PROJECT_RELINK_DESCRIPTION,
        request=ProjectCloudStorageWriteSerializer,
        responses={
            200: ProjectRelinkResultSerializer,
            202: RelinkQueuedSerializer,
            **error_responses(400, 401, 404, 409),
        },
    )
    def patch(self, request, pk):
        project = get_visible(Project.objects.all(), request.user, pk)
        serializer = ProjectCloudStorageWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = serializer.relink_options()
        cloud_storage_id = serializer.validated_data["cloud_storage_id"]
        images = relink_services.project_relink_size(project)
        if relink_services.relink_in_background(images):
            rq = relink_services.project_relink_submit(
                project=project,
                user=request.user,
                cloud_storage_id=cloud_storage_id,
                options=options,
            )
            body = relink_queued_body(
                request, rq.id, images, settings.RELINK_SYNC_MAX_IMAGES, options.dry_run
            )
            return Response(body, status=202)
        result = relink_services.project_relink(
            project=project,
            user=request.user,
            cloud_storage_id=cloud_storage_id,
            options=options,
        )
        return Response(ProjectRelinkResultSerializer(result.body()).data)


urlpatterns = [
    re_path(r"^projects/(?P<pk>\d+)/cloud_storage/?$", ProjectCloudStorageView.as_view()),
]
