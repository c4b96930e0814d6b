"""A worker process SIGKILLed in the middle of an export or an import (faults).

Real ``cvat-lite rqworker`` processes run the jobs. Each job is stopped at a known point by a
gating proxy in front of the S3 emulator (or, on PostgreSQL, by a table lock) so that the kill
lands mid-operation, then the worker and its work-horse are SIGKILLed. The request must end
``failed`` with a message (the heartbeat deadline of ``cvat_lite.worker`` passes and
the requests API notices), leave nothing behind (no result, no scratch file, no row), and a
retry with a fresh worker must succeed.
"""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from cvat_lite.engine.models import Task
from cvat_lite.requests.scratch import scratch_dir
from cvat_lite.requests.services import MSG_INTERRUPTED
from tests.api.media_helpers import storage_row
from tests.backup.archives import task_backup
from tests.backup.export_helpers import make_cloud_task, read_zip
from tests.backup.restore_helpers import snapshot
from tests.faults.conftest import KILL_HEARTBEAT
from tests.faults.helpers import (
    api_ended,
    assert_unchanged,
    object_get,
    post_cloud_import,
    post_export,
    post_import,
    row,
    row_ended,
    running_with_progress,
)
from tests.faults.workers import WorkerProcess, database_url, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MEDIA = ("a.jpg", "b.png", "c.jpg", "related_images/b_png/ctx.jpg")


def _kill_the_busy_one(workers: list[WorkerProcess]) -> WorkerProcess:
    """SIGKILL the worker running the job (and its horse); the other one is left."""
    (busy,) = [worker for worker in workers if worker.busy()]
    assert busy.kill(), "no work-horse was running the job"
    (fresh,) = [worker for worker in workers if worker is not busy]
    return fresh


def _interrupted(api, rq_id: str) -> dict:
    request = wait_for(lambda: api_ended(api, rq_id), "the killed request to fail")
    assert request["status"] == "failed"
    assert request["message"] == MSG_INTERRUPTED
    assert request["result_url"] is None and request["result_id"] is None
    assert not scratch_dir(rq_id).exists()
    return request


def test_a_worker_killed_mid_export(api, user, proxied_bucket, s3_proxy, drain, start_worker):
    # Two workers: one runs the export and is killed, the other one runs the retry. One
    # object at a time: a.jpg is written (progress 1/3), then the GET of b.png is held.
    workers = [
        start_worker(heartbeat=KILL_HEARTBEAT, BACKUP_FETCH_CONCURRENCY="1") for _ in range(2)
    ]
    cloud = make_cloud_task(api, user, proxied_bucket, drain)
    gate = s3_proxy.hold(object_get("ds/b.png"))
    before = snapshot()

    rq_id = post_export(api, cloud.task.id)
    wait_for(
        lambda: running_with_progress(rq_id) and gate.reached.is_set(),
        "the export to write its first object",
        workers=tuple(workers),
    )
    assert [p.name.startswith(".partial-") for p in scratch_dir(rq_id).iterdir()] == [True]
    fresh = _kill_the_busy_one(workers)

    _interrupted(api, rq_id)
    response = api.get(f"/api/tasks/{cloud.task.id}/backup/download?rq_id={rq_id}")
    assert response.status_code == 409
    assert response.json()["code"] == "export_failed"
    assert_unchanged(before)  # no partial or final file anywhere under DATA_DIR

    gate.release()
    assert post_export(api, cloud.task.id) == rq_id  # the same export, asked again
    wait_for(lambda: row_ended(rq_id), "the retried export", workers=(fresh,))
    request = api_ended(api, rq_id)
    assert request["status"] == "finished", request["message"]
    response = api.get(request["result_url"])
    assert response.status_code == 200
    members = read_zip(b"".join(response.streaming_content))
    for name in MEDIA:
        assert members["data/" + name] == cloud.objects["ds/" + name]


def test_a_worker_killed_while_downloading_the_archive_to_import(
    api, user, proxied_bucket, s3_proxy, start_worker, tmp_path
):
    workers = [start_worker(heartbeat=KILL_HEARTBEAT) for _ in range(2)]
    content = task_backup(3).write(tmp_path / "full.zip").read_bytes()
    proxied_bucket.put("backups/full.zip", content)
    storage = storage_row(user, proxied_bucket.config)
    gate = s3_proxy.hold(object_get("backups/full.zip"), after_bytes=len(content) // 2)
    before = snapshot()

    rq_id = post_cloud_import(api, storage.id, "backups/full.zip")
    wait_for(
        lambda: gate.reached.is_set() and row(rq_id).status == "started",
        "the import to download half of its archive",
        workers=tuple(workers),
    )
    assert len(list(scratch_dir(rq_id).iterdir())) == 1  # the archive being downloaded
    fresh = _kill_the_busy_one(workers)

    _interrupted(api, rq_id)
    assert_unchanged(before)  # no task, data, job, label, file or cache entry

    gate.release()
    retry = post_cloud_import(api, storage.id, "backups/full.zip")
    wait_for(lambda: row_ended(retry), "the retried import", workers=(fresh,))
    request = api_ended(api, retry)
    assert request["status"] == "finished", request["message"]
    assert Task.objects.get(pk=request["result_id"]).data.size == 3
    assert Task.objects.count() == before.rows["Task"] + 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a table lock from another session: PostgreSQL"
)
def test_a_worker_killed_inside_the_import_transaction(api, start_worker, tmp_path):
    """The kill lands while the restore's transaction waits for a lock on the task table: its
    media are staged, its first rows may be written (not committed)."""
    workers = [start_worker(heartbeat=KILL_HEARTBEAT) for _ in range(2)]
    archive = task_backup(3).write(tmp_path / "full.zip")
    before = snapshot()
    table = Task._meta.db_table
    with psycopg.connect(database_url(), autocommit=False) as locker:
        locker.execute(f'LOCK TABLE "{table}" IN SHARE MODE')  # reads pass, inserts wait
        rq_id = post_import(api, archive)

        def waiting() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted",
                    [table],
                )
                return cursor.fetchone()[0] > 0

        wait_for(
            lambda: running_with_progress(rq_id) and waiting(),
            "the restore to wait for the lock",
            workers=tuple(workers),
        )
        staged = [p for p in scratch_dir(rq_id).rglob("*") if p.is_file()]
        assert len(staged) == 4  # the archive and its 3 staged images
        fresh = _kill_the_busy_one(workers)
        locker.rollback()

    _interrupted(api, rq_id)
    assert_unchanged(before)

    retry = post_import(api, archive)
    wait_for(lambda: row_ended(retry), "the retried import", workers=(fresh,))
    request = api_ended(api, retry)
    assert request["status"] == "finished", request["message"]
    assert Task.objects.get(pk=request["result_id"]).data.size == 3
