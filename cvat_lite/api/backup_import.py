"""Backup import (contract 7.4): ``POST /api/tasks/backup/`` and ``POST /api/projects/backup/``.

Each accepts CVAT's three upload forms (``cvat_lite.api.uploads``): a multipart ``task_file`` /
``project_file``, the TUS flow (Upload-Start, TUS create, PATCH chunks, Upload-Finish), or
``?location=cloud_storage&cloud_storage_id=&filename=``. The received file starts an
``import:backup`` request → 202 ``{rq_id}``; the finished request's ``result_id`` is the new
task or project.
"""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite.api.uploads import (
    UPLOAD_PARSERS,
    UploadEndpoint,
    handle_upload_request,
    upload_schema,
    upload_urlpatterns,
)
from cvat_lite.backup.restore_requests import backup_import_submit
from cvat_lite.uploads.sources import UploadSource

TASK_BACKUP = UploadEndpoint(name="task_backup", file_field="task_file")
PROJECT_BACKUP = UploadEndpoint(name="project_backup", file_field="project_file")

_RESTORE = (
    "A full backup restores with its media (a task with storage 'local'). A lightweight "
    "backup restores as a task whose media are in a cloud storage, from its manifest, without "
    "reading any bucket; then, if the archive names its origin and you own an AVAILABLE cloud "
    "storage with the same provider, bucket and prefix that holds the manifest's objects, the "
    "task is linked to it; otherwise it stays unlinked (cloud_storage_id null; attach a storage "
    "with PATCH /api/tasks/{id}/data/meta). The request's message says which happened. The "
    "import is atomic: a refused archive (contract 9) fails the request with a message saying "
    "what is wrong, and nothing is created."
)


def _submit(request, target: str):
    def on_file(source: UploadSource) -> Response:
        rq = backup_import_submit(owner=request.user, target=target, source=source)
        return Response({"rq_id": rq.id}, status=202)

    return on_file


class TaskBackupImportView(APIView):
    parser_classes = UPLOAD_PARSERS

    @upload_schema(
        TASK_BACKUP,
        operation_id="tasks_create_backup",
        tags=["tasks"],
        summary="Restore a task from a backup",
        description=("Starts an import:backup request; its result_id is the new task. " + _RESTORE),
    )
    def post(self, request):
        return handle_upload_request(request, TASK_BACKUP, on_file=_submit(request, "task"))


class ProjectBackupImportView(APIView):
    parser_classes = UPLOAD_PARSERS

    @upload_schema(
        PROJECT_BACKUP,
        operation_id="projects_create_backup",
        tags=["projects"],
        summary="Restore a project from a backup",
        description=(
            "Starts an import:backup request; its result_id is the new project. Every task "
            "of the archive (task_<i>/) is restored into it, with the project's labels; "
            "lightweight tasks are linked as for a task import (unlinked ones can be "
            "attached together with PATCH /api/projects/{id}/cloud_storage). " + _RESTORE
        ),
    )
    def post(self, request):
        return handle_upload_request(request, PROJECT_BACKUP, on_file=_submit(request, "project"))


urlpatterns = [
    *upload_urlpatterns(r"tasks/backup", TaskBackupImportView, TASK_BACKUP),
    *upload_urlpatterns(r"projects/backup", ProjectBackupImportView, PROJECT_BACKUP),
]
