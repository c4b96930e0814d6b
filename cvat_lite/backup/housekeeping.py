"""The scheduled housekeeping: what reads only report, recorded and removed here.

A GET of a request or of an export result writes nothing (``requests.selectors
.request_effective``): a request whose worker died reads as failed, an expired result as gone.
This job records it: it marks those requests failed and removes their scratch folders
(``requests.services.requests_reconcile_active``), removes expired and orphaned export results
(``export_results.exports_cleanup``) and abandoned uploads (``uploads.services.uploads_expire``).

It runs in the workers' scheduler (``rqworker --with-scheduler``; ``cvat-lite serve`` starts
one) every ``CVAT_LITE_HOUSEKEEPING_INTERVAL`` seconds: each run arms the next one, at the next
multiple of the interval, under a job id naming that time (``housekeeping-at-<epoch>``), so two
workers arming the same time make one job. A worker arms it when it starts, so a lost Redis
forgets it only until the next worker start. A new export also cleans up old results, and
``cvat-lite cleanup_exports`` / ``cleanup_uploads`` do the same parts from cron. In the
``backup`` layer because it is the lowest that sees requests, uploads and export results.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

import django_rq
from django.conf import settings
from rq.registry import ScheduledJobRegistry

from cvat_lite.backup.export_results import exports_cleanup
from cvat_lite.requests.services import requests_reconcile_active
from cvat_lite.uploads.services import uploads_expire

logger = logging.getLogger("cvat_lite.housekeeping")

QUEUE = "export"
JOB_PREFIX = "housekeeping-at-"


def housekeeping_run() -> dict[str, int]:
    """The scheduled job: arm the next run, then record and remove (see the module)."""
    housekeeping_arm()
    done = {
        "requests_failed": requests_reconcile_active(),
        "exports_removed": exports_cleanup(),
        "uploads_removed": uploads_expire(older_than=timedelta(seconds=settings.UPLOAD_TTL)),
    }
    if any(done.values()):
        logger.info("Housekeeping: %s", done)
    return done


def next_run(after: datetime) -> datetime:
    """The first multiple of the interval strictly after ``after`` (UTC)."""
    interval = max(1, int(settings.HOUSEKEEPING_INTERVAL))
    slot = math.floor(after.timestamp() / interval) + 1
    return datetime.fromtimestamp(slot * interval, UTC)


def scheduled_runs() -> list[str]:
    """The ids of the scheduled housekeeping jobs (normally one)."""
    registry = ScheduledJobRegistry(queue=django_rq.get_queue(QUEUE))
    return [job_id for job_id in registry.get_job_ids() if job_id.startswith(JOB_PREFIX)]


def housekeeping_arm(*, after: datetime | None = None) -> datetime:
    """Schedule the next run after ``after`` (default: now); other scheduled runs are removed.
    Returns its time."""
    when = next_run(after or datetime.now(UTC))
    job_id = f"{JOB_PREFIX}{int(when.timestamp())}"
    queue = django_rq.get_queue(QUEUE)
    registry = ScheduledJobRegistry(queue=queue)
    for other in scheduled_runs():
        if other != job_id:
            registry.remove(other, delete_job=True)
    queue.enqueue_at(when, housekeeping_run, job_id=job_id, result_ttl=3600, failure_ttl=24 * 3600)
    return when
