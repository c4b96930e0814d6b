"""What a request that will never run leaves behind is removed with it (faults): the
uploaded archive of an import that is cancelled, or whose job was lost (Redis emptied), lives in
the request's scratch folder and goes when the request is recorded failed (a cancel, or the
scheduled housekeeping for a lost job)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from cvat_lite.backup.housekeeping import housekeeping_run
from cvat_lite.requests.models import Request
from cvat_lite.requests.scratch import scratch_dir
from cvat_lite.requests.services import MSG_CANCELLED, MSG_INTERRUPTED
from tests.backup.archives import task_backup
from tests.backup.restore_helpers import snapshot
from tests.faults.helpers import api_request, assert_unchanged, post_import

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_cancelled_import_leaves_no_archive(api, tmp_path):
    archive = task_backup(2).write(tmp_path / "b.zip")
    before = snapshot()
    rq_id = post_import(api, archive)
    assert [path.name for path in scratch_dir(rq_id).iterdir()] == ["archive.zip"]

    assert api.post(f"/api/requests/{rq_id}/cancel").status_code == 200

    request = api_request(api, rq_id)
    assert (request["status"], request["message"]) == ("failed", MSG_CANCELLED)
    assert not scratch_dir(rq_id).exists()
    assert_unchanged(before)


def test_an_import_whose_job_was_lost_fails_and_leaves_no_archive(api, tmp_path, drain):
    archive = task_backup(2).write(tmp_path / "b.zip")
    before = snapshot()
    rq_id = post_import(api, archive)
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # Redis restarted empty: the job is gone
    assert api_request(api, rq_id)["status"] == "queued"  # a moment after: maybe not queued yet

    Request.objects.filter(pk=rq_id).update(created_date=timezone.now() - timedelta(seconds=31))
    request = api_request(api, rq_id)

    assert (request["status"], request["message"]) == ("failed", MSG_INTERRUPTED)
    # A GET only reports it; the scheduled housekeeping records it and removes the archive.
    assert Request.objects.get(pk=rq_id).status == "queued"
    assert [path.name for path in scratch_dir(rq_id).iterdir()] == ["archive.zip"]
    housekeeping_run()
    assert Request.objects.get(pk=rq_id).status == "failed"
    assert not scratch_dir(rq_id).exists()
    assert_unchanged(before)
    assert drain("import") == 0
