"""``backup_archive_write``: one archive per item, never replacing one, read back."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import UTC, datetime

import pytest

from cvat_lite.backup import writing
from cvat_lite.backup.destinations import CloudStorageDestination, LocalDirectory
from cvat_lite.backup.writing import backup_archive_write
from cvat_lite.engine.models import Project
from tests.api.media_helpers import storage_row
from tests.backup.export_helpers import make_unlinked_task
from tests.fixtures.emulators import EmulatedBucket

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 3, 10, 15, 7, tzinfo=UTC)


@pytest.fixture
def out(tmp_path):
    return tmp_path / "out"  # created by the service


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_name_tasks_each_get_their_own_archive(user, out):
    tasks = [make_unlinked_task(user) for _ in range(3)]  # all named "unlinked"
    records = [
        backup_archive_write(
            kind="task", id=t.id, mode="auto", destination=LocalDirectory(out), now=NOW
        )
        for t in tasks
    ]
    assert [r.status for r in records] == ["ok"] * 3, [r.error for r in records]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"task-{t.id}_unlinked_lightweight_20261203T101507Z.zip" for t in tasks
    )
    for record in records:
        path = out / record.name
        assert record.location == str(path) and record.destination == str(out)
        assert record.bytes == path.stat().st_size and record.sha256 == _sha256(path)
        assert record.mode == "lightweight" and record.error is None
        assert record.read_back == "size,sha256,checksums.sha256"


def test_the_same_task_twice_in_one_second_gets_a_counter(user, out):
    task = make_unlinked_task(user)
    out.mkdir()
    taken = out / f"task-{task.id}_unlinked_lightweight_20261203T101507Z-2.zip"
    taken.write_bytes(b"not ours")
    names = [
        backup_archive_write(
            kind="task", id=task.id, mode="lightweight", destination=LocalDirectory(out), now=NOW
        )
        for _ in range(2)
    ]
    assert all(r.ok for r in names), [r.error for r in names]
    names = [r.name for r in names]  # type: ignore[misc]
    assert names == [
        f"task-{task.id}_unlinked_lightweight_20261203T101507Z.zip",
        f"task-{task.id}_unlinked_lightweight_20261203T101507Z-3.zip",
    ]
    assert taken.read_bytes() == b"not ours"


def test_projects_with_one_name_each_get_their_own_archive(user, out):
    projects = [Project.objects.create(owner=user, name="Cars") for _ in range(2)]
    for project in projects:
        task = make_unlinked_task(user)
        task.project = project
        task.save()
    records = [
        backup_archive_write(
            kind="project", id=p.id, mode="lightweight", destination=LocalDirectory(out), now=NOW
        )
        for p in projects
    ]
    assert all(r.ok for r in records), [r.error for r in records]
    assert {r.name for r in records} == {
        f"project-{p.id}_Cars_lightweight_20261203T101507Z.zip" for p in projects
    }
    for record in records:
        with zipfile.ZipFile(out / record.name) as archive:
            assert "project.json" in archive.namelist()


def test_what_cannot_be_written_is_a_failed_record(user, out):
    task = make_unlinked_task(user)
    record = backup_archive_write(
        kind="task", id=task.id, mode="full", destination=LocalDirectory(out), now=NOW
    )
    assert record.status == "failed" and record.mode == "full"
    assert record.error == "This task is not connected to a cloud storage. " + (
        f"Attach one with PATCH /api/tasks/{task.id}/data/meta."
    )
    assert record.bytes is None and record.name == ""
    assert list(out.iterdir()) == []  # no partial file left
    missing = backup_archive_write(
        kind="project", id=999999, mode="auto", destination=LocalDirectory(out)
    )
    assert missing.status == "failed" and missing.error == "Project #999999 does not exist."


def _corrupt_after_hashing(monkeypatch):
    """The bytes that reach the disk are not the bytes hashed (a bad disk, a bad controller):
    one byte in the middle of the archive is flipped on its way out."""
    original = writing._Tee.write

    def write(self, data: bytes) -> int:
        if self.count < 100 <= self.count + len(data):
            at = 100 - self.count
            self.sha256.update(data), self.md5.update(data)
            self.count += len(data)
            self._stream.write(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
            return len(data)
        return original(self, data)

    monkeypatch.setattr(writing._Tee, "write", write)


def test_a_local_archive_that_does_not_read_back_is_failed(user, out, monkeypatch):
    task = make_unlinked_task(user)
    _corrupt_after_hashing(monkeypatch)
    record = backup_archive_write(
        kind="task", id=task.id, mode="auto", destination=LocalDirectory(out), now=NOW
    )
    assert record.status == "failed"
    path = out / f"task-{task.id}_unlinked_lightweight_20261203T101507Z.zip"
    assert record.error == f"The sha256 of {path} read back is not the sha256 written."
    assert path.exists()  # left for inspection, reported as failed


def test_cloud_archives_never_replace_and_are_read_back(user, cloud_bucket: EmulatedBucket):
    storage = storage_row(user, cloud_bucket.config)
    provider = cloud_bucket.provider()
    tasks = [make_unlinked_task(user) for _ in range(2)]
    first = f"backups/task-{tasks[0].id}_unlinked_lightweight_20261203T101507Z.zip"
    cloud_bucket.put(first, b"somebody else's")
    destination = CloudStorageDestination(storage.id, "backups")
    records = [
        backup_archive_write(kind="task", id=t.id, mode="auto", destination=destination, now=NOW)
        for t in tasks
    ]
    assert all(r.ok for r in records), [r.error for r in records]
    assert records[0].location == first.replace(".zip", "-2.zip")
    assert (
        records[1].location
        == f"backups/task-{tasks[1].id}_unlinked_lightweight_20261203T101507Z.zip"
    )
    assert provider.download(first) == b"somebody else's"
    for record in records:
        body = provider.download(record.location)
        assert len(body) == record.bytes and hashlib.sha256(body).hexdigest() == record.sha256
        assert record.destination == f"cloud_storage:{storage.id}/backups"
        assert record.read_back.startswith("size") and record.read_back.endswith("sha256")


def test_a_cloud_archive_that_does_not_read_back_is_failed(
    user, s3_emulator, s3_bucket, monkeypatch
):
    storage = storage_row(user, s3_bucket)
    task = make_unlinked_task(user)
    _corrupt_after_hashing(monkeypatch)
    record = backup_archive_write(
        kind="task", id=task.id, mode="auto", destination=CloudStorageDestination(storage.id, "")
    )
    assert record.status == "failed"
    assert (
        record.error
        == f"The storage reports an MD5 for {record.location} that is not the MD5 written."
    )


def test_big_cloud_archives_are_checked_by_size_and_md5_only(
    user, s3_emulator, s3_bucket, settings
):
    settings.BACKUP_READBACK_DOWNLOAD_MAX = 10
    storage = storage_row(user, s3_bucket)
    task = make_unlinked_task(user)
    record = backup_archive_write(
        kind="task", id=task.id, mode="auto", destination=CloudStorageDestination(storage.id, "")
    )
    assert record.ok and record.read_back == "size,md5"


def test_a_project_without_cloud_tasks_is_a_full_archive(user, out):
    project = Project.objects.create(owner=user, name="empty")
    record = backup_archive_write(
        kind="project", id=project.id, mode="lightweight", destination=LocalDirectory(out), now=NOW
    )
    assert record.ok, record.error
    assert (record.mode, record.name) == (
        "full", f"project-{project.id}_empty_full_20261203T101507Z.zip",
    )  # fmt: skip


def test_an_unexpected_error_fails_the_item_not_the_run(user, out, monkeypatch, caplog):
    task = make_unlinked_task(user)

    def broken(**kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(writing, "backup_write_task", broken)
    record = backup_archive_write(
        kind="task", id=task.id, mode="auto", destination=LocalDirectory(out), now=NOW
    )
    assert record.status == "failed"
    assert record.error == "Internal error (ValueError): see the server log."
    assert "Backup of task" in caplog.text
    assert list(out.iterdir()) == []
