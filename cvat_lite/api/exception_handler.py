"""The one place where errors become HTTP responses (contract 8).

Every error body is ``{"code": "<snake_case>", "message": "<fixed text>", "extra": {...}}``.
Domain errors carry their own status/code/message; DRF's errors keep their per-field detail in
``extra``; backend outages (Redis, the database) become 503; anything else is logged and answered
with a generic 500 that never includes exception text.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation, TooManyFilesSent
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions as drf
from rest_framework.response import Response

from cvat_lite import errors
from cvat_lite.api.upload_handlers import MSG_TOO_MANY_FILES

logger = logging.getLogger("cvat_lite.api")

# The backend is unavailable (503, "try again later"): Redis cannot be reached; the database
# cannot be reached, dropped the connection or timed out on a lock. Other database errors
# (integrity, data, programming) are bugs: 500.
BACKEND_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OperationalError,
    InterfaceError,
)

MSG_INVALID_VALUE = "A value in the request cannot be stored or searched for."

_DRF_CODES = {
    drf.ValidationError: ("invalid", "Invalid input."),
    drf.ParseError: ("parse_error", "Malformed request."),
    drf.AuthenticationFailed: ("authentication_failed", "Incorrect authentication credentials."),
    drf.NotAuthenticated: ("not_authenticated", errors.NotAuthenticated.default_message),
    drf.PermissionDenied: ("permission_denied", errors.PermissionDenied.default_message),
    drf.NotFound: ("not_found", errors.NotFound.default_message),
    drf.MethodNotAllowed: ("method_not_allowed", "Method not allowed."),
    drf.NotAcceptable: ("not_acceptable", "The requested representation is not available."),
    drf.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type."),
    drf.Throttled: ("throttled", "Too many requests."),
}


def error_body(code: str, message: str, extra: dict | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "extra": extra or {}}


def _from_drf(exc: drf.APIException) -> tuple[str, str, dict]:
    for cls in type(exc).__mro__:
        if cls in _DRF_CODES:
            code, message = _DRF_CODES[cls]
            break
    else:
        code, message = "error", "The request could not be processed."
    detail = exc.detail
    extra: dict[str, Any] = {}
    if isinstance(exc, drf.ValidationError):
        extra = {"fields": detail} if isinstance(detail, dict) else {"errors": detail}
        if isinstance(detail, list) and len(detail) == 1:
            message = str(detail[0])
    elif isinstance(exc, (drf.MethodNotAllowed, drf.AuthenticationFailed, drf.ParseError)):
        message = str(detail)
    return code, message, extra


def handle_exception(exc: Exception, context: dict) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, errors.CvatLiteError):
        status, body = exc.status, error_body(exc.code, exc.message, exc.extra)
    elif isinstance(exc, drf.APIException):
        status = exc.status_code
        body = error_body(*_from_drf(exc))
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        if isinstance(exc, drf.Throttled) and exc.wait:
            headers["Retry-After"] = str(int(exc.wait))
    elif isinstance(exc, Http404):
        status, body = 404, error_body("not_found", errors.NotFound.default_message)
    elif isinstance(exc, DjangoPermissionDenied):
        status, body = 403, error_body("permission_denied", errors.PermissionDenied.default_message)
    elif isinstance(exc, TooManyFilesSent):
        limit = getattr(exc, "limit", settings.DATA_UPLOAD_MAX_NUMBER_FILES)
        status, body = 400, error_body("too_many_files", MSG_TOO_MANY_FILES.format(limit=limit))
    elif isinstance(exc, SuspiciousOperation):
        status, body = 400, error_body("bad_request", "The request was refused as malformed.")
    elif isinstance(exc, DataError):
        # A value of the request the database refuses (PostgreSQL: a NUL character in a text,
        # an integer out of range) that no check caught: bad input, not a server fault.
        status, body = 400, error_body("invalid_value", MSG_INVALID_VALUE)
    elif isinstance(exc, BACKEND_ERRORS):
        logger.error("Backend unavailable: %s", type(exc).__name__)
        unavailable = errors.ServiceUnavailable()
        status, body = 503, error_body(unavailable.code, unavailable.message)
    else:
        logger.exception("Unhandled error")
        internal = errors.CvatLiteError()
        status, body = 500, error_body(internal.code, internal.message)
    # 401 must name the scheme so clients know how to authenticate.
    if status == 401 and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = "Token"
    return Response(body, status=status, headers=headers)


# --- Django's handlers for what never reaches a DRF view (cvat_lite/urls.py) -------------------


def not_found_view(request, exception=None) -> JsonResponse:
    """No route matches the path (e.g. ``/api/tasks/abc``): the same body as any other 404."""
    return JsonResponse(error_body("not_found", errors.NotFound.default_message), status=404)


def server_error_view(request) -> JsonResponse:
    internal = errors.CvatLiteError()
    return JsonResponse(error_body(internal.code, internal.message), status=500)
