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
