from __future__ import annotations

import pytest
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.requests import services
from cvat_lite.requests.jobs import RequestResult
from cvat_lite.requests.models import Request, RequestStatus
from cvat_lite.requests.services import RequestSpec

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_TEXT = "/srv/secret/path/credentials-XYZ"


def succeed(*, progress, value: int) -> RequestResult:
    progress(0.5, force=True)
    return RequestResult(result_id=value, message="Done.")


def fail_cleanly(*, progress) -> RequestResult:
    raise errors.BadRequest("The archive is not a ZIP file.")


def crash(*, progress) -> RequestResult:
    raise RuntimeError(SECRET_TEXT)


def _submit(owner, func: str, rq_id: str | None = None, **kwargs) -> Request:
    spec = RequestSpec(
        action="create",
        target="task",
        func=globals()[func],
        kwargs=kwargs,
        target_id=7,
        task_id=7,
    )
    return services.request_submit(owner=owner, spec=spec, rq_id=rq_id)


def test_lifecycle_and_shape(api, user, drain):
    request = _submit(user, "succeed", value=42)
    body = api.get(f"/api/requests/{request.id}").json()
    assert body["status"] == "queued"
    assert body["message"] == ""
    assert body["operation"] == {
        "type": "create:task",
        "target": "task",
        "project_id": None,
        "task_id": 7,
        "job_id": None,
        "format": None,
        "lightweight": None,
    }
    assert body["owner"] == {"id": user.id, "username": user.username}
    assert drain() == 1
    body = api.get(f"/api/requests/{request.id}/").json()
    assert body["status"] == "finished"
    assert body["progress"] == 1.0
    assert body["result_id"] == 42
    assert body["message"] == "Done."
    assert body["result_url"] is None
    assert body["finished_date"] is not None


def test_domain_failure_message(api, user, drain):
    request = _submit(user, "fail_cleanly")
    drain()
    body = api.get(f"/api/requests/{request.id}").json()
    assert body["status"] == "failed"
    assert body["message"] == "The archive is not a ZIP file."


def test_internal_failure_hides_exception_text(api, user, drain):
    request = _submit(user, "crash")
    drain()
    body = api.get(f"/api/requests/{request.id}").json()
    assert body["status"] == "failed"
    assert body["message"] == services.MSG_INTERNAL
    assert SECRET_TEXT not in str(body)


def test_list_filters_and_visibility(api, other_api, admin_api, user, other_user):
    mine = _submit(user, "succeed", value=1)
    theirs = _submit(other_user, "succeed", value=2)
    ids = [r["id"] for r in api.get("/api/requests").json()["results"]]
    assert ids == [mine.id]
    assert other_api.get(f"/api/requests/{mine.id}").status_code == 404
    assert {r["id"] for r in admin_api.get("/api/requests").json()["results"]} == {
        mine.id,
        theirs.id,
    }
    assert api.get("/api/requests?status=queued").json()["count"] == 1
    assert api.get("/api/requests?status=finished").json()["count"] == 0
    assert api.get("/api/requests?task_id=7&action=create&target=task").json()["count"] == 1
    response = api.get("/api/requests?status=bogus")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_duplicate_deterministic_id_conflicts(user):
    first = _submit(user, "succeed", rq_id="export-task-7-backup", value=1)
    with pytest.raises(errors.Conflict) as info:
        _submit(user, "succeed", rq_id="export-task-7-backup", value=1)
    assert info.value.extra == {"rq_id": first.id}
    assert Request.objects.count() == 1


def test_a_conflict_with_another_users_request_does_not_name_it(user, admin_user):
    # One relink per task: its owner's and an administrator's share the id.
    mine = _submit(admin_user, "succeed", rq_id="update-task-7-cloud_storage", value=1)
    with pytest.raises(errors.Conflict) as info:
        _submit(user, "succeed", rq_id="update-task-7-cloud_storage", value=1)
    assert info.value.code == "request_already_running"
    assert info.value.extra == {}  # the owner cannot read the administrator's request
    assert "another user" in info.value.message
    Request.objects.filter(pk=mine.id).update(owner=user)
    with pytest.raises(errors.Conflict) as info:  # a superuser may read anyone's: named
        _submit(admin_user, "succeed", rq_id="update-task-7-cloud_storage", value=1)
    assert info.value.extra == {"rq_id": mine.id}


def test_finished_deterministic_id_is_replaced(user, drain):
    _submit(user, "succeed", rq_id="export-task-7-backup", value=1)
    drain()
    again = _submit(user, "succeed", rq_id="export-task-7-backup", value=2)
    assert again.status == RequestStatus.QUEUED
    drain()
    assert Request.objects.get(pk=again.id).result_id == 2


def test_cancel_queued_only(api, user, drain):
    request = _submit(user, "succeed", value=1)
    assert api.post(f"/api/requests/{request.id}/cancel").status_code == 200
    body = api.get(f"/api/requests/{request.id}").json()
    assert body["status"] == "failed"
    assert body["message"] == services.MSG_CANCELLED
    assert drain() == 0  # the job is gone
    response = api.post(f"/api/requests/{request.id}/cancel")
    assert response.status_code == 400
    assert response.json()["code"] == "request_not_cancellable"


def test_lost_job_is_reported_failed(api, user):
    request = Request.objects.create(
        id="create-task-1-data-lost", owner=user, action="create", target="task"
    )
    Request.objects.filter(pk=request.id).update(
        status=RequestStatus.STARTED, created_date=timezone.now() - timezone.timedelta(minutes=5)
    )
    body = api.get(f"/api/requests/{request.id}").json()
    assert body["status"] == "failed"
    assert body["message"] == services.MSG_INTERRUPTED


