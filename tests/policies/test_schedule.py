"""A policy runs on its cron schedule through RQ's own scheduler (time moved with the
scheduler's clock, not by sleeping), re-arms itself after each fire, and is re-armed when a
worker starts after Redis lost it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from rq.registry import ScheduledJobRegistry

from cvat_lite.policies import schedule, services
from cvat_lite.policies.models import PolicyArchive, PolicyRun
from cvat_lite.requests.models import Request
from cvat_lite.worker import Worker
from tests.backup.export_helpers import make_local_task
from tests.policies.helpers import create_policy, policy, scheduler_clock

pytestmark = pytest.mark.django_db(transaction=True)


def _registry() -> ScheduledJobRegistry:
    return ScheduledJobRegistry(queue=django_rq.get_queue("export"))


@pytest.mark.parametrize(
    ("cron", "tz", "after", "expected"),
    [
        # 02:30 Berlin is 01:30Z in winter, 00:30Z in summer.
        ("30 2 * * *", "Europe/Berlin", "2026-01-10 12:00", "2026-01-11 01:30"),
        ("30 2 * * *", "Europe/Berlin", "2026-07-10 12:00", "2026-07-11 00:30"),
        # 2026-03-29 02:30 does not exist in Berlin (clocks jump 02:00 -> 03:00).
        ("30 2 * * *", "Europe/Berlin", "2026-03-28 12:00", "2026-03-29 01:00"),
        ("0 9 * * 1", "America/New_York", "2026-12-03 00:00", "2026-12-07 14:00"),
        ("@daily", "UTC", "2026-12-03 10:00", "2026-12-04 00:00"),
    ],
)
def test_next_fire_is_the_cron_time_in_the_policy_time_zone(cron, tz, after, expected):
    parse = lambda text: datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)  # noqa: E731
    assert schedule.next_fire(cron=cron, tz=tz, after=parse(after)) == parse(expected)


def test_a_policy_runs_when_the_scheduler_says_it_is_time(admin_api, drain):
    task, _ = make_local_task(admin_api, drain, name="street")
    created = create_policy(admin_api, cron="0 2 * * *", timezone="Europe/Berlin", keep_last=3)
    fire = datetime.fromisoformat(created["next_run"])
    assert fire == schedule.next_fire(cron="0 2 * * *", tz="Europe/Berlin", after=datetime.now(UTC))
    assert schedule.scheduled_fires(created["id"]) == [schedule.fire_job_id(created["id"], fire)]

    # A second before: nothing is due.
    with scheduler_clock(fire - timedelta(seconds=1)) as scheduler:
        scheduler.enqueue_scheduled_jobs()
    assert drain("export") == 0
    assert not PolicyRun.objects.exists()

    with scheduler_clock(fire) as scheduler:
        scheduler.enqueue_scheduled_jobs()
    assert drain("export") == 1  # the fire job: it submits the run request
    run = PolicyRun.objects.get()
    assert run.trigger == "schedule"
    assert Request.objects.get(pk=run.request_id).target == "policy"
    drain("export")  # the run
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.written == 1
    archive = PolicyArchive.objects.get()
    assert (archive.kind, archive.object_id) == ("task", task.id)
    request = admin_api.get(f"/api/requests/{run.request_id}").json()
    assert request["status"] == "finished"
    assert request["progress"] == 1.0
    assert request["operation"]["type"] == "export:backup"
    assert request["operation"]["target"] == "policy"

    # Re-armed for the next day, from the job itself.
    following = schedule.next_fire(cron="0 2 * * *", tz="Europe/Berlin", after=fire)
    assert schedule.scheduled_fires(created["id"]) == [
        schedule.fire_job_id(created["id"], following)
    ]
    assert admin_api.get(f"/api/backup/policies/{created['id']}").json()["next_run"] == (
        following.isoformat()
    )


def test_changing_the_cron_moves_the_scheduled_job(admin_api):
    created = create_policy(admin_api, cron="0 2 * * *")
    response = admin_api.patch(
        f"/api/backup/policies/{created['id']}", {"cron": "15 4 * * *"}, format="json"
    )
    assert response.status_code == 200, response.content
    fires = schedule.scheduled_fires(created["id"])
    assert len(fires) == 1
    when = _registry().get_scheduled_time(fires[0])
    assert (when.hour, when.minute) == (4, 15)

    admin_api.patch(f"/api/backup/policies/{created['id']}", {"enabled": False}, format="json")
    assert schedule.scheduled_fires(created["id"]) == []
    assert admin_api.get(f"/api/backup/policies/{created['id']}").json()["next_run"] is None
    admin_api.patch(f"/api/backup/policies/{created['id']}", {"enabled": True}, format="json")
    assert len(schedule.scheduled_fires(created["id"])) == 1
    admin_api.delete(f"/api/backup/policies/{created['id']}")
    assert schedule.scheduled_fires(created["id"]) == []


def test_a_worker_starting_rearms_a_lost_schedule(admin_api):
    created = create_policy(admin_api)
    django_rq.get_connection("export").flushdb()  # Redis lost everything
    assert schedule.scheduled_fires(created["id"]) == []

    queue = django_rq.get_queue("export")
    Worker([queue], connection=queue.connection).work(burst=True)

    expected = schedule.next_fire(cron="0 2 * * *", tz="UTC", after=datetime.now(UTC))
    assert schedule.scheduled_fires(created["id"]) == [
        schedule.fire_job_id(created["id"], expected)
    ]
    # Starting another worker does not add a second fire.
    Worker([queue], connection=queue.connection).work(burst=True)
    assert len(schedule.scheduled_fires(created["id"])) == 1
    assert policy(created["id"]).enabled


def test_a_fire_while_the_previous_run_is_queued_is_recorded_as_skipped(admin_api, drain):
    created = create_policy(admin_api)
    response = admin_api.post(f"/api/backup/policies/{created['id']}/run")
    assert response.status_code == 202
    again = admin_api.post(f"/api/backup/policies/{created['id']}/run")
    assert again.status_code == 409
    assert again.json()["extra"]["rq_id"] == response.json()["request_id"]

    fire = datetime.fromisoformat(created["next_run"])
    with scheduler_clock(fire) as scheduler:
        scheduler.enqueue_scheduled_jobs()
    queue = django_rq.get_queue("export")
    fire_job = queue.jobs[-1]
    assert fire_job.func_name == schedule.FIRE_FUNC
    queue.remove(fire_job)
    fire_job.perform()  # the schedule fires while the manual run is still queued
    skipped = PolicyRun.objects.get(trigger="schedule")
    assert skipped.status == "skipped"
    assert skipped.error == services.MSG_PREVIOUS_RUNNING
    assert drain("export") == 1
    assert PolicyRun.objects.get(trigger="manual").status == "succeeded"
    # A skipped run is not an outcome: the policy's last status is the manual run's.
    body = admin_api.get(f"/api/backup/policies/{created['id']}").json()
    assert body["last_status"] == "succeeded"


def test_the_scheduled_fire_names_the_job_function():
    """The path RQ keeps with every scheduled fire (in Redis, across deployments) resolves."""
    from django.utils.module_loading import import_string

    from cvat_lite.policies import jobs

    assert import_string(schedule.FIRE_FUNC) is jobs.policy_fire
