"""The web UI's pages (issue 6).

Each page is a shell: the layout, its labels and a script. The script reads and changes
everything through the public ``/api/...`` endpoints with ``fetch()`` and the session cookie;
these views call no service or selector and read no model, so the UI can do nothing a client of
the API cannot. Plain Django views (not DRF), hence absent from the OpenAPI schema.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe
from django.views.static import serve

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The pages load their own scripts and styles only, show frames as blob: URLs, and are never
# framed: a stray injection could neither run nor call out.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# page name -> the title shown in the tab and the heading (pages fill in their object's name).
PAGES = {
    "index": "Projects and tasks",
    "login": "Log in",
    "task": "Task",
    "cloudstorages": "Cloud storages",
    "requests": "Requests",
    "restore": "Restore a backup",
    "backuppolicies": "Backup policies",
}


@require_safe
@ensure_csrf_cookie
def page(request: HttpRequest, name: str, **ids: str) -> HttpResponse:
    """Render the shell of page ``name``; ``ids`` (e.g. ``task_id``) go to its script."""
    context = {"page": name, "title": PAGES[name], "ids": ids}
    response = render(request, f"web/{name}.html", context)
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@require_safe
def static_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """The UI's CSS and JS, served by the service itself (gunicorn included): a handful of
    small files, so no collectstatic step and no extra dependency. Unknown files are the API's
    JSON 404 (``Http404`` reaches ``handler404``)."""
    try:
        response = serve(request, path, document_root=str(STATIC_DIR))
    except SuspiciousFileOperation:  # "../" out of the directory: there is no such file
        raise Http404(path) from None
    response["Cache-Control"] = "no-cache"  # revalidate (Last-Modified): edits show at once
    response["X-Content-Type-Options"] = "nosniff"
    return response
