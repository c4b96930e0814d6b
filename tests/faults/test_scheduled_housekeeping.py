"""The housekeeping (backup/housekeeping.py) run by rq's scheduler in a real
``cvat-lite rqworker --with-scheduler``, as ``cvat-lite serve`` starts workers: nothing in this
process calls it. The worker arms it when it starts, each run arms the next, and the runs record
a request whose worker is lost and remove an expired export result."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.utils import timezone
from rq.registry import FinishedJobRegistry

from cvat_lite.backup import housekeeping
from cvat_lite.requests.models import Request, RequestStatus
from cvat_lite.requests.services import MSG_INTERRUPTED
from tests.faults.workers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

INTERVAL_S = "1"
# A worker starts in a few seconds; a loaded machine gets more before the test fails.
TIMEOUT_S = 30.0


def _finished_runs() -> list[str]:
    registry = FinishedJobRegistry(queue=django_rq.get_queue(housekeeping.QUEUE))
    return [
        job_id for job_id in registry.get_job_ids() if job_id.startswith(housekeeping.JOB_PREFIX)
    ]


def _slot(run: str) -> int:
    return int(run.removeprefix(housekeeping.JOB_PREFIX))


def test_the_workers_scheduler_runs_the_housekeeping_and_it_rearms(user, start_worker):
    # A started request whose job Redis does not know, older than a moment: its worker is lost.
    lost = Request.objects.create(id="import-task-lost", owner=user, action="import", target="task")
    Request.objects.filter(pk=lost.id).update(
        status=RequestStatus.STARTED, created_date=timezone.now() - timedelta(minutes=5)
    )
    assert _finished_runs() == []

    worker = start_worker(scheduler=True, HOUSEKEEPING_INTERVAL=INTERVAL_S)

    wait_for(
        lambda: Request.objects.get(pk=lost.id).status == RequestStatus.FAILED,
        "the scheduled housekeeping to record the lost request",
        timeout=TIMEOUT_S,
        workers=(worker,),
    )
    assert Request.objects.get(pk=lost.id).message == MSG_INTERRUPTED
    # The worker armed one run; any other is armed by a run before it.
    earlier = set(wait_for(_finished_runs, "the first run to finish", timeout=TIMEOUT_S))

    # Made after the first run ended: a later run removes it.
    key = f"exports/{uuid.uuid4().hex}.zip"
    result = Path(settings.DATA_DIR) / key
    result.parent.mkdir(parents=True, exist_ok=True)
    result.write_bytes(b"PK")
    expired = Request.objects.create(
        id="export-task-1-backup-expired",
        owner=user,
        action="export",
        target="task",
        subresource="backup",
        status=RequestStatus.FINISHED,
        result_file=key,
        expiry_date=timezone.now() - timedelta(minutes=1),
    )

    wait_for(
        lambda: not result.exists(),
        "a later run to remove the expired export result",
        timeout=TIMEOUT_S,
        workers=(worker,),
    )
    assert Request.objects.get(pk=expired.id).result_file == ""
    later = wait_for(
        lambda: set(_finished_runs()) - earlier, "a later run to finish", timeout=TIMEOUT_S
    )
    assert min(map(_slot, later)) > max(map(_slot, earlier))  # at later times
    worker.check_alive()
