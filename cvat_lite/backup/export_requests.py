"""Backup export requests (contract 6, 7.1): validating and queueing an export, and running it.

``backup_export_submit`` refuses what cannot be exported before anything is queued and submits
an ``export:backup`` request whose id is deterministic per (object, user, mode, location), so a
full and a lightweight export of one task are two requests, and a repeat while one is queued
or running is a 409 naming it. ``backup_export_run`` (in the worker) writes the archive to a
partial file, then either gives it its final name (``location=local``: downloaded through the
request's ``result_url`` until it expires) or uploads it to a cloud storage and removes it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.backup.archive import ArchiveWriter
from cvat_lite.backup.destinations import cloud_place, cloud_place_exactly
from cvat_lite.backup.export import (
    Progress,
    backup_project_check,
    backup_task_check,
    backup_write_project,
    backup_write_task,
)
from cvat_lite.backup.export_results import (
    exports_cleanup,
    partial_result,
    result_commit,
)
from cvat_lite.backup.naming import ArchiveMode, archive_name
from cvat_lite.backup.writing import archive_write, read_back_object
from cvat_lite.cloud.base import CloudProvider, Status
from cvat_lite.engine.choices import Location, values_of
from cvat_lite.engine.cloud import provider_for, storage_prefix
from cvat_lite.engine.models import CloudStorage, Project, Task
from cvat_lite.engine.selectors import cloud_storage_for, visible
from cvat_lite.media.paths import validate_relative_path
from cvat_lite.requests.jobs import RequestResult
from cvat_lite.requests.models import Request, RequestAction
from cvat_lite.requests.services import RequestSpec, request_submit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TARGETS = ("task", "project")
MAX_NAME_CHARS = 100

MSG_LOCATION = "'location' must be 'local' or 'cloud_storage'."
MSG_STORAGE_REQUIRED = "'cloud_storage_id' is required with location=cloud_storage."
MSG_TARGET_GONE = "The {target} was deleted before its backup could be written."
MSG_STORAGE_GONE = "The cloud storage {id} was deleted before the backup could be uploaded."
MSG_READY = "The backup is ready to download."
MSG_UPLOADED = "The backup was uploaded to cloud storage {id} as {key}."

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_UNSAFE_DOWNLOAD = re.compile(r"[^A-Za-z0-9_. -]+")


@dataclass(frozen=True)
class ExportDestination:
    location: str
    cloud_storage_id: int | None = None
    filename: str | None = None


@dataclass(frozen=True)
class ExportOutcome:
    result_file: str
    result_filename: str
    message: str


# --- names -------------------------------------------------------------------------------------


def backup_filename(*, target: str, name: str, lightweight: bool, now: datetime) -> str:
    """``task_<name>_backup[-lightweight]_<UTC timestamp>.zip`` with safe characters only
    (what the SDK accepts from Content-Disposition)."""
    safe = _UNSAFE_NAME.sub("_", name).strip("_")[:MAX_NAME_CHARS] or target
    mode = "-lightweight" if lightweight else ""
    return f"{target}_{safe}_backup{mode}_{now:%Y_%m_%d_%H_%M_%S}.zip"


def _download_name(filename: str) -> str:
    """A caller's ``filename`` as a safe download name (its last segment)."""
    base = _UNSAFE_DOWNLOAD.sub("_", posixpath.basename(filename)).lstrip(". ")
    stem = base.removesuffix(".zip").strip()
    return f"{stem or 'backup'}.zip"


def export_request_id(
    *, target: str, target_id: int, user_id: int, lightweight: bool, location: str
) -> str:
    mode = ArchiveMode.of(lightweight).value
    where = "cloud" if location == Location.CLOUD_STORAGE else "local"
    return f"export-{target}-{target_id}-backup-{mode}-u{user_id}-{where}"


# --- before queueing ---------------------------------------------------------------------------


def _storage(user: User, storage_id: int) -> CloudStorage:
    return cloud_storage_for(user, storage_id)


def export_destination(
    *,
    user: User,
    obj: Task | Project,
    location: str | None,
    cloud_storage_id: int | None,
    filename: str | None,
) -> ExportDestination:
    """Where the result goes: the query's ``location`` or, without one, the object's
    ``target_storage``, else local. A cloud storage must be visible to ``user`` and allowed
    (its endpoint); ``filename`` must be a valid relative key."""
    target_storage = obj.target_storage or {}
    if location is None:
        location = target_storage.get("location") or Location.LOCAL
        if cloud_storage_id is None and location == Location.CLOUD_STORAGE:
            cloud_storage_id = target_storage.get("cloud_storage_id")
    if location not in values_of(Location):
        raise errors.BadRequest(MSG_LOCATION, code="invalid_location")
    if filename is not None:
        validate_relative_path(filename)
    if location == Location.LOCAL:
        return ExportDestination(Location.LOCAL.value, None, filename)
    if cloud_storage_id is None:
        raise errors.BadRequest(MSG_STORAGE_REQUIRED, code="cloud_storage_id_required")
    provider = provider_for(_storage(user, cloud_storage_id))  # configuration and endpoint
    if filename is not None and provider.object_status(filename) == Status.AVAILABLE:
        # refused now rather than by the worker (which checks again, and uploads with a
        # conditional put): a backup never replaces an object
        raise errors.CloudObjectExists(filename)
    return ExportDestination(Location.CLOUD_STORAGE.value, cloud_storage_id, filename)


