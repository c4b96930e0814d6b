"""Shared pieces of the backup policy tests: creating policies, moving the scheduler's clock,
running the CLI."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from io import StringIO
from unittest import mock

import django_rq
from django.core.management import call_command
from rq.scheduler import RQScheduler

from cvat_lite.policies.models import BackupPolicy


def create_policy(api, **fields) -> dict:
    body = {
        "name": "nightly",
        "scope": "all",
        "location": "local",
        "cron": "0 2 * * *",
        "timezone": "UTC",
        **fields,
    }
    response = api.post("/api/backup/policies", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def policy(policy_id: int) -> BackupPolicy:
    return BackupPolicy.objects.get(pk=policy_id)


@contextmanager
def scheduler_clock(when: datetime):
    """RQ's scheduler, believing it is ``when``: ``enqueue_scheduled_jobs`` moves the jobs due
    by then to their queue (rq reads the time through ``rq.scheduler.current_timestamp``)."""
    queue = django_rq.get_queue("export")
    scheduler = RQScheduler([queue], connection=queue.connection)
    scheduler.acquire_locks()
    try:
        with mock.patch("rq.scheduler.current_timestamp", return_value=int(when.timestamp())):
            yield scheduler
    finally:
        scheduler.release_locks()


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("backup", "policies", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()
