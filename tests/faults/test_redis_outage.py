"""Redis unavailable (faults): the endpoints that need it answer 503 with the error
body — not 500, and without saving anything — the others keep working, and everything works
again once Redis is back. The test runs its own Redis server, stops it, and starts it again on
the same port (empty, as a restarted Redis without persistence is)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cvat_lite.embedded_redis import EmbeddedRedis
from cvat_lite.requests.models import Request
from cvat_lite.requests.services import MSG_INTERRUPTED
from tests.api.media_helpers import make_image
from tests.backup.archives import task_backup
from tests.backup.export_helpers import make_labelled_task, make_local_task
from tests.backup.relink_helpers import bucket_storage, cloud_task, link_of, objects_for
from tests.backup.restore_helpers import snapshot
from tests.conftest import PASSWORD
from tests.faults.helpers import (
    api_request,
    assert_unavailable,
    assert_unchanged,
    post_export,
    post_import,
)
from tests.fixtures.emulators import EmulatedBucket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_redis(settings):
    """A Redis server of this test's own, configured for the queues and the media cache."""
    server = EmbeddedRedis().start()
    settings.RQ_QUEUES = {
        name: {**queue, "URL": server.url} for name, queue in settings.RQ_QUEUES.items()
    }
    settings.CACHES = {
        **settings.CACHES,
        "media": {**settings.CACHES["media"], "LOCATION": server.url},
    }
    settings.REDIS_URL = server.url
    yield server
    server.stop()
    caches["media"].close()


def _restart(server: EmbeddedRedis) -> EmbeddedRedis:
    return EmbeddedRedis(port=server.port).start()


def _frame(api, task_id: int):
    return api.get(f"/api/tasks/{task_id}/data?type=frame&number=0&quality=original")


def _chunk(api, task_id: int):  # cached in Redis, as previews are
    return api.get(f"/api/tasks/{task_id}/data?type=chunk&number=0&quality=compressed")


def test_the_api_answers_503_while_redis_is_down_and_recovers(
    api, anon_api, user, own_redis, drain, tmp_path
):
    done, _ = make_local_task(api, drain, name="done")
    waiting, _ = make_local_task(api, drain, name="waiting")
    empty = make_labelled_task(api, name="no data yet")
    finished = post_export(api, done.id)
    drain("export")
    finished_url = api_request(api, finished)["result_url"]
    assert _chunk(api, done.id).status_code == 200  # a chunk is cached, the cache connected
    queued = post_export(api, waiting.id)  # its job is lost with Redis
    archive = task_backup(2).write(tmp_path / "b.zip")
    before = snapshot()
    requests_before = set(Request.objects.values_list("id", flat=True))

    own_redis.stop()
    # What needs Redis: queueing, the state of a running request, the media cache.
    assert_unavailable(api.post(f"/api/tasks/{done.id}/backup/export"))
    assert_unavailable(api.post("/api/tasks/backup/", {"task_file": SimpleUploadedFile(
        "b.zip", archive.read_bytes())}, format="multipart"))  # fmt: skip
    files = {"client_files[0]": SimpleUploadedFile("x.jpg", make_image(4, 4))}
    assert_unavailable(api.post(f"/api/tasks/{empty.id}/data/", files, format="multipart"))
    assert_unavailable(api.get(f"/api/requests/{queued}"))
    assert_unavailable(api.get("/api/requests"))
    assert_unavailable(api.post(f"/api/requests/{queued}/cancel"))
    assert_unavailable(_chunk(api, done.id))
    assert_unavailable(api.get(f"/api/tasks/{waiting.id}/preview"))
    # What does not: the database, the files (frames are read without the cache).
    assert _frame(api, done.id).status_code == 200
    assert api.get(f"/api/requests/{finished}").json()["status"] == "finished"
    assert api.get(finished_url).status_code == 200
    assert api.get(f"/api/tasks/{done.id}").status_code == 200
    login = anon_api.post(
        "/api/auth/login", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200
    # Nothing was saved by the refused calls.
    assert_unchanged(before, cache=False)
    assert set(Request.objects.values_list("id", flat=True)) == requests_before

    server = _restart(own_redis)
    try:
        assert _chunk(api, done.id).status_code == 200
        assert api.get(f"/api/tasks/{waiting.id}/preview").status_code == 200
        # The queued export's job was lost with Redis: the request fails once it is clearly
        # lost (30 s after it was made), and can be asked for again.
        assert api_request(api, queued)["status"] == "queued"
        Request.objects.filter(pk=queued).update(
            created_date=timezone.now() - timedelta(seconds=31)
        )
        lost = api_request(api, queued)
        assert (lost["status"], lost["message"]) == ("failed", MSG_INTERRUPTED)
        assert post_export(api, waiting.id) == queued
        imported = post_import(api, archive)
        drain("export", "import")
        assert api_request(api, queued)["status"] == "finished"
        assert api_request(api, imported)["status"] == "finished"
        assert api.get("/api/requests").status_code == 200
    finally:
        server.stop()


def test_a_relink_while_redis_is_down(api, user, own_redis, s3_emulator):
    """A relink needs no Redis (the link moves ``chunks_updated_date``, which already makes the
    cached chunks unreachable): it is saved and answered 200, not a 503 after the commit."""
    objects = objects_for(2)
    first = bucket_storage(user, EmulatedBucket(s3_emulator, s3_emulator.create_bucket()), objects)
    second = bucket_storage(user, EmulatedBucket(s3_emulator, s3_emulator.create_bucket()), objects)
    task = cloud_task(user, objects, storage=first)
    _, chunks_date, _ = link_of(task)

    own_redis.stop()
    response = api.patch(
        f"/api/tasks/{task.id}/data/meta", {"cloud_storage_id": second.id}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["cloud_storage_id"] == second.id
    linked, moved, _ = link_of(task)
    assert linked == second.id and moved > chunks_date
