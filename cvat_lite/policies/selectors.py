"""Reads for backup policies: what a user may see, and the state shown for a policy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from cvat_lite import errors
from cvat_lite.policies.models import BackupPolicy, PolicyRun, RunStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# A run that ended; "skipped" is not an outcome of the policy's backups.
ENDED = (RunStatus.SUCCEEDED, RunStatus.FAILED)


def policies_visible(user: User) -> QuerySet[BackupPolicy]:
    qs = BackupPolicy.objects.select_related("owner", "target_owner")
    return qs if user.is_superuser else qs.filter(owner=user)


def policy_get(*, user: User, policy_id: object) -> BackupPolicy:
    try:
        pk = int(str(policy_id))
    except ValueError:
        raise errors.NotFound() from None
    policy = policies_visible(user).filter(pk=pk).first()
    if policy is None:
        raise errors.NotFound()
    return policy


def policy_last_run(policy: BackupPolicy) -> PolicyRun | None:
    """The last run that ended (succeeded or failed): what ``--check`` and the UI judge."""
    return policy.runs.filter(status__in=ENDED).order_by("-id").first()


def policy_failing(policy: BackupPolicy) -> bool:
    last = policy_last_run(policy)
    return last is not None and last.status == RunStatus.FAILED
