"""The RQ job functions of backup policies: take ids, call one service."""

from __future__ import annotations

from django.db import close_old_connections

from cvat_lite.backup.export import Progress
from cvat_lite.requests.jobs import RequestResult


def policy_fire(policy_id: int, fire_ts: int) -> None:
    """Scheduled by ``schedule.policy_arm`` at the policy's next fire time."""
    from cvat_lite.policies.services import policy_fire as fire

    close_old_connections()
    try:
        fire(policy_id=policy_id, fire_ts=fire_ts)
    finally:
        close_old_connections()


def policy_run_job(*, progress: Progress, run_id: int) -> RequestResult:
    """The request of one run (run by ``cvat_lite.requests.jobs.run_request``)."""
    from cvat_lite.policies.services import policy_run

    return policy_run(run_id=run_id, progress=progress)
