"""The auto-relink of a restored lightweight task (contract 7.4): the archive's origin handed to
the engine's relink service (``cvat_lite.engine.services.relink``), which does the work."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvat_lite.backup.format import OriginSpec
from cvat_lite.engine.models import CloudStorage, Task
from cvat_lite.engine.services import relink

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def relink_auto(*, task: Task, owner: User, origin: OriginSpec) -> CloudStorage | None:
    """Link ``task`` to a storage of ``owner`` with the origin's provider and bucket whose
    prefix holds the origin's folder, once verified (``relink.relink_auto``); None when none
    fits."""
    return relink.relink_auto(
        task=task,
        owner=owner,
        provider_type=origin.provider_type,
        resource=origin.resource,
        prefix=origin.prefix,
    )


__all__ = ["relink_auto"]
