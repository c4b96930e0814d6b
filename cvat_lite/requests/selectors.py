"""Reads for background requests: the one place a request's state is read. Only reads: a view
that shows a request calls ``services.reconcile`` on it (a dead worker is learnt of there)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from django.db.models import QuerySet

from cvat_lite import errors
from cvat_lite.requests.models import Request

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def requests_visible(user: User) -> QuerySet[Request]:
    qs = Request.objects.select_related("owner")
    return qs if user.is_superuser else qs.filter(owner=user)


def request_get(*, user: User, rq_id: str) -> Request:
    request = requests_visible(user).filter(pk=unquote(rq_id)).first()
    if request is None:
        raise errors.NotFound()
    return request
