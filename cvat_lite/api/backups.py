"""Task and project backups (contract 7): export, download, and the legacy endpoint.

- ``POST /api/{tasks|projects}/{id}/backup/export`` → 202 ``{rq_id}`` (an ``export:backup``
  request); ``GET /api/{tasks|projects}/{id}/backup/download?rq_id=`` streams the finished
  ZIP; ``GET /api/{tasks|projects}/{id}/backup`` (CVAT < 2.x) → 410.
"""

from __future__ import annotations

from typing import Any

from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite import errors
from cvat_lite.api.schema import RqIdSerializer, error_responses
from cvat_lite.api.serializers.storage import LOCATIONS
from cvat_lite.api.stored_files import stored_file_response
from cvat_lite.backup.export_requests import (
    backup_export_submit,
    export_destination,
)
from cvat_lite.backup.export_results import (
    export_request_get,
    export_result_file,
)
from cvat_lite.engine.models import Project, Task
from cvat_lite.engine.selectors import get_visible
from cvat_lite.requests.selectors import request_effective

MSG_LIGHTWEIGHT = (
    "The 'lightweight' query parameter must be true, false, 1 or 0 (case-insensitive)."
)
MSG_STORAGE_ID = "'cloud_storage_id' must be an integer."
MSG_RQ_ID_REQUIRED = "The 'rq_id' query parameter is required."
MSG_LEGACY = (
    "This endpoint has been removed: start an export with POST /api/{target}s/{id}/backup/export "
    "and download it from the request's result_url."
)

_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})

LIGHTWEIGHT_TASK = (
    "Make a lightweight backup: the archive carries the task's media manifest "
    "(data/manifest.jsonl) instead of the media files, so it is small and quick to write, and "
    "it is written without reading the cloud storage (it works even when the bucket is gone "
    "or the task is not linked to a storage). A task restored from it keeps its media in a "
    "cloud storage: it is linked automatically to a matching storage of the importing user, "
    "or must be attached to one with PATCH /api/tasks/{id}/data/meta "
    '{"cloud_storage_id": N}. Default: false (a full backup, media included). Only for tasks '
    "whose media are in a cloud storage: for other tasks, true is refused with 400 "
    "lightweight_not_possible. Accepts true/false/1/0, case-insensitive; anything else → 400."
)
LIGHTWEIGHT_PROJECT = (
    "Make a lightweight backup whenever possible: tasks whose media are in a cloud storage are "
    "written lightweight (their media manifest instead of the media; a restored task is "
    "attached to a cloud storage with PATCH /api/tasks/{id}/data/meta), the other tasks in "
    "full. Default: false (every task in full). Accepts true/false/1/0, case-insensitive; "
    "anything else → 400."
)


def _export_parameters(lightweight_text: str) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "lightweight", OpenApiTypes.BOOL, default=False, description=lightweight_text
        ),
        OpenApiParameter(
            "location",
            OpenApiTypes.STR,
            enum=list(LOCATIONS),
            description=(
                "Where the result goes: 'local' (download it from the request's result_url "
                "until it expires) or 'cloud_storage' (uploaded to cloud_storage_id under "
                "filename). Default: the object's target_storage, else local."
            ),
        ),
        OpenApiParameter(
            "cloud_storage_id",
            OpenApiTypes.INT,
            description="The cloud storage to upload to (location=cloud_storage).",
        ),
        OpenApiParameter(
            "filename",
            OpenApiTypes.STR,
            description=(
                "The object key of the upload (location=cloud_storage), which must not "
                "exist: a backup never replaces an object (409 cloud_object_exists). "
                "Default: a new name under the storage's prefix, "
                "<kind>-<id>_<name>_<full|lightweight>_<UTC time>[-n].zip, never an existing "
                "one. With location=local: the download name."
            ),
        ),
    ]


def _lightweight(params) -> bool:
    value = params.get("lightweight")
    if value is None:
        return False
    text = value.strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise errors.BadRequest(MSG_LIGHTWEIGHT, code="invalid_lightweight")


def _storage_id(params) -> int | None:
    value = params.get("cloud_storage_id")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.BadRequest(MSG_STORAGE_ID, code="invalid_cloud_storage_id") from None


