"""The API's reference pages, ``/api/docs`` (Swagger UI) and ``/api/redoc`` (Redoc), served
entirely by the service: the viewers' scripts and styles come from the pinned
``drf-spectacular-sidecar`` package through the same static route as the web UI's files, so the
pages work on a machine without internet access. A Content-Security-Policy limits them to this
origin, which both proves it in the browser tests and keeps a stray injection from calling out.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

# Swagger UI's page has a small inline <style>, and both viewers set inline styles on elements;
# Redoc builds its search index in a Web Worker started from a blob: URL. Scripts: this origin
# only (the split view serves Swagger UI's settings as a script file, not inline).
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _restricted(response: Response) -> Response:
    response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
    return response


class SwaggerDocsView(SpectacularSwaggerSplitView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _restricted(super().get(request, *args, **kwargs))


class RedocDocsView(SpectacularRedocView):
    # drf-spectacular's own Redoc page links fonts from Google; this one does not.
    template_name = "web/api_redoc.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _restricted(super().get(request, *args, **kwargs))
