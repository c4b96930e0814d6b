"""The scheduled housekeeping (backup/housekeeping.py): armed once per interval slot, by a
worker's start and by each run; a run records lost requests and removes expired results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from django.utils import timezone

from cvat_lite.backup import housekeeping
from cvat_lite.requests.models import Request, RequestStatus
from cvat_lite.requests.services import MSG_INTERRUPTED
from cvat_lite.worker import Worker

pytestmark = pytest.mark.django_db(transaction=True)


def test_next_run_is_the_next_multiple_of_the_interval(settings):
    settings.HOUSEKEEPING_INTERVAL = 300
    at = datetime(2026, 1, 1, 10, 4, 59, tzinfo=UTC)
    assert housekeeping.next_run(at) == datetime(2026, 1, 1, 10, 5, tzinfo=UTC)
    assert housekeeping.next_run(datetime(2026, 1, 1, 10, 5, tzinfo=UTC)) == datetime(
        2026, 1, 1, 10, 10, tzinfo=UTC
    )


def test_arming_twice_schedules_one_run():
    when = housekeeping.housekeeping_arm()
    assert housekeeping.housekeeping_arm() == when
    assert housekeeping.scheduled_runs() == [f"housekeeping-at-{int(when.timestamp())}"]
    later = housekeeping.housekeeping_arm(after=when)
    assert later > when
    assert housekeeping.scheduled_runs() == [f"housekeeping-at-{int(later.timestamp())}"]


def test_a_worker_starting_arms_it():
    django_rq.get_connection("export").flushdb()  # Redis lost everything
    assert housekeeping.scheduled_runs() == []
    queue = django_rq.get_queue("export")
    Worker([queue], connection=queue.connection).work(burst=True)
    assert len(housekeeping.scheduled_runs()) == 1
    Worker([queue], connection=queue.connection).work(burst=True)
    assert len(housekeeping.scheduled_runs()) == 1


def test_a_run_records_lost_requests_and_arms_the_next(user):
    lost = Request.objects.create(id="import-task-lost", owner=user, action="import", target="task")
    Request.objects.filter(pk=lost.id).update(created_date=timezone.now() - timedelta(minutes=5))
    fresh = Request.objects.create(id="import-task-new", owner=user, action="import", target="task")

    done = housekeeping.housekeeping_run()

    assert done["requests_failed"] == 1
    row = Request.objects.get(pk=lost.id)
    assert (row.status, row.message) == (RequestStatus.FAILED, MSG_INTERRUPTED)
    assert Request.objects.get(pk=fresh.id).status == RequestStatus.QUEUED  # a moment old
    assert len(housekeeping.scheduled_runs()) == 1
