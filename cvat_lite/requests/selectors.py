"""Reads for background requests: the one place a request's state is read. Only reads.

A request whose worker died is still ``queued`` or ``started`` in the database until a service
records it (``services.reconcile``: the scheduled housekeeping, a new submit of the same id, a
cancel). ``request_effective`` answers what such a request *is*: failed, with the message the
service will record; an export result past its expiry date reads as gone. A GET shows that and
writes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote

import django_rq
from django.db.models import Q, QuerySet
from django.utils import timezone
from rq.job import JobStatus

from cvat_lite import errors
from cvat_lite.requests.models import Request, RequestStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from rq.job import Job

MSG_INTERRUPTED = "The request was interrupted (its worker stopped). Try again."

ACTIVE_STATUSES = (RequestStatus.QUEUED, RequestStatus.STARTED)
DEAD_JOB_STATUSES = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
# The row commits before its job is enqueued: only a request older than this without a job is
# considered lost.
LOST_AFTER = timedelta(seconds=30)


def requests_visible(user: User) -> QuerySet[Request]:
    qs = Request.objects.select_related("owner")
    return qs if user.is_superuser else qs.filter(owner=user)


def request_get(*, user: User, rq_id: str) -> Request:
    request = requests_visible(user).filter(pk=unquote(rq_id)).first()
    if request is None:
        raise errors.NotFound()
    return request


def rq_job(request_id: str) -> Job | None:
    """The RQ job of a request (the job id is the request id), None when Redis has none."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        return Job.fetch(request_id, connection=django_rq.get_connection("create"))
    except NoSuchJobError:
        return None


def requests_worker_lost(requests: Iterable[Request]) -> set[str]:
    """The ids of those of ``requests`` that are active in the database but will never end by
    themselves: the job is gone (Redis lost it), failed or stopped outside the runner, or
    started on a worker whose heartbeat deadline passed (the rule of rq's
    ``StartedJobRegistry.cleanup``, here only read: the registry is left as it is). Of a
    queryset only the active rows are fetched. One Redis round trip for the jobs, one per queue
    holding a started one."""
    from rq.job import Job

    if isinstance(requests, QuerySet):
        requests = requests.filter(status__in=ACTIVE_STATUSES)
    active = [request for request in requests if request.status in ACTIVE_STATUSES]
    if not active:
        return set()
    jobs = Job.fetch_many(
        [request.id for request in active], connection=django_rq.get_connection("create")
    )
    now = timezone.now()
    lost = set()
    started: dict[str, list[Job]] = {}
    for request, job in zip(active, jobs, strict=True):
        if job is None:
            if now - request.created_date >= LOST_AFTER:
                lost.add(request.id)
            continue
        status = job.get_status(refresh=False)
        if status == JobStatus.STARTED:
            started.setdefault(job.origin, []).append(job)
        elif status in DEAD_JOB_STATUSES:
            lost.add(request.id)
    for on_queue in started.values():
        expired = set(on_queue[0].started_job_registry.get_expired_job_ids())
        lost.update(job.id for job in on_queue if job.id in expired)
    return lost


def request_worker_lost(request: Request) -> bool:
    """Whether ``request``'s worker is lost (``requests_worker_lost``)."""
    return request.id in requests_worker_lost([request])


def requests_with_status(
    requests: QuerySet[Request], status: str, *, lost: Collection[str]
) -> QuerySet[Request]:
    """Those of ``requests`` whose status as shown (``request_effective``) is ``status``, given
    the ids of those whose worker is ``lost`` (``requests_worker_lost``): such a request is
    ``failed``, not ``queued`` or ``started``."""
    if status == RequestStatus.FAILED:
        return requests.filter(Q(status=status) | Q(pk__in=lost))
    return requests.filter(status=status).exclude(pk__in=lost)


def request_effective(request: Request, *, lost: bool | None = None) -> Request:
    """``request`` as it is now, computed without writing: failed with ``MSG_INTERRUPTED``
    when its worker is ``lost`` (read when not given), without its result file once that
    expired. The row and the files are left for the services that record it
    (``services.reconcile``, ``backup.export_results.exports_cleanup``, run by the scheduled
    housekeeping)."""
    now = timezone.now()
    if lost is None:
        lost = request_worker_lost(request)
    expired = bool(request.result_file) and (
        request.expiry_date is not None and request.expiry_date <= now
    )
    if not (lost or expired):
        return request
    shown = copy.copy(request)  # never saved
    if lost:
        shown.status = RequestStatus.FAILED
        shown.message = MSG_INTERRUPTED
        shown.finished_date = now
    if expired:
        shown.result_file = ""
    return shown
