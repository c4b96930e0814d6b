"""Writes for background requests: create + enqueue (after commit), state transitions, progress.

A request row is created in the caller's transaction; its RQ job is enqueued only once that
transaction commits, so a worker never sees a request whose rows do not exist yet.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import django_rq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from rq.job import JobStatus

from cvat_lite import errors
from cvat_lite.requests.jobs import run_request
from cvat_lite.requests.models import Request, RequestAction, RequestStatus
from cvat_lite.requests.scratch import scratch_remove
from cvat_lite.requests.selectors import ACTIVE_STATUSES as ACTIVE_STATUSES
from cvat_lite.requests.selectors import DEAD_JOB_STATUSES as DEAD_JOB_STATUSES
from cvat_lite.requests.selectors import LOST_AFTER
from cvat_lite.requests.selectors import MSG_INTERRUPTED as MSG_INTERRUPTED
from cvat_lite.requests.selectors import rq_job as _rq_job
from cvat_lite.requests.transitions import MSG_INTERNAL as MSG_INTERNAL
from cvat_lite.requests.transitions import request_mark_failed

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger("cvat_lite.requests")

MSG_ALREADY_RUNNING = "The same request is already queued or running."
MSG_ALREADY_RUNNING_OTHER = "The same request, made by another user, is already queued or running."
MSG_CANCELLED = "The request was cancelled."
MSG_CANNOT_CANCEL = "Only a request that has not started yet can be cancelled."
QUEUE_FOR_ACTION = {
    RequestAction.CREATE: "create",
    RequestAction.EXPORT: "export",
    RequestAction.IMPORT: "import",
    RequestAction.UPDATE: "create",  # task data: the queue of data creation
}


@dataclass(frozen=True)
class RequestSpec:
    """What to run: ``func``, a module-level function taking ``progress=`` and ``kwargs`` and
    returning a ``RequestResult`` (referenced, not named: a rename fails at import)."""

    action: str
    target: str
    func: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    subresource: str = ""
    target_id: int | None = None
    task_id: int | None = None
    project_id: int | None = None
    format: str = ""
    lightweight: bool | None = None
    params: dict[str, Any] = field(default_factory=dict)


def job_path(func: Callable[..., Any]) -> str:
    """The dotted path under which RQ stores ``func``, checked in the submitting process: a
    function a worker could not import by that path (nested, a lambda, a method) is refused here,
    not in the worker."""
    path = f"{func.__module__}.{func.__qualname__}"
    try:
        found = import_string(path)
    except ImportError:
        found = None
    if found is not func:
        raise TypeError(f"{path} is not a module-level function: a worker could not import it")
    return path


def new_request_id(action: str, target: str, target_id: int | None, subresource: str) -> str:
    """An opaque, URL-safe, unique id (import and create requests)."""
    obj = f"{target}-{target_id}" if target_id is not None else target
    return f"{action}-{obj}-{subresource or 'data'}-{uuid.uuid4().hex}"


def request_submit(*, owner: User, spec: RequestSpec, rq_id: str | None = None) -> Request:
    """Create the request row and enqueue its job after commit.

    With a deterministic ``rq_id`` (exports, relinks), a request with that id that is still
    queued or running is a 409, naming it to its owner and to superusers (another user gets the
    409 without the id of a request they cannot read); a finished or failed one is replaced.
    """
    rq_id = rq_id or new_request_id(spec.action, spec.target, spec.target_id, spec.subresource)
    func = job_path(spec.func)
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
                    if not (owner.is_superuser or existing.owner_id == owner.pk):
                        # One per object, whoever asked (a relink of a task by its owner and
                        # by an administrator): named only to whom may read it.
                        raise errors.Conflict(
                            MSG_ALREADY_RUNNING_OTHER, code="request_already_running"
                        )
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
                    func=run_request,
                    args=(rq_id, func, spec.kwargs),
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


def _job_dead(job) -> bool:
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED:
        # rq's own rule: a started job past the deadline its worker's heartbeat sets
        # (cvat_lite.worker) was abandoned; the cleanup marks it failed.
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
        if timezone.now() - request.created_date < LOST_AFTER:
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


def requests_reconcile_active() -> int:
    """Record every active request whose worker is lost as failed and remove its scratch
    folder (``reconcile``); run by the scheduled housekeeping. Returns how many failed."""
    failed = 0
    for request_id in Request.objects.filter(status__in=ACTIVE_STATUSES).values_list(
        "pk", flat=True
    ):
        request = Request.objects.filter(pk=request_id).first()
        if request is not None and _reconcile(request).status == RequestStatus.FAILED:
            failed += 1
    return failed
