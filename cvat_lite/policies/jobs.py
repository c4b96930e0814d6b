"""The RQ job function of backup policies' schedules: takes ids, calls one service.

``schedule.FIRE_FUNC`` names it by its dotted path, which RQ keeps in Redis with each scheduled
fire until it fires (days or weeks, across deployments): renaming or moving it needs the old
path kept for one release (tests/policies/test_schedule.py checks the path resolves).
"""

from __future__ import annotations

from django.db import close_old_connections

from cvat_lite.policies import services


def policy_fire(policy_id: int, fire_ts: int) -> None:
    """Scheduled by ``schedule.policy_arm`` at the policy's next fire time."""
    close_old_connections()
    try:
        services.policy_fire(policy_id=policy_id, fire_ts=fire_ts)
    finally:
        close_old_connections()
