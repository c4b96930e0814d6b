"""Writes for background requests: create + enqueue (after commit), state transitions, progress.

A request row is created in the caller's transaction; its RQ job is enqueued only once that
transaction commits, so a worker never sees a request whose rows do not exist yet.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rq.job import JobStatus

from cvat_lite import errors
from cvat_lite.requests.models import Request, RequestAction, RequestStatus
from cvat_lite.requests.scratch import scratch_remove

logger = logging.getLogger("cvat_lite.requests")

RUNNER = "cvat_lite.requests.jobs.run_request"
MSG_ALREADY_RUNNING = "The same request is already queued or running."
MSG_CANCELLED = "The request was cancelled."
MSG_CANNOT_CANCEL = "Only a request that has not started yet can be cancelled."
MSG_INTERRUPTED = "The request was interrupted (its worker stopped). Try again."
MSG_INTERNAL = "The request failed because of an internal error."

ACTIVE_STATUSES = (RequestStatus.QUEUED, RequestStatus.STARTED)
DEAD_JOB_STATUSES = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
QUEUE_FOR_ACTION = {
    RequestAction.CREATE: "create",
    RequestAction.EXPORT: "export",
    RequestAction.IMPORT: "import",
}


@dataclass(frozen=True)
class RequestSpec:
    """What to run: ``func`` (a dotted path to a service taking ``progress=`` and ``kwargs``)."""

    action: str
    target: str
    func: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    subresource: str = ""
    target_id: int | None = None
    task_id: int | None = None
    project_id: int | None = None
    format: str = ""
    lightweight: bool | None = None
    params: dict[str, Any] = field(default_factory=dict)


def new_request_id(action: str, target: str, target_id: int | None, subresource: str) -> str:
    """An opaque, URL-safe, unique id (import and create requests)."""
    obj = f"{target}-{target_id}" if target_id is not None else target
    return f"{action}-{obj}-{subresource or 'data'}-{uuid.uuid4().hex}"


def request_submit(*, owner, spec: RequestSpec, rq_id: str | None = None) -> Request:
    """Create the request row and enqueue its job after commit.

    With a deterministic ``rq_id`` (exports), a request with that id that is still queued or
    running is a 409 naming it; a finished or failed one is replaced.
    """
    rq_id = rq_id or new_request_id(spec.action, spec.target, spec.target_id, spec.subresource)
    queue = django_rq.get_queue(QUEUE_FOR_ACTION[RequestAction(spec.action)])
    # Redis down: fail (503) before a request row is saved that no job would ever run.
    queue.connection.ping()
    already_running = errors.Conflict(
        MSG_ALREADY_RUNNING, code="request_already_running", extra={"rq_id": rq_id}
    )
    try:
        with transaction.atomic():
            existing = Request.objects.select_for_update().filter(pk=rq_id).first()
            if existing is not None:
                existing = _reconcile(existing)
                if existing.status in ACTIVE_STATUSES:
                    raise already_running
                _discard_result(existing)
                existing.delete()
            request = Request.objects.create(
                id=rq_id,
                owner=owner,
                action=spec.action,
                target=spec.target,
                subresource=spec.subresource,
                target_id=spec.target_id,
                task_id=spec.task_id,
                project_id=spec.project_id,
                format=spec.format,
                lightweight=spec.lightweight,
                params=spec.params,
            )
            transaction.on_commit(
                lambda: queue.enqueue_call(
                    func=RUNNER,
                    args=(rq_id, spec.func, spec.kwargs),
                    job_id=rq_id,
                    timeout=int(settings.RQ_QUEUES[queue.name].get("DEFAULT_TIMEOUT", 3600)),
                    result_ttl=3600,
                    failure_ttl=24 * 3600,
                )
            )
    except IntegrityError:
        # A concurrent submit of the same id committed first (on PostgreSQL, FOR UPDATE cannot
        # lock a row that does not exist yet, so both got past the check).
        raise already_running from None
    return request


def request_mark_started(*, request_id: str) -> None:
    Request.objects.filter(pk=request_id).update(
        status=RequestStatus.STARTED, started_date=timezone.now(), progress=0.0
    )


def request_mark_finished(
    *, request_id: str, result_id: int | None = None, result_file: str = "",
    result_filename: str = "", message: str = "", expires: bool = False,
) -> None:  # fmt: skip
    now = timezone.now()
    Request.objects.filter(pk=request_id).update(
        status=RequestStatus.FINISHED,
        finished_date=now,
        progress=1.0,
        result_id=result_id,
        result_file=result_file,
        result_filename=result_filename,
        message=message,
        expiry_date=now + timedelta(seconds=settings.EXPORT_TTL) if expires else None,
    )


def request_mark_failed(*, request_id: str, message: str) -> None:
    Request.objects.filter(pk=request_id).exclude(status=RequestStatus.FINISHED).update(
        status=RequestStatus.FAILED, finished_date=timezone.now(), message=message
    )


def request_cancel(*, request: Request) -> Request:
    request = _reconcile(request)
    if request.status != RequestStatus.QUEUED:
        raise errors.BadRequest(MSG_CANNOT_CANCEL, code="request_not_cancellable")
    job = _rq_job(request.id)
    if job is not None:
        job.cancel()
        job.delete()
    request_mark_failed(request_id=request.id, message=MSG_CANCELLED)
    scratch_remove(request.id)
    request.refresh_from_db()
    return request


class ProgressReporter:
    """Writes a request's progress (0..1) to the database at most every ``interval`` seconds."""

    def __init__(self, request_id: str, *, interval: float = 0.5):
        self.request_id = request_id
        self.interval = interval
        self._last = 0.0

    def __call__(self, fraction: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        Request.objects.filter(pk=self.request_id, status=RequestStatus.STARTED).update(
            progress=max(0.0, min(1.0, float(fraction)))
        )


def _rq_job(request_id: str):
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        return Job.fetch(request_id, connection=django_rq.get_connection("create"))
    except NoSuchJobError:
        return None


def _job_dead(job) -> bool:
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED:
        # rq's own rule: a started job past the deadline its worker's heartbeat sets
        # (cvat_lite.requests.worker) was abandoned; the cleanup marks it failed.
        job.started_job_registry.cleanup()
        status = job.get_status(refresh=True)
    return status in DEAD_JOB_STATUSES


def _reconcile(request: Request) -> Request:
    """A request the database says is active but whose RQ job is gone or dead has failed; the
    files its worker left in the request's scratch folder are removed."""
    if request.status not in ACTIVE_STATUSES:
        return request
    job = _rq_job(request.id)
    if job is None:
        # The row commits before the job is enqueued; only a request older than a moment
        # without a job is considered lost.
        if timezone.now() - request.created_date < timedelta(seconds=30):
            return request
        dead = True
    else:
        dead = _job_dead(job)
    if dead:
        request_mark_failed(request_id=request.id, message=MSG_INTERRUPTED)
        request.refresh_from_db()
        if request.status == RequestStatus.FAILED:
            scratch_remove(request.id)
    return request


def _discard_result(request: Request) -> None:
    if request.result_file:
        from cvat_lite.store import result_key, shared_store

        with contextlib.suppress(ValueError):
            shared_store().delete(result_key(request.result_file))


reconcile = _reconcile
