"""An export's download URL (the request's ``result_url``) serves its owner (and superusers)
until it expires, and nobody else: another user gets 404 whichever way the URL is spelled
(the ids in it are guessable), an anonymous caller 401, and after expiry everyone 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cvat_lite.backup.export_requests import export_request_id
from cvat_lite.backup.housekeeping import housekeeping_run
from cvat_lite.requests.models import Request
from tests.backup.export_helpers import make_local_task

pytestmark = pytest.mark.django_db(transaction=True)


def _download(client, url: str):
    response = client.get(url)
    content = b"".join(response.streaming_content) if response.streaming else response.content
    response.close()
    return response.status_code, content


def test_a_download_url_serves_only_its_owner_until_it_expires(
    api, other_api, admin_api, anon_api, user, other_user, drain
):
    task, _files = make_local_task(api, drain, name="private-name")
    rq_id = api.post(f"/api/tasks/{task.id}/backup/export").json()["rq_id"]
    drain("export")
    request = api.get(f"/api/requests/{rq_id}").json()
    url = request["result_url"]
    assert url.startswith("http://testserver/") and request["status"] == "finished"
    other_task, _ = make_local_task(other_api, drain, name="theirs")
    guessed = export_request_id(
        target="task", target_id=task.id, user_id=user.id, lightweight=False, location="local"
    )
    assert guessed == rq_id  # deterministic ids are guessable: the owner check is what holds
    spellings = [
        url,
        url.replace("/backup/download?", "/backup/download/?"),
        f"/api/tasks/{other_task.id}/backup/download?rq_id={rq_id}",
        f"/api/projects/{task.id}/backup/download?rq_id={rq_id}",
    ]

    status, archive = _download(api, url)
    assert status == 200 and archive[:2] == b"PK"
    assert _download(admin_api, url)[0] == 200
    for spelling in spellings:
        status, content = _download(other_api, spelling)
        assert status == 404, content
        assert b"private-name" not in content and archive not in content
        assert _download(anon_api, spelling)[0] == 401
    assert other_api.get(f"/api/requests/{rq_id}").status_code == 404
    assert other_api.get("/api/requests").json()["count"] == 1  # their own data creation

    Request.objects.filter(pk=rq_id).update(expiry_date=timezone.now() - timedelta(seconds=1))
    status, content = _download(api, url)
    assert status == 404 and b"export_expired" in content
    for client in (api, admin_api, other_api):
        assert _download(client, url)[0] == 404
    assert _download(anon_api, url)[0] == 401
    # The GETs only report it gone; the scheduled housekeeping removes the file.
    assert Request.objects.get(pk=rq_id).result_file != ""
    assert housekeeping_run()["exports_removed"] == 1
    assert Request.objects.get(pk=rq_id).result_file == ""  # the file is gone
    assert _download(api, url)[0] == 404
    assert api.get(f"/api/requests/{rq_id}").json()["result_url"] is None
