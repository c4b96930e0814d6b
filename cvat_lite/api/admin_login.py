"""The admin site's login with the API login's throttling (cvat_lite/api/throttling.py): a
refused attempt is a 429 with ``Retry-After`` and never reaches the password check."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_protect

from cvat_lite.api.throttling import (
    MSG_THROTTLED,
    LoginThrottle,
    login_attempt,
    login_attempt_release,
    login_attempt_reserve,
)


@csrf_protect
def admin_login(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    if request.method != "POST":
        return admin.site.login(request)
    identifier = request.POST.get("username", "")
    attempt = login_attempt(identifier=identifier, address=_address(request))
    wait = login_attempt_reserve(attempt)
    if wait is not None:
        response = HttpResponse(
            MSG_THROTTLED.format(wait=wait), status=429, content_type="text/plain; charset=utf-8"
        )
        response["Retry-After"] = str(wait)
        return response
    response = admin.site.login(request)
    if request.user.is_authenticated:
        login_attempt_release(attempt)
    return response


def _address(request: HttpRequest) -> str:
    # DRF's rule (NUM_PROXIES), so that both logins count the same address.
    return LoginThrottle().get_ident(request) or ""
