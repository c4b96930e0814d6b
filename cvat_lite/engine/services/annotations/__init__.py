"""Annotations of jobs and tasks in CVAT's JSON shape (contract 2, 5.1).

``schema`` validates and normalises documents (pure); ``store`` reads and writes them.
"""

from cvat_lite.engine.services.annotations.store import (
    ACTIONS,
    annotations_delete,
    annotations_get,
    annotations_patch,
    annotations_purge,
    annotations_put,
    annotations_remap,
    task_annotations_delete,
    task_annotations_get,
    task_annotations_patch,
    task_annotations_put,
)

__all__ = [
    "ACTIONS",
    "annotations_delete",
    "annotations_get",
    "annotations_patch",
    "annotations_purge",
    "annotations_put",
    "annotations_remap",
    "task_annotations_delete",
    "task_annotations_get",
    "task_annotations_patch",
    "task_annotations_put",
]
