"""A throwaway upload endpoint for the tests: its handler records what it got."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite import errors
from cvat_lite.api.uploads import (
    UPLOAD_PARSERS,
    UploadEndpoint,
    handle_upload_request,
    upload_schema,
    upload_urlpatterns,
)
from cvat_lite.uploads.sources import UploadSource

TASKS = UploadEndpoint(name="test_task_backup", file_field="task_file")
PROJECTS = UploadEndpoint(name="test_project_backup", file_field="project_file")
FAILING = UploadEndpoint(name="test_failing", file_field="task_file")
MSG_HANDLER_FAILED = "The handler refused the file."

RECEIVED: list[UploadSource] = []


def _record(source: UploadSource) -> Response:
    RECEIVED.append(source)
    return Response({"rq_id": "x"}, status=202)


def _refuse(source: UploadSource) -> Response:
    RECEIVED.append(source)
    raise errors.BadRequest(MSG_HANDLER_FAILED)


class TaskImportView(APIView):
    parser_classes = UPLOAD_PARSERS

    @upload_schema(
        TASKS, operation_id="tasks_create_backup", tags=["tasks"], summary="Import a backup"
    )
    def post(self, request):
        return handle_upload_request(request, TASKS, on_file=_record)


class ProjectImportView(APIView):
    parser_classes = UPLOAD_PARSERS

    def post(self, request):
        return handle_upload_request(request, PROJECTS, on_file=_record)


class FailingImportView(APIView):
    parser_classes = UPLOAD_PARSERS

    def post(self, request):
        return handle_upload_request(request, FAILING, on_file=_refuse)


# The upload endpoints alone (the schema test generates a schema of them).
upload_routes = [
    path("api/", include(upload_urlpatterns(r"tasks/backup", TaskImportView, TASKS))),
    path("api/", include(upload_urlpatterns(r"projects/backup", ProjectImportView, PROJECTS))),
    path("api/", include(upload_urlpatterns(r"failing/backup", FailingImportView, FAILING))),
]
urlpatterns = [
    *upload_routes,
    path("api/", include("cvat_lite.api.urls")),  # login, about: for the SDK
]