def backup_export_submit(
    *,
    user: User,
    obj: Task | Project,
    lightweight: bool,
    destination: ExportDestination,
) -> Request:
    """Check that ``obj`` can be backed up this way and queue the export request."""
    if isinstance(obj, Task):
        target, task_id, project_id = "task", obj.id, obj.project_id
        backup_task_check(task=obj, lightweight=lightweight)
    else:
        target, task_id, project_id = "project", None, obj.id
        backup_project_check(project=obj, lightweight=lightweight)
    rq_id = export_request_id(
        target=target,
        target_id=obj.id,
        user_id=user.id,
        lightweight=lightweight,
        location=destination.location,
    )
    return request_submit(
        owner=user,
        rq_id=rq_id,
        spec=RequestSpec(
            action=RequestAction.EXPORT,
            target=target,
            subresource="backup",
            target_id=obj.id,
            task_id=task_id,
            project_id=project_id,
            lightweight=lightweight,
            func=export_backup,
            kwargs={
                "target": target,
                "target_id": obj.id,
                "user_id": user.id,
                "lightweight": lightweight,
                "location": destination.location,
                "cloud_storage_id": destination.cloud_storage_id,
                "filename": destination.filename,
            },
            params={
                "location": destination.location,
                "cloud_storage_id": destination.cloud_storage_id,
                "filename": destination.filename,
            },
        ),
    )


# --- in the worker -----------------------------------------------------------------------------


def _load(target: str, target_id: int) -> Task | Project:
    model = Task if target == "task" else Project
    related = ("data", "data__cloud_storage", "project") if model is Task else ()
    obj = model.objects.select_related(*related).filter(pk=target_id).first()
    if obj is None:
        raise errors.BadRequest(MSG_TARGET_GONE.format(target=target), code="target_gone")
    return obj


def _provider(user_id: int, storage_id: int) -> tuple[CloudProvider, str]:
    """The storage's provider and prefix, if ``user_id`` still sees the storage."""
    user = get_user_model().objects.filter(pk=user_id).first()
    storages = visible(CloudStorage.objects.all(), user) if user is not None else None
    storage = storages.filter(pk=storage_id).first() if storages is not None else None
    if storage is None:
        raise errors.BadRequest(MSG_STORAGE_GONE.format(id=storage_id), code="cloud_storage_gone")
    return provider_for(storage), storage_prefix(storage)


def backup_export_run(
    *,
    target: str,
    target_id: int,
    user_id: int,
    lightweight: bool,
    destination: ExportDestination,
    progress: Progress,
) -> ExportOutcome:
    """Write the backup (see the module docstring). Expired results are cleaned up first."""
    exports_cleanup()
    obj = _load(target, target_id)
    if destination.location == Location.LOCAL:
        name = backup_filename(
            target=target, name=obj.name, lightweight=lightweight, now=timezone.now()
        )
        with partial_result() as (stream, partial), ArchiveWriter(stream) as writer:
            if isinstance(obj, Task):
                backup_write_task(
                    task=obj, lightweight=lightweight, writer=writer, progress=progress
                )
            else:
                backup_write_project(
                    project=obj, lightweight=lightweight, writer=writer, progress=progress
                )
        download = _download_name(destination.filename) if destination.filename else name
        return ExportOutcome(result_commit(partial), download, MSG_READY)
    assert destination.cloud_storage_id is not None
    provider, prefix = _provider(user_id, destination.cloud_storage_id)
    new_name = archive_name(
        kind=target, id=obj.id, name=obj.name, lightweight=lightweight, now=timezone.now()
    )
    with partial_result() as (stream, partial):
        try:
            written = archive_write(stream, obj=obj, lightweight=lightweight, progress=progress)
            stream.flush()
            if destination.filename:
                key = cloud_place_exactly(provider, destination.filename, partial)
            else:
                key = cloud_place(provider, prefix, new_name, partial)
        finally:
            partial.unlink(missing_ok=True)
    read_back_object(provider, key, written)
    return ExportOutcome("", "", MSG_UPLOADED.format(id=destination.cloud_storage_id, key=key))


# --- the request's job (run by ``cvat_lite.requests.jobs.run_request``) ------------------------


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