class _AnyAccept(DefaultContentNegotiation):
    """A download is a ZIP whatever ``Accept`` says; its errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _BackupView(APIView):
    model: type[Task] | type[Project]
    target: str

    def object(self, request, pk) -> Task | Project:
        if self.model is Task:
            tasks = Task.objects.select_related("data", "data__cloud_storage")
            return get_visible(tasks, request.user, pk)
        return get_visible(Project.objects.all(), request.user, pk)


class _ExportView(_BackupView):
    def post(self, request, pk):
        obj = self.object(request, pk)
        params = request.query_params
        lightweight = _lightweight(params)
        destination = export_destination(
            user=request.user,
            obj=obj,
            location=params.get("location") or None,
            cloud_storage_id=_storage_id(params),
            filename=params.get("filename") or None,
        )
        submitted = backup_export_submit(
            user=request.user, obj=obj, lightweight=lightweight, destination=destination
        )
        return Response({"rq_id": submitted.id}, status=202)


class _DownloadView(_BackupView):
    content_negotiation_class = _AnyAccept

    def get(self, request, pk):
        # A result past CVAT_LITE_EXPORT_TTL, or of a request whose worker died, reads as gone
        # or failed (contract 7.1); the scheduled housekeeping and later exports remove it. A
        # GET writes nothing.
        rq_id = request.query_params.get("rq_id")
        if not rq_id:
            raise errors.BadRequest(MSG_RQ_ID_REQUIRED, code="rq_id_required")
        try:
            target_id = int(pk)
        except ValueError:
            raise errors.NotFound() from None
        export = export_request_get(
            user=request.user, target=self.target, target_id=target_id, rq_id=rq_id
        )
        result = export_result_file(request_effective(export))
        response = stored_file_response(result.key, result.size, filename=result.filename)
        response["Cache-Control"] = "private, no-store"
        return response


class _LegacyView(_BackupView):
    def get(self, request, pk):
        raise errors.Gone(MSG_LEGACY.format(target=self.target, id=pk), code="endpoint_removed")


_EXPORT_RESPONSES = {
    202: OpenApiResponse(RqIdSerializer, description="The export request was queued."),
    **error_responses(400, 401, 404, 409),
}
_DOWNLOAD_PARAMETERS = [
    OpenApiParameter("rq_id", OpenApiTypes.STR, required=True, description="The export request.")
]
_DOWNLOAD_RESPONSES: dict[Any, Any] = {
    (200, "application/zip"): OpenApiResponse(
        OpenApiTypes.BINARY,
        description=(
            "The backup ZIP, as an attachment named task_<name>_backup[-lightweight]_<ts>.zip "
            "(project_... for projects)."
        ),
    ),
    **error_responses(400, 401, 404, 409),
}
_LEGACY_RESPONSES = error_responses(401, 404, 410)  # 404: no such route (an id not a number)


def _export_schema(target: str):
    plural = f"{target}s"
    refusals = (
        "A task without data → 400; a full backup of a cloud task that is not linked to a "
        "cloud storage → 409 cloud_storage_unlinked."
        if target == "task"
        else "Tasks without data are left out; a full backup of an unlinked cloud task → 409 "
        "cloud_storage_unlinked."
    )
    return extend_schema(
        tags=[plural],
        operation_id=f"{plural}_create_backup_export",
        summary=f"Start a backup export of a {target}",
        description=(
            "Queues an export:backup request and answers 202 {rq_id}; follow it with "
            "GET /api/requests/{rq_id}. A full and a lightweight export of the same object are "
            "different requests; a repeat while one is queued or running → 409 with its rq_id. "
            + refusals
        ),
        parameters=_export_parameters(
            LIGHTWEIGHT_TASK if target == "task" else LIGHTWEIGHT_PROJECT
        ),
        request=None,
        responses=_EXPORT_RESPONSES,
    )


def _download_schema(target: str):
    return extend_schema(
        tags=[f"{target}s"],
        operation_id=f"{target}s_retrieve_backup_download",
        summary=f"Download a finished backup export of a {target}",
        description=(
            "Streams the ZIP of a finished export with location=local (the request's "
            "result_url) until it expires (CVAT_LITE_EXPORT_TTL). Only the request's owner "
            "(or a superuser) can download it; for anyone else it does not exist (404)."
        ),
        parameters=_DOWNLOAD_PARAMETERS,
        responses=_DOWNLOAD_RESPONSES,
    )


def _legacy_schema(target: str):
    return extend_schema(
        tags=[f"{target}s"],
        operation_id=f"{target}s_retrieve_backup",
        summary="Removed: use backup/export, then the request's result_url",
        deprecated=True,
        responses=_LEGACY_RESPONSES,
    )


class TaskBackupExportView(_ExportView):
    model, target = Task, "task"

    @_export_schema("task")
    def post(self, request, pk):
        return super().post(request, pk)


class ProjectBackupExportView(_ExportView):
    model, target = Project, "project"

    @_export_schema("project")
    def post(self, request, pk):
        return super().post(request, pk)


class TaskBackupDownloadView(_DownloadView):
    model, target = Task, "task"

    @_download_schema("task")
    def get(self, request, pk):
        return super().get(request, pk)


class ProjectBackupDownloadView(_DownloadView):
    model, target = Project, "project"

    @_download_schema("project")
    def get(self, request, pk):
        return super().get(request, pk)


class TaskBackupLegacyView(_LegacyView):
    model, target = Task, "task"

    @_legacy_schema("task")
    def get(self, request, pk):
        return super().get(request, pk)


class ProjectBackupLegacyView(_LegacyView):
    model, target = Project, "project"

    @_legacy_schema("project")
    def get(self, request, pk):
        return super().get(request, pk)


urlpatterns = [
    re_path(r"^tasks/(?P<pk>\d+)/backup/export/?$", TaskBackupExportView.as_view()),
    re_path(r"^tasks/(?P<pk>\d+)/backup/download/?$", TaskBackupDownloadView.as_view()),
    re_path(r"^tasks/(?P<pk>\d+)/backup/?$", TaskBackupLegacyView.as_view()),
    re_path(r"^projects/(?P<pk>\d+)/backup/export/?$", ProjectBackupExportView.as_view()),
    re_path(r"^projects/(?P<pk>\d+)/backup/download/?$", ProjectBackupDownloadView.as_view()),
    re_path(r"^projects/(?P<pk>\d+)/backup/?$", ProjectBackupLegacyView.as_view()),
]