def _lost(user, rq_id: str) -> Request:
    """A started request whose job Redis does not know, older than a moment, with a file in
    its scratch folder."""
    from cvat_lite.requests.scratch import scratch_dir

    request = Request.objects.create(id=rq_id, owner=user, action="create", target="task")
    Request.objects.filter(pk=rq_id).update(
        status=RequestStatus.STARTED, created_date=timezone.now() - timezone.timedelta(minutes=5)
    )
    folder = scratch_dir(rq_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part").write_bytes(b"x")
    return request


def test_a_get_reports_a_lost_request_failed_and_writes_nothing(api, user):
    from cvat_lite.requests.scratch import scratch_dir

    request = _lost(user, "create-task-1-data-lost")
    before = Request.objects.get(pk=request.id)

    detail = api.get(f"/api/requests/{request.id}").json()
    listed = api.get("/api/requests").json()["results"]
    assert (detail["status"], detail["message"]) == ("failed", services.MSG_INTERRUPTED)
    assert detail["finished_date"] is not None
    assert [(r["id"], r["status"], r["message"]) for r in listed] == [
        (request.id, "failed", services.MSG_INTERRUPTED)
    ]
    after = Request.objects.get(pk=request.id)
    assert (after.status, after.message, after.finished_date) == (
        before.status,
        before.message,
        before.finished_date,
    )
    assert (scratch_dir(request.id) / "part").read_bytes() == b"x"

    # The housekeeping records it and removes what its worker left.
    assert services.requests_reconcile_active() == 1
    after = Request.objects.get(pk=request.id)
    assert (after.status, after.message) == (RequestStatus.FAILED, services.MSG_INTERRUPTED)
    assert not scratch_dir(request.id).exists()
    again = api.get(f"/api/requests/{request.id}").json()
    assert (again["status"], again["message"]) == ("failed", services.MSG_INTERRUPTED)


def test_the_status_filter_goes_by_the_status_shown_and_writes_nothing(api, user):
    """A lost request (still ``started`` in its row) is listed under ``failed``, with a count
    that matches its pages, and not under ``started``; the list writes nothing."""
    lost = _lost(user, "create-task-1-data-lost")
    running = _submit(user, "succeed", value=1)  # its job is queued: not lost
    Request.objects.filter(pk=running.id).update(status=RequestStatus.STARTED)
    done = _submit(user, "succeed", value=2)
    Request.objects.filter(pk=done.id).update(status=RequestStatus.FAILED)

    def listed(query: str) -> tuple[int, list[tuple[str, str]]]:
        body = api.get(f"/api/requests?{query}").json()
        return body["count"], [(r["id"], r["status"]) for r in body["results"]]

    assert listed("status=failed") == (2, [(done.id, "failed"), (lost.id, "failed")])
    assert listed("status=started") == (1, [(running.id, "started")])
    assert listed("status=queued") == (0, [])
    assert listed("status=failed&task_id=7") == (1, [(done.id, "failed")])
    first = api.get("/api/requests?status=failed&page_size=1").json()
    second = api.get("/api/requests?status=failed&page_size=1&page=2").json()
    assert (first["count"], second["count"]) == (2, 2)
    assert [r["id"] for r in first["results"] + second["results"]] == [done.id, lost.id]
    assert Request.objects.get(pk=lost.id).status == RequestStatus.STARTED


def test_a_request_whose_worker_missed_its_heartbeat_reads_as_failed(api, user):
    """A started job past its deadline in rq's started-job registry (a killed worker): the
    GET reads it failed and leaves rq's registry and the row alone; the housekeeping runs rq's
    cleanup and records the failure."""
    import django_rq
    from rq.job import JobStatus

    request = _submit(user, "succeed", value=1)
    queue = django_rq.get_queue("create")
    job = queue.fetch_job(request.id)
    registry = job.started_job_registry
    connection = queue.connection
    with connection.pipeline() as pipe:
        job.set_status(JobStatus.STARTED, pipeline=pipe)
        pipe.zadd(registry.key, {f"{job.id}:lost-execution": 1})  # a deadline long past
        pipe.execute()
    queue.remove(job.id)
    Request.objects.filter(pk=request.id).update(status=RequestStatus.STARTED)

    body = api.get(f"/api/requests/{request.id}").json()
    assert (body["status"], body["message"]) == ("failed", services.MSG_INTERRUPTED)
    listed = api.get("/api/requests?status=failed").json()
    assert (listed["count"], [r["id"] for r in listed["results"]]) == (1, [request.id])
    assert api.get("/api/requests?status=started").json()["count"] == 0
    assert Request.objects.get(pk=request.id).status == RequestStatus.STARTED
    assert job.get_status(refresh=True) == JobStatus.STARTED
    assert registry.get_expired_job_ids() == [job.id]

    assert services.requests_reconcile_active() == 1
    assert Request.objects.get(pk=request.id).status == RequestStatus.FAILED
    assert job.get_status(refresh=True) == JobStatus.FAILED


def test_percent_encoded_id(api, user):
    request = _submit(user, "succeed", rq_id="export-task-7", value=1)
    assert api.get("/api/requests/export%2Dtask%2D7").json()["id"] == request.id


def test_anonymous_is_401(anon_api):
    response = anon_api.get("/api/requests")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_job_a_worker_could_not_import_is_refused_at_submit(user):
    def nested(*, progress) -> RequestResult:
        return RequestResult()

    spec = RequestSpec(action="create", target="task", func=nested, target_id=7, task_id=7)
    with pytest.raises(TypeError, match="not a module-level function"):
        services.request_submit(owner=user, spec=spec)
    assert not Request.objects.exists()
