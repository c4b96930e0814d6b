"""What an archive holds, as one hash: an unchanged item is not written again.

The fingerprint of a task is the SHA-256 of what its archive would hold apart from the media
bytes: ``task.json`` (metadata, labels, jobs and their frames, the origin of a lightweight
backup), ``annotations.json``, the media manifest (every image's name, size and checksum), the
mode, and, for a full backup of a cloud task, the storage the media are read from. Each of
these is built by the same code that writes the archive, so any change that would change the
archive's JSON members changes the fingerprint; dates that change without the content changing
(``updated_date`` on a save that changed nothing) do not. A project's fingerprint is the hash
of ``project.json`` and the fingerprints of its tasks.

Not seen: an object replaced in place in the bucket under the same key (for a full backup of
a cloud task), when its Image row has no checksum — the data did not change in cvat_lite.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cvat_lite.backup.export import backup_task_check, project_tasks, task_lightweight_in_project
from cvat_lite.backup.export_spec import (
    annotation_specs,
    manifest_entries,
    media_root,
    project_spec,
    task_spec,
)
from cvat_lite.backup.format import build_annotations_json, build_project_json, build_task_json
from cvat_lite.engine.models import Project, StorageChoice, Task
from cvat_lite.media.manifest import write_manifest

VERSION = "cvat-lite-fingerprint-1"


class _HashStream:
    def __init__(self, digest: Any):
        self.digest = digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)


def _json(digest: Any, value: Any) -> None:
    digest.update(json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    digest.update(b"\n")


def task_fingerprint(*, task: Task, lightweight: bool) -> str:
    data = backup_task_check(task=task, lightweight=lightweight)
    root = media_root(data)
    digest = hashlib.sha256()
    source = None
    if not lightweight and data.storage == StorageChoice.CLOUD_STORAGE:
        source = data.cloud_storage_id
    _json(digest, {"v": VERSION, "lightweight": lightweight, "media_from": source})
    spec = task_spec(task=task, data=data, lightweight=lightweight, root=root)
    _json(digest, build_task_json(spec))
    _json(digest, build_annotations_json(annotation_specs(task)))
    stream = _HashStream(digest)
    write_manifest(manifest_entries(data, root), stream, validated=True)  # type: ignore[arg-type]
    return digest.hexdigest()


def project_fingerprint(*, project: Project, lightweight: bool) -> str:
    digest = hashlib.sha256()
    _json(digest, {"v": VERSION, "lightweight": lightweight})
    _json(digest, build_project_json(project_spec(project)))
    for task in project_tasks(project):
        light = task_lightweight_in_project(task, lightweight)
        _json(digest, [task.id, task_fingerprint(task=task, lightweight=light)])
    return digest.hexdigest()
