"""The web UI's pages (see the README's "The web page").

Each page is a shell: the layout, its labels and a script. The script reads and changes
everything through the public ``/api/...`` endpoints with ``fetch()`` and the session cookie;
these views call no service or selector and read no model, so the UI can do nothing a client of
the API cannot. Plain Django views (not DRF), hence absent from the OpenAPI schema.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe
from django.views.static import serve

from cvat_lite.api.exception_handler import not_found_view

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
    "account": "Your account",
    "not_found": "Page not found",
    "backuppolicies": "Backup policies",
}


@require_safe
@ensure_csrf_cookie
def page(request: HttpRequest, name: str, **ids: str) -> HttpResponse:
    """Render the shell of page ``name``; ``ids`` (e.g. ``task_id``) go to its script."""
    context: dict[str, object] = {"page": name, "title": PAGES[name], "ids": ids}
    if name == "login":
        context["next"] = login_next(request)
    response = render(request, f"web/{name}.html", context)
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def login_next(request: HttpRequest) -> str:
    """Where the login page sends the browser after a login: ``?next=`` when it stays on this
    site, else ``/``.

    Decided here, with Django's ``url_has_allowed_host_and_scheme`` on the decoded value, not in
    the page's script: browsers drop tabs and newlines inside URLs, strip leading blanks and read
    a backslash as a slash, so ``/%5Cevil.example`` and ``/%09/evil.example`` look like paths to a
    ``startsWith("/")`` test and lead off-site. A value with blanks or control characters around
    or in it is refused outright, so the value checked is the value the browser follows.
    """
    value = request.GET.get("next", "")
    if not value or value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "/"
    allowed = url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return value if allowed else "/"


@require_safe
def static_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """The UI's CSS and JS, and the installed apps' static files (the API reference pages'
    viewers, see ``cvat_lite/api/docs.py``), served by the service itself (gunicorn included):
    no collectstatic step. Unknown files are the API's JSON 404 (``Http404`` reaches
    ``handler404``)."""
    try:
        if (STATIC_DIR / path).is_file():
            response = serve(request, path, document_root=str(STATIC_DIR))
        else:
            found = finders.find(path)
            if not isinstance(found, str):
                raise Http404(path)
            root = found[: len(found) - len(path)]
            response = serve(request, path, document_root=root)
    except (SuspiciousFileOperation, ValueError):  # "../" out of the directory: no such file
        raise Http404(path) from None
    response["Cache-Control"] = "no-cache"  # revalidate (Last-Modified): edits show at once
    response["X-Content-Type-Options"] = "nosniff"
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponseBase:
    """No route matches: a browser asking for a page (``Accept: text/html``, outside ``/api/``
    and ``/static/``) gets a "Page not found" page with the navigation; every other client,
    and every API path, gets the API's JSON 404 body."""
    path = request.path
    wants_page = "text/html" in request.headers.get("Accept", "")
    if not wants_page or path.startswith(("/api/", "/static/")):
        return not_found_view(request, exception)
    response = render(
        request,
        "web/not_found.html",
        {"page": "not_found", "title": PAGES["not_found"], "ids": {}},
        status=404,
    )
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
