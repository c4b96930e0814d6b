"""A request's state transitions as its job runs: started, progress, finished, failed.

Written by the runner (``cvat_lite.requests.jobs``) and by the services that find a request
dead or cancel it; a module of its own so that the runner and the services (which enqueue the
runner) do not import each other.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from cvat_lite.requests.models import Request, RequestStatus

MSG_INTERNAL = "The request failed because of an internal error."


def _storable(value: Any) -> Any:
    """``value`` with every string made storable in a JSON column: PostgreSQL's jsonb holds no
    NUL character and no driver encodes an unpaired surrogate, yet an error's ``extra`` may name
    the bad input it refused (an archive member whose name holds a NUL). Each becomes U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def request_mark_started(*, request_id: str) -> None:
    Request.objects.filter(pk=request_id).update(
        status=RequestStatus.STARTED, started_date=timezone.now(), progress=0.0
    )


def request_mark_finished(
    *, request_id: str, result_id: int | None = None, result_file: str = "",
    result_filename: str = "", message: str = "", expires: bool = False,
    result: dict[str, Any] | None = None,
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
        result=_storable(result),
        expiry_date=now + timedelta(seconds=settings.EXPORT_TTL) if expires else None,
    )


def request_mark_failed(
    *, request_id: str, message: str, result: dict[str, Any] | None = None
) -> None:
    Request.objects.filter(pk=request_id).exclude(status=RequestStatus.FINISHED).update(
        status=RequestStatus.FAILED,
        finished_date=timezone.now(),
        message=_storable(message),
        result=_storable(result),
    )


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
