"""A request's end is always recorded, whatever its error names: an error's ``extra`` may hold
the very input it refused (a NUL in an archive member's name), which PostgreSQL's jsonb and
every database driver refuse; the request must still read as failed with its message."""

from __future__ import annotations

import pytest

from cvat_lite.requests import transitions
from cvat_lite.requests.models import Request, RequestAction, RequestStatus

pytestmark = pytest.mark.django_db


def _started(user) -> Request:
    return Request.objects.create(
        id="import-task-backup-x", action=RequestAction.IMPORT, target="task",
        owner=user, status=RequestStatus.STARTED,
    )  # fmt: skip


@pytest.mark.parametrize("bad", ["\x00ata/_x", "\ud800 lone"])
def test_a_failure_whose_extra_holds_unstorable_text_is_recorded(user, bad):
    request = _started(user)
    transitions.request_mark_failed(
        request_id=request.id,
        message=f"The archive member {bad!r} is refused.",
        result={"code": "invalid_backup", "extra": {"member": bad, bad: [bad]}},
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.FAILED
    assert request.message == f"The archive member {bad!r} is refused."
    shown = bad.replace("\x00", "\ufffd").replace("\ud800", "?")
    assert request.result == {"code": "invalid_backup", "extra": {"member": shown, shown: [shown]}}


def test_a_finished_result_with_unstorable_text_is_recorded(user):
    request = _started(user)
    transitions.request_mark_finished(request_id=request.id, result={"name": "a\x00b"})
    request.refresh_from_db()
    assert (request.status, request.result) == (RequestStatus.FINISHED, {"name": "a\ufffdb"})
