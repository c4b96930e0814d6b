"""The bad-input corpus (contract 9) through the real API: every case of ``cases.CASES`` is built,
sent (multipart, TUS or the cloud-storage form) and, when queued, run by the in-process worker.

A refused case answers its exact 4xx or fails its request with the exact message, creates
nothing (rows, other requests, files under DATA_DIR, cache keys) and never meets a 5xx. A
restored case (a decision: not bad input) finishes and is checked. The last test shows the
service still answers and imports a valid archive.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cvat_lite.requests.models import Request
from cvat_lite.uploads.services import uploads_expire
from tests.api.backup_import_helpers import finished, post_archive
from tests.api.media_helpers import storage_row
from tests.backup.restore_helpers import Snapshot, snapshot
from tests.uploads.tus import imports_area, tus_create, tus_finish, tus_patch, uploads_area

from .cases import CASES, Case, Send, Where
from .generate import valid

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    """An APIClient whose every answer is checked: never a 5xx."""

    def __init__(self, api):
        self.api = api

    def __getattr__(self, method):
        call = getattr(self.api, method)

        def checked(*args, **kwargs):
            response = call(*args, **kwargs)
            assert response.status_code < 500, (response.status_code, response.content[:500])
            return response

        return checked


def _url(case: Case) -> str:
    return f"/api/{case.target}s/backup/"


def _send(case: Case, api, path: Path):
    """Send the case's file (multipart or TUS); return the answer and the values that
    complete the expected message."""
    size = path.stat().st_size
    if case.send is Send.MULTIPART:
        return post_archive(api, path, target=case.target), {}
    if case.send is Send.TUS_CREATE:
        return tus_create(api, size, url=_url(case)), {}
    created = tus_create(api, size, url=_url(case))
    assert created.status_code == 201, created.content
    location, filename = created["Location"], created["Upload-Filename"]
    half = size // 2
    assert tus_patch(api, location, 0, path.read_bytes()[:half]).status_code == 204
    if case.send is Send.TUS_OVERRUN:
        response = tus_patch(api, location, half, path.read_bytes()[half:] + b"more")
        assert api.head(location)["Upload-Offset"] == str(half)  # the chunk wrote nothing
        return response, {"length": size}
    assert case.send is Send.TUS_SHORT
    return tus_finish(api, filename, url=_url(case)), {"offset": half, "length": size}


def _cloud_post(case: Case, api, path: Path, request: pytest.FixtureRequest, user):
    """The archive put in an emulator bucket, and a storage row for it (both before the
    snapshot: they are the setting, not what the import creates); returns the POST to make."""
    bucket = request.getfixturevalue("s3_bucket")
    request.getfixturevalue("s3_emulator").put(bucket, "backups/b.zip", path.read_bytes())
    storage = storage_row(user, bucket)
    return lambda: api.post(
        f"{_url(case)}?location=cloud_storage&cloud_storage_id={storage.id}&filename=backups/b.zip"
    )


def _assert_nothing_left(before: Snapshot, own: set[str]) -> None:
    after = snapshot()
    assert after.rows == before.rows
    assert after.requests - before.requests == own
    assert after.files == before.files
    assert after.cache_keys == before.cache_keys
    assert imports_area() == []


@pytest.mark.parametrize("name", list(CASES))
def test_case(name, user, api, drain, tmp_path, settings, request):
    case = CASES[name]
    for key, value in case.settings.items():
        setattr(settings, key, value)
    client = Recorder(api)
    path = case.build(tmp_path)
    post = None
    if case.send is Send.CLOUD:
        post = _cloud_post(case, client, path, request, user)
    before = snapshot()

    if post is not None:
        response, values = post(), {}
    else:
        response, values = _send(case, client, path)
    message = case.message.format(**values) if values else case.message

    if case.where is Where.REFUSED:
        assert response.status_code == case.status, response.content
        assert response.json() == {
            "code": case.code,
            "message": message,
            "extra": response.json()["extra"],
        }
        if case.send in (Send.TUS_OVERRUN, Send.TUS_SHORT):
            # Nothing queued; the upload is left as it was, resumable, until it expires.
            assert [p.name for p in uploads_area()] and imports_area() == []
            assert Request.objects.count() == len(before.requests)
            assert uploads_expire(older_than=timedelta(0)) == 1
        _assert_nothing_left(before, set())
        assert uploads_area() == []
        return

    assert response.status_code == 202, response.content
    rq_id = response.json()["rq_id"]
    drain("import")
    result = client.get(f"/api/requests/{rq_id}").json()
    assert result["operation"]["type"] == "import:backup"
    if case.where is Where.RESTORED:
        assert case.check is not None
        case.check(client, finished(result))
        return
    assert result["status"] == "failed"
    assert result["message"] == message
    assert result["result_id"] is None
    _assert_nothing_left(before, {rq_id})
    assert uploads_area() == []


def test_the_service_still_answers_after_the_corpus(user, api, drain, tmp_path):
    client = Recorder(api)
    about = client.get("/api/server/about")
    assert about.status_code == 200
    path = valid()(tmp_path)
    response = post_archive(client, path)
    assert response.status_code == 202, response.content
    drain("import")
    task_id = finished(client.get(f"/api/requests/{response.json()['rq_id']}").json())
    assert client.get(f"/api/tasks/{task_id}").json()["name"] == "cats and dogs"
