"""The RQ glue: one module-level function that runs a request's service and records the outcome.

No business logic here: the service at ``func`` does the work and returns a ``RequestResult``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections
from django.utils.module_loading import import_string

from cvat_lite import errors
from cvat_lite.requests import transitions
from cvat_lite.requests.scratch import scratch_for

logger = logging.getLogger("cvat_lite.requests")


@dataclass(frozen=True)
class RequestResult:
    result_id: int | None = None
    result_file: str = ""
    result_filename: str = ""
    message: str = ""
    expires: bool = False
    result: dict[str, Any] | None = None  # the request's ``result`` (e.g. a relink's report)


def run_request(request_id: str, func: str, kwargs: dict[str, Any]) -> None:
    close_old_connections()
    transitions.request_mark_started(request_id=request_id)
    progress = transitions.ProgressReporter(request_id)
    try:
        with scratch_for(request_id):
            result: RequestResult = import_string(func)(progress=progress, **kwargs)
    except errors.CvatLiteError as exc:
        logger.info("Request %s failed: %s", request_id, exc.code)
        transitions.request_mark_failed(
            request_id=request_id,
            message=exc.message,
            result={"code": exc.code, "message": exc.message, "extra": exc.extra},
        )
    except Exception:
        logger.exception("Request %s failed with an internal error", request_id)
        transitions.request_mark_failed(request_id=request_id, message=transitions.MSG_INTERNAL)
    else:
        transitions.request_mark_finished(
            request_id=request_id,
            result_id=result.result_id,
            result_file=result.result_file,
            result_filename=result.result_filename,
            message=result.message,
            expires=result.expires,
            result=result.result,
        )
    finally:
        close_old_connections()
