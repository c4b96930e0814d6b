"""Concurrency: 20 identical exports at once against a live server make one request
and one job; exports of different tasks run in parallel on two real worker processes and all
finish; two imports of the same archive at once make two correct, independent tasks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import django_rq
import pytest
import requests
from rest_framework.authtoken.models import Token
from rq.job import Job

from cvat_lite.engine.frames import local_media_root
from cvat_lite.engine.models import Task
from cvat_lite.requests.models import Request
from cvat_lite.requests.services import MSG_ALREADY_RUNNING
from tests.api.media_helpers import storage_row
from tests.backup.archives import task_backup
from tests.backup.export_helpers import make_cloud_task, make_local_task, read_zip
from tests.backup.restore_helpers import task_state
from tests.faults.helpers import api_request, object_get, post_cloud_import, post_export, row_ended
from tests.faults.workers import wait_for
from tests.fixtures.emulators import EmulatedBucket

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 20


def test_twenty_identical_exports_at_once_make_one_request(live_server, api, user, drain):
    task, _ = make_local_task(api, drain)
    token = Token.objects.create(user=user).key
    url = f"{live_server.url}/api/tasks/{task.id}/backup/export"
    start = threading.Barrier(CLIENTS)

    def post(_: int) -> requests.Response:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {token}"
            start.wait(timeout=30)
            return session.post(url, timeout=60)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        responses = list(pool.map(post, range(CLIENTS)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [202] + [409] * (CLIENTS - 1), [r.content for r in responses]
    (accepted,) = [response.json()["rq_id"] for response in responses if response.ok]
    for response in responses:
        if response.status_code == 409:
            assert response.json() == {
                "code": "request_already_running",
                "message": MSG_ALREADY_RUNNING,
                "extra": {"rq_id": accepted},
            }
    assert list(Request.objects.filter(action="export").values_list("id", flat=True)) == [accepted]
    assert django_rq.get_queue("export").job_ids == [accepted]
    drain("export")
    assert api_request(api, accepted)["status"] == "finished"


def _both_busy(gates) -> bool:
    return all(gate.reached.is_set() for gate in gates)


@pytest.mark.slow
def test_exports_of_different_tasks_run_in_parallel_on_two_workers(
    api, user, s3_emulator, s3_proxy, drain, start_worker
):
    workers = [start_worker() for _ in range(2)]
    clouds = []
    for index in range(2):
        resource = s3_emulator.create_bucket().resource
        bucket = EmulatedBucket(s3_emulator, s3_emulator.config_at(s3_proxy.endpoint_url, resource))
        clouds.append(make_cloud_task(api, user, bucket, drain, name=f"cloud {index}"))
    locals_ = [make_local_task(api, drain, name=f"local {index}")[0] for index in range(2)]
    # The first object of each cloud task is held until both exports wait on it: each of
    # the two workers then runs one export at the same time.
    gates = [
        s3_proxy.hold(lambda method, path, r=cloud.storage.resource: object_get("ds/a.jpg")(
            method, path) and f"/{r}/" in path)
        for cloud in clouds
    ]  # fmt: skip

    ids = [post_export(api, cloud.task.id) for cloud in clouds]
    ids += [post_export(api, task.id) for task in locals_]
    wait_for(lambda: _both_busy(gates), "both workers to run an export", workers=tuple(workers))
    for gate in gates:
        gate.release()
    wait_for(lambda: all(row_ended(rq_id) for rq_id in ids), "every export", workers=tuple(workers))

    names = {worker.name for worker in workers}
    connection = django_rq.get_connection("export")
    assert {Job.fetch(rq_id, connection=connection).worker_name for rq_id in ids[:2]} == names
    for rq_id, cloud in zip(ids, clouds, strict=False):
        request = api_request(api, rq_id)
        assert request["status"] == "finished", request["message"]
        members = read_zip(b"".join(api.get(request["result_url"]).streaming_content))
        assert members["data/b.png"] == cloud.objects["ds/b.png"]
    for rq_id in ids[2:]:
        request = api_request(api, rq_id)
        assert request["status"] == "finished", request["message"]


@pytest.mark.slow
def test_two_imports_of_the_same_archive_at_once(
    api, user, proxied_bucket, s3_proxy, start_worker, tmp_path
):
    workers = [start_worker() for _ in range(2)]
    proxied_bucket.put("b.zip", task_backup(3).write(tmp_path / "b.zip").read_bytes())
    storage = storage_row(user, proxied_bucket.config)
    gates = [s3_proxy.hold(object_get("b.zip")) for _ in range(2)]

    ids = [post_cloud_import(api, storage.id, "b.zip") for _ in range(2)]
    wait_for(lambda: _both_busy(gates), "both workers to read the archive", workers=tuple(workers))
    for gate in gates:
        gate.release()
    wait_for(lambda: all(row_ended(rq_id) for rq_id in ids), "both imports", workers=tuple(workers))

    requests_ = [api_request(api, rq_id) for rq_id in ids]
    assert [request["status"] for request in requests_] == ["finished", "finished"], requests_
    first, second = (Task.objects.get(pk=request["result_id"]) for request in requests_)
    assert first.id != second.id and first.data_id != second.data_id
    assert task_state(first) == task_state(second)
    for task in (first, second):
        stored = sorted(p.name for p in local_media_root(task.id).iterdir())
        assert stored == ["img0.png", "img1.png", "img2.png"]
        response = api.get(f"/api/tasks/{task.id}/data?type=frame&number=2&quality=original")
        assert response.status_code == 200
