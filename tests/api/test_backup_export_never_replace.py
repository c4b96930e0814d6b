"""Backup exports through the API never replace a file or an object: a
``location=cloud_storage`` upload goes to a key with no object (a generated name gets a
counter, a caller's ``filename`` that exists is a 409), and a ``location=local`` result never
replaces a file in the exports folder. Real worker (drained), real emulators."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from cvat_lite.backup.export_results import PARTIAL_PREFIX, exports_dir, result_commit
from cvat_lite.backup.naming import archive_name
from tests.api.media_helpers import storage_row
from tests.backup.export_helpers import make_unlinked_task
from tests.fixtures.emulators import EmulatedBucket

pytestmark = pytest.mark.django_db(transaction=True)

MSG_EXISTS = "The object '{key}' already exists in the cloud storage; it was not replaced."


def _submit(api, task, query: str):
    return api.post(f"/api/tasks/{task.id}/backup/export?{query}")


def _run(api, drain, response) -> dict:
    assert response.status_code == 202, response.content
    drain("export")
    return api.get(f"/api/requests/{response.json()['rq_id']}").json()


def test_a_filename_that_exists_is_409_and_the_object_stays(api, user, cloud_bucket):
    storage = storage_row(user, cloud_bucket.config)
    task = make_unlinked_task(user)
    cloud_bucket.put("backups/mine.zip", b"yesterday's backup")
    query = f"lightweight=true&location=cloud_storage&cloud_storage_id={storage.id}"
    response = _submit(api, task, query + "&filename=backups/mine.zip")
    assert response.status_code == 409
    assert response.json() == {
        "code": "cloud_object_exists",
        "message": MSG_EXISTS.format(key="backups/mine.zip"),
        "extra": {"key": "backups/mine.zip"},
    }
    assert cloud_bucket.provider().download("backups/mine.zip") == b"yesterday's backup"


def test_an_object_created_after_the_request_is_not_replaced(
    api, user, s3_emulator, s3_bucket, drain
):
    bucket = EmulatedBucket(s3_emulator, s3_bucket)
    storage = storage_row(user, s3_bucket)
    task = make_unlinked_task(user)
    query = f"lightweight=true&location=cloud_storage&cloud_storage_id={storage.id}"
    response = _submit(api, task, query + "&filename=backups/mine.zip")
    assert response.status_code == 202
    bucket.put("backups/mine.zip", b"written in between")  # before the worker runs
    request = _run(api, drain, response)
    assert request["status"] == "failed"
    assert request["message"] == MSG_EXISTS.format(key="backups/mine.zip")
    assert bucket.provider().download("backups/mine.zip") == b"written in between"


def test_generated_keys_say_what_they_hold_and_get_a_counter(
    api, user, s3_emulator, s3_bucket, drain
):
    bucket = EmulatedBucket(s3_emulator, s3_bucket)
    storage = storage_row(user, s3_bucket)
    tasks = [make_unlinked_task(user) for _ in range(2)]  # one name: "unlinked"
    now = timezone.now()
    taken = {}
    for seconds in range(-30, 31):  # every name the first export could pick, already used
        name = archive_name(
            kind="task", id=tasks[0].id, name="unlinked", lightweight=True,
            now=now + timedelta(seconds=seconds),
        )  # fmt: skip
        taken[str(name)] = f"someone else's {seconds}".encode()
        bucket.put(str(name), taken[str(name)])
    query = f"lightweight=true&location=cloud_storage&cloud_storage_id={storage.id}"
    for task in tasks:
        request = _run(api, drain, _submit(api, task, query))
        assert request["status"] == "finished", request["message"]
    provider = bucket.provider()
    new = sorted({info.key for info in provider.iter_objects("")} - set(taken))
    assert len(new) == 2
    assert re.fullmatch(rf"task-{tasks[0].id}_unlinked_lightweight_\d{{8}}T\d{{6}}Z-2\.zip", new[0])
    assert re.fullmatch(rf"task-{tasks[1].id}_unlinked_lightweight_\d{{8}}T\d{{6}}Z\.zip", new[1])
    assert {key: provider.download(key) for key in taken} == taken


def test_a_local_result_never_replaces_a_file(tmp_path):
    folder = exports_dir()
    folder.mkdir(parents=True)
    partial = tmp_path / f"{PARTIAL_PREFIX}0123abcd.zip"
    partial.write_bytes(b"new result")
    existing = folder / "0123abcd.zip"
    existing.write_bytes(b"another request's result")
    final = folder.parent / result_commit(partial)  # a key of the shared store (DATA_DIR)
    assert final != existing and final.parent == folder and final.read_bytes() == b"new result"
    assert existing.read_bytes() == b"another request's result"
    assert not partial.exists()


def test_a_local_export_still_downloads(api, user, drain):
    task = make_unlinked_task(user)
    request = _run(api, drain, _submit(api, task, "lightweight=true"))
    assert request["status"] == "finished", request["message"]
    body = b"".join(api.get(request["result_url"]).streaming_content)
    [path] = list(exports_dir().iterdir())
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(body).digest()
