"""When a policy runs: its cron expression in its time zone, armed in RQ's own scheduler.

Each enabled policy has exactly one scheduled RQ job, ``policy-<id>-at-<epoch>``, in the
``export`` queue's ``ScheduledJobRegistry`` (``Queue.enqueue_at``). The scheduler that runs
inside the workers (``rqworker --with-scheduler``) moves it to the queue when its time comes;
the job (``cvat_lite.policies.jobs.policy_fire``) arms the next fire time first, then submits
the run. The job id names the fire time, so arming the same time twice (two workers starting
at once) is one job, and arming after a change of the cron expression removes the old one.
``policies_rearm`` (run when a worker starts) recreates what a lost Redis forgot.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import django_rq
from croniter import croniter
from rq.registry import ScheduledJobRegistry

from cvat_lite import errors
from cvat_lite.policies.models import BackupPolicy

logger = logging.getLogger("cvat_lite.policies")

QUEUE = "export"
FIRE_FUNC = "cvat_lite.policies.jobs.policy_fire"
MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

MSG_BAD_CRON = (
    "'{cron}' is not a cron expression: five fields (minute hour day-of-month month "
    "day-of-week) or one of {macros}."
)
MSG_BAD_TIMEZONE = "'{tz}' is not an IANA time zone name (e.g. 'UTC', 'Europe/Berlin')."


def validate_cron(cron: str) -> str:
    """The expression, stripped; BadRequest unless it has five fields croniter accepts (no
    seconds field: a backup every second is a mistake) or is one of ``MACROS``."""
    cron = " ".join(cron.split())
    ok = cron.lower() in MACROS or (len(cron.split(" ")) == 5 and croniter.is_valid(cron))
    if not ok:
        raise errors.BadRequest(
            MSG_BAD_CRON.format(cron=cron, macros=", ".join(MACROS)), code="invalid_cron"
        )
    return cron


def validate_timezone(tz: str) -> str:
    if tz not in available_timezones():
        raise errors.BadRequest(MSG_BAD_TIMEZONE.format(tz=tz), code="invalid_timezone")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise errors.BadRequest(MSG_BAD_TIMEZONE.format(tz=tz), code="invalid_timezone") from None
    return tz


def next_fire(*, cron: str, tz: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that ``cron`` names on the wall clock of ``tz``,
    in UTC. croniter walks local time: a time skipped by a DST change fires at the first
    existing minute after it, a repeated one fires once."""
    local = after.astimezone(ZoneInfo(tz))
    return croniter(cron, local).get_next(datetime).astimezone(UTC)


def fire_job_id(policy_id: int, when: datetime) -> str:
    return f"policy-{policy_id}-at-{int(when.timestamp())}"


def _registry() -> ScheduledJobRegistry:
    queue = django_rq.get_queue(QUEUE)
    return ScheduledJobRegistry(queue=queue)


def scheduled_fires(policy_id: int) -> list[str]:
    """The ids of the policy's scheduled fire jobs (normally one)."""
    marker = f"policy-{policy_id}-at-"
    return [job_id for job_id in _registry().get_job_ids() if job_id.startswith(marker)]


def policy_disarm(policy_id: int) -> None:
    registry = _registry()
    for job_id in scheduled_fires(policy_id):
        registry.remove(job_id, delete_job=True)


def policy_arm(policy: BackupPolicy, *, after: datetime | None = None) -> datetime | None:
    """Schedule the policy's next fire after ``after`` (default: now); any other scheduled fire
    of the policy is removed. A disabled policy is only disarmed. Returns the fire time."""
    if not policy.enabled:
        policy_disarm(policy.id)
        return None
    when = next_fire(cron=policy.cron, tz=policy.timezone, after=after or datetime.now(UTC))
    job_id = fire_job_id(policy.id, when)
    registry = _registry()
    for other in scheduled_fires(policy.id):
        if other != job_id:
            registry.remove(other, delete_job=True)
    queue = django_rq.get_queue(QUEUE)
    queue.enqueue_at(
        when,
        FIRE_FUNC,
        policy.id,
        int(when.timestamp()),
        job_id=job_id,
        result_ttl=3600,
        failure_ttl=24 * 3600,
    )
    return when


def scheduled_at(policy_id: int) -> datetime | None:
    """When the policy's scheduled job fires, from the registry itself (None: not armed)."""
    registry = _registry()
    times = []
    for job_id in scheduled_fires(policy_id):
        try:
            times.append(registry.get_scheduled_time(job_id))
        except Exception:  # noqa: BLE001, S112 - removed meanwhile
            continue
    return min(times) if times else None


def policies_rearm() -> int:
    """Arm every enabled policy that has no scheduled fire (a lost Redis, a new deployment);
    disarm the disabled ones. Returns how many were armed."""
    armed = 0
    for policy in BackupPolicy.objects.all():
        if not policy.enabled:
            policy_disarm(policy.id)
        elif not scheduled_fires(policy.id):
            policy_arm(policy)
            armed += 1
    return armed
