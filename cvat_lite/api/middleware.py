"""Turns backend outages that escape DRF (session lookup, auth middleware) into 503 bodies, and
refuses unstorable text in the path and query string."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from cvat_lite import errors
from cvat_lite.api.exception_handler import BACKEND_ERRORS, error_body
from cvat_lite.api.parsers import UnstorableValue, scalars_in

logger = logging.getLogger("cvat_lite.api")


class BackendUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, BACKEND_ERRORS):
            logger.error("Backend unavailable: %s", type(exception).__name__)
            unavailable = errors.ServiceUnavailable()
            return JsonResponse(error_body(unavailable.code, unavailable.message), status=503)
        return None


class UnstorableTextMiddleware:
    """A NUL character in the (decoded) path names nothing that can exist: 404; in the query
    string: 400 (see ``cvat_lite.api.parsers``). Django decodes both as UTF-8, replacing what
    does not decode, so no unpaired surrogate reaches a view from there."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        error: errors.CvatLiteError | None = None
        if "\x00" in request.path:
            error = errors.NotFound()
        elif any("\x00" in text for text in scalars_in(list(request.GET.lists()))):
            error = UnstorableValue()
        if error is not None:
            return JsonResponse(error_body(error.code, error.message), status=error.status)
        return self.get_response(request)
