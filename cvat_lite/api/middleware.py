"""Turns backend outages that escape DRF (session lookup, auth middleware) into 503 bodies."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from cvat_lite import errors
from cvat_lite.api.exception_handler import BACKEND_ERRORS, error_body

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
