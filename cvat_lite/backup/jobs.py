"""The request job functions of backups (run by ``cvat_lite.requests.jobs.run_request``):
module-level functions that take ids and options, call one service, and return a
``RequestResult``."""

from __future__ import annotations

from cvat_lite.backup.export import Progress
from cvat_lite.backup.export_requests import ExportDestination, backup_export_run
from cvat_lite.requests.jobs import RequestResult


def export_backup(
    *,
    progress: Progress,
    target: str,
    target_id: int,
    user_id: int,
    lightweight: bool,
    location: str,
    cloud_storage_id: int | None,
    filename: str | None,
) -> RequestResult:
    """The ``export:backup`` request: a task or project backup, downloaded through the
    request's ``result_url`` (``location=local``, expires) or uploaded to a cloud storage."""
    outcome = backup_export_run(
        target=target,
        target_id=target_id,
        user_id=user_id,
        lightweight=lightweight,
        destination=ExportDestination(location, cloud_storage_id, filename),
        progress=progress,
    )
    return RequestResult(
        result_file=outcome.result_file,
        result_filename=outcome.result_filename,
        message=outcome.message,
        expires=bool(outcome.result_file),
    )


def import_backup(*, progress: Progress, target: str, user_id: int, source: dict) -> RequestResult:
    """The ``import:backup`` request: restore a task or project backup from an uploaded file
    (``{"path", "name"}``) or a cloud storage object (``{"cloud_storage_id", "key"}``); the
    archive file is deleted when the import ends, successfully or not."""
    from django.contrib.auth import get_user_model

    from cvat_lite.backup.restore import backup_restore_project, backup_restore_task
    from cvat_lite.backup.restore_requests import import_archive

    restore = backup_restore_task if target == "task" else backup_restore_project
    user = get_user_model().objects.filter(pk=user_id).first()
    with import_archive(user=user, source=source) as path:
        outcome = restore(owner=user, archive_path=path, progress=progress)
    return RequestResult(result_id=outcome.id, message=outcome.message)
