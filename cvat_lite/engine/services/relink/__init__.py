"""Relinking a cloud task to a cloud storage, verified (contract 7.5), and the auto-relink of
restored lightweight backups (contract 7.4), as task-data services.

- ``verify``: does a bucket hold a task's media — one paged listing merged with the task's rows,
  both in byte order of their keys, in memory that does not grow with the task (``ordered``);
- ``service``: the checks, ``PATCH data/meta`` (``data_meta_update``), the save, the project
  relink and the auto-relink, which takes the origin as plain values;
- ``background``: relinks over ``RELINK_SYNC_MAX_IMAGES`` images as requests (202).

The package imports nothing from ``cvat_lite.backup``: backup calls it (after a restore).
"""

from cvat_lite.engine.services.relink.background import (
    project_relink_size,
    project_relink_submit,
    relink_in_background,
    task_relink_size,
    task_relink_submit,
)
from cvat_lite.engine.services.relink.service import (
    ALL_OBJECTS,
    UNSET,
    ProjectRelinkResult,
    RelinkOptions,
    RelinkPlan,
    data_meta_update,
    project_relink,
    relink_auto,
    relink_save,
    relink_target,
    resolve_key_map,
)
from cvat_lite.engine.services.relink.verify import (
    REPORTED_KEYS,
    KeyMap,
    Verification,
    relink_verify,
)

__all__ = [
    "ALL_OBJECTS",
    "REPORTED_KEYS",
    "UNSET",
    "KeyMap",
    "ProjectRelinkResult",
    "RelinkOptions",
    "RelinkPlan",
    "Verification",
    "data_meta_update",
    "project_relink",
    "project_relink_size",
    "project_relink_submit",
    "relink_auto",
    "relink_in_background",
    "relink_save",
    "relink_target",
    "relink_verify",
    "resolve_key_map",
    "task_relink_size",
    "task_relink_submit",
]
