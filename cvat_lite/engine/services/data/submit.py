"""Before queueing: a data request's checks (sources, paths, frames, upload order) and the
``create:task`` request it queues."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from cvat_lite import errors
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.frames import local_media_prefix
from cvat_lite.engine.models import StorageChoice, Task
from cvat_lite.engine.selectors import cloud_storage_for
from cvat_lite.engine.services.data.options import (
    MSG_CLOUD_WITH_UPLOADS,
    MSG_MANY_MANIFESTS,
    MSG_MIXED,
    MSG_NO_FILES,
    MSG_SHARE_MISSING,
    MSG_UPLOAD_ORDER,
    DataOptions,
    _manifests,
)
from cvat_lite.engine.services.data.save import task_data_create_job
from cvat_lite.engine.services.data.uploads import _check_no_data, _save_uploads, _uploaded_names
from cvat_lite.media.paths import safe_join, shown, validate_relative_path
from cvat_lite.media.selection import (
    STOP_BEFORE_START,
    SortingMethod,
    parse_frame_filter,
    sort_keys,
)
from cvat_lite.requests.models import Request, RequestAction
from cvat_lite.requests.services import RequestSpec, request_submit
from cvat_lite.store import shared_store

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _check_paths(paths: Iterable[str]) -> None:
    for path in paths:
        validate_relative_path(path[:-1] if path.endswith("/") else path)


def _share_files(server_files: Sequence[str]) -> list[str]:
    """Share paths, as CVAT reads them (a leading "/" is the share root), folders with a
    trailing "/"; each must exist under ``SHARE_ROOT``."""
    root = Path(settings.SHARE_ROOT)
    result = []
    for raw in server_files:
        path = raw.lstrip("/")
        bare = path.rstrip("/")
        target = safe_join(root, bare)
        if not target.exists():
            raise errors.BadRequest(
                MSG_SHARE_MISSING.format(path=shown(raw)), code="share_file_not_found"
            )
        result.append(bare + "/" if target.is_dir() else bare)
    return result


def _check_frames(options: DataOptions) -> None:
    parse_frame_filter(options.frame_filter)
    sort_keys([], options.sorting_method)
    if options.stop_frame is not None and options.stop_frame < options.start_frame:
        raise errors.BadRequest(
            STOP_BEFORE_START.format(stop=options.stop_frame, start=options.start_frame),
            code="invalid_frame_range",
        )


def _check_upload_order(names: list[str], options: DataOptions) -> None:
    if options.sorting_method != SortingMethod.PREDEFINED or not options.upload_file_order:
        return
    order = options.upload_file_order
    if len(order) != len(set(order)) or set(order) != set(names):
        raise errors.BadRequest(MSG_UPLOAD_ORDER, code="invalid_upload_file_order")


def task_data_submit(
    *,
    task: Task,
    owner: User,
    options: DataOptions,
    files: Sequence[UploadedFile] = (),
    uploaded: bool = False,
) -> Request:
    """Validate a data request and queue its ``create:task`` request.

    ``files`` are uploads of this very request; ``uploaded`` says earlier ``Upload-Multiple``
    requests may have saved files already. On a refusal nothing is kept (uploads included).
    """
    _check_no_data(task)
    prefix = local_media_prefix(task.id)
    local = bool(files) or (uploaded and bool(_uploaded_names(prefix)))
    if uploaded and not local:  # an Upload-Start folder that got no file
        shared_store().delete_prefix(prefix)
    try:
        _check_frames(options)
        if local and options.server_files:
            raise errors.BadRequest(MSG_MIXED, code="mixed_sources")
        if local and options.cloud_storage_id is not None:
            raise errors.BadRequest(MSG_CLOUD_WITH_UPLOADS, code="mixed_sources")
        if not local and not options.server_files:
            raise errors.BadRequest(MSG_NO_FILES, code="no_media")
        if local:
            storage = StorageChoice.LOCAL
            if not uploaded:
                shared_store().delete_prefix(prefix)
            names = _save_uploads(prefix, files) if files else []
            server_files = _uploaded_names(prefix)
            if (
                names
                and options.sorting_method == SortingMethod.PREDEFINED
                and not options.upload_file_order
            ):
                options = dataclasses.replace(options, upload_file_order=names)
            _check_upload_order(server_files, options)
        elif options.cloud_storage_id is not None:
            storage = StorageChoice.CLOUD_STORAGE
            # visible to the caller, and its endpoint allowed (400 now, no connection)
            provider_for(cloud_storage_for(owner, options.cloud_storage_id))
            server_files = list(options.server_files)
            _check_paths(server_files)
        else:
            storage = StorageChoice.SHARE
            server_files = _share_files(options.server_files)
        if len(_manifests(server_files)) > 1:
            raise errors.BadRequest(
                MSG_MANY_MANIFESTS.format(count=len(_manifests(server_files))),
                code="too_many_manifests",
            )
        _check_paths(options.server_files_exclude)
        if options.sorting_method == SortingMethod.RANDOM and options.seed is None:
            options = dataclasses.replace(options, seed=secrets.randbelow(2**31))
        options = dataclasses.replace(options, server_files=server_files)
        return request_submit(
            owner=owner,
            spec=RequestSpec(
                action=RequestAction.CREATE,
                target="task",
                subresource="",
                target_id=task.id,
                task_id=task.id,
                project_id=task.project_id,
                func=task_data_create_job,
                kwargs={
                    "task_id": task.id,
                    "storage": str(storage),
                    "options": dataclasses.asdict(options),
                },
            ),
        )
    except BaseException:
        if local:
            shared_store().delete_prefix(prefix)
        raise
