"""`cvat-lite backup export|import`: scripted backups for administrators."""

from __future__ import annotations

import re
import zipfile
from io import StringIO

import pytest
from django.core.management import call_command

from cvat_lite.engine.models import Data, Task
from tests.backup.export_helpers import make_cloud_task, make_local_task

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("backup", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_export_all_lightweight_whenever_possible_then_import(
    api, user, s3_bucket, s3_emulator, drain, tmp_path, capsys
):
    from tests.fixtures.emulators import EmulatedBucket

    bucket = EmulatedBucket(s3_emulator, s3_bucket)
    cloud = make_cloud_task(api, user, bucket, drain)
    make_local_task(api, drain)
    Task.objects.create(owner=user, name="no data")  # skipped by --all

    code, out, _ = run("export", "--all", "--lightweight", "--output", str(tmp_path / "out"))
    assert code == 0, out
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == 2
    light = next(f for f in files if "lightweight" in f.name)
    full = next(f for f in files if "lightweight" not in f.name)
    assert re.fullmatch(
        rf"task-{cloud.task.id}_cloud_task_lightweight_\d{{8}}T\d{{6}}Z\.zip", light.name
    )
    with zipfile.ZipFile(light) as archive:
        assert [n for n in archive.namelist() if n.startswith("data/")] == ["data/manifest.jsonl"]
    with zipfile.ZipFile(full) as archive:
        assert "data/x.jpg" in archive.namelist()
    assert f"task #{cloud.task.id} cloud task" in out
    assert "lightweight" in out and "full" in out
    assert out.strip().endswith("2 succeeded, 0 failed")
    assert "100%" in capsys.readouterr().err  # the progress bar

    before = Task.objects.count()
    code, out, _ = run("import", str(light), str(full), "--owner", user.username)
    assert code == 0, out
    assert Task.objects.count() == before + 2
    restored = Task.objects.order_by("-id")[:2]
    assert {t.data.storage for t in restored} == {"cloud_storage", "local"}
    assert out.strip().endswith("2 succeeded, 0 failed")


def test_failures_give_exit_code_1(api, user, s3_bucket, s3_emulator, drain, tmp_path):
    from tests.fixtures.emulators import EmulatedBucket

    bucket = EmulatedBucket(s3_emulator, s3_bucket)
    cloud = make_cloud_task(api, user, bucket, drain)
    Data.objects.filter(pk=cloud.task.data_id).update(cloud_storage=None)  # unlinked

    output = tmp_path / "out"
    code, out, _ = run("export", "--task", str(cloud.task.id), "--output", str(output))
    assert code == 1
    assert "FAILED" in out
    assert "This task is not connected to a cloud storage." in out
    assert list(output.iterdir()) == []

    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    tasks = Task.objects.count()
    code, out, _ = run("import", str(junk), "--owner", user.username)
    assert code == 1
    assert "The file is not a ZIP archive." in out
    assert Task.objects.count() == tasks


def test_export_to_a_cloud_storage(api, user, s3_bucket, s3_emulator, drain):
    from tests.fixtures.emulators import EmulatedBucket

    bucket = EmulatedBucket(s3_emulator, s3_bucket)
    cloud = make_cloud_task(api, user, bucket, drain)
    code, out, _ = run(
        "export", "--task", str(cloud.task.id), "--lightweight",
        "--to-cloud-storage", str(cloud.storage.id),
    )  # fmt: skip
    assert code == 0, out
    keys = [
        obj["Key"]
        for obj in s3_emulator.client().list_objects_v2(Bucket=s3_bucket.resource)["Contents"]
    ]
    backups = [key for key in keys if key.endswith(".zip")]
    assert len(backups) == 1
    assert re.fullmatch(
        rf"task-{cloud.task.id}_cloud_task_lightweight_\d{{8}}T\d{{6}}Z\.zip", backups[0]
    )
    assert backups[0] in out


# --- one archive per item, never replacing one, read back ---------------------------------------


def _named_tasks(user, name: str, count: int, project=None) -> list[Task]:
    from tests.backup.export_helpers import make_unlinked_task

    tasks = []
    for _ in range(count):
        task = make_unlinked_task(user)
        Task.objects.filter(pk=task.pk).update(name=name, project=project)
        tasks.append(Task.objects.get(pk=task.pk))
    return tasks


def _zips(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_same_name_tasks_and_projects_each_get_their_own_archive(user, tmp_path):
    from cvat_lite.backup.naming import parse_archive_name
    from cvat_lite.engine.models import Project

    street = _named_tasks(user, "street", 4)
    projects = [Project.objects.create(owner=user, name="same") for _ in range(3)]
    inside = [_named_tasks(user, "street", 1, project)[0] for project in projects]
    Task.objects.create(owner=user, name="street")  # no data: nothing to back up

    out = tmp_path / "all"
    code, output, _ = run("export", "--all", "--lightweight", "--output", str(out))
    assert code == 0, output
    assert output.strip().endswith("7 succeeded, 0 failed")
    names = _zips(out)
    assert len(names) == 7
    parsed = [parse_archive_name(name) for name in names]
    found = {(p.kind, p.id) for p in parsed if p is not None and p.mode == "lightweight"}
    assert found == {("task", t.id) for t in street} | {("project", p.id) for p in projects}
    for name in names:
        with zipfile.ZipFile(out / name) as archive:
            assert archive.testzip() is None
            assert ("project.json" in archive.namelist()) == name.startswith("project-")

    out = tmp_path / "some"
    order = [projects[0].id, projects[2].id, projects[1].id]
    code, output, _ = run(
        "export", *(f"--project={pk}" for pk in order), "--lightweight", "--output", str(out)
    )
    assert code == 0, output
    assert [int(re.match(r"project-(\d+)_", n)[1]) for n in _zips(out)] == sorted(order)
    assert output.strip().endswith("3 succeeded, 0 failed")

    out = tmp_path / "tasks"
    code, output, _ = run("export", "--all-tasks", "--lightweight", "--output", str(out))
    assert code == 0, output
    assert {int(re.match(r"task-(\d+)_street_", n)[1]) for n in _zips(out)} == {
        t.id for t in street + inside
    }


def test_an_existing_file_is_never_replaced(user, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from cvat_lite.backup.naming import archive_name

    [task] = _named_tasks(user, "street", 1)
    out = tmp_path / "out"
    out.mkdir()
    now = timezone.now()
    taken = {}  # every name the run could pick within a minute, already used
    for seconds in range(-30, 31):
        name = archive_name(
            kind="task", id=task.id, name="street", lightweight=True,
            now=now + timedelta(seconds=seconds),
        )  # fmt: skip
        taken[str(name)] = f"someone else's {seconds}".encode()
        (out / str(name)).write_bytes(taken[str(name)])
    code, output, _ = run("export", "--task", str(task.id), "--lightweight", "--output", str(out))
    assert code == 0, output
    new = set(_zips(out)) - set(taken)
    assert len(new) == 1 and next(iter(new)).endswith("-2.zip")
    assert {name: (out / name).read_bytes() for name in taken} == taken


def test_the_report_lists_every_item(user, tmp_path):
    import hashlib
    import json

    from tests.backup.export_helpers import make_unlinked_task

    good = make_unlinked_task(user)
    bad = make_unlinked_task(user)
    out, report = tmp_path / "out", tmp_path / "report.json"
    code, output, _ = run(
        "export",
        "--task",
        str(good.id),
        "--task",
        str(bad.id),
        "--output",
        str(out),
        "--report",
        str(report),
    )  # fmt: skip  (full backups of unlinked tasks: refused)
    assert code == 1
    code, output, _ = run(
        "export", "--task", str(good.id), "--task", str(bad.id), "--task", str(good.id),
        "--lightweight", "--output", str(out), "--report", str(report),
    )  # fmt: skip
    assert code == 0, output
    data = json.loads(report.read_text())
    assert (data["succeeded"], data["failed"]) == (2, 0)
    assert data["started"] <= data["finished"]
    assert [(i["kind"], i["id"], i["mode"], i["status"]) for i in data["items"]] == [
        ("task", good.id, "lightweight", "ok"),
        ("task", bad.id, "lightweight", "ok"),
    ]  # each item once
    for item in data["items"]:
        assert set(item) == {
            "id", "kind", "mode", "destination", "name", "location", "bytes", "sha256",
            "duration", "status", "error", "read_back",
        }  # fmt: skip
        path = out / item["name"]
        assert item["location"] == str(path) and item["destination"] == str(out)
        assert item["bytes"] == path.stat().st_size
        assert item["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert item["error"] is None and item["duration"] >= 0
        assert item["read_back"] == "size,sha256,checksums.sha256"


def test_a_failed_read_back_fails_the_item_and_the_run(user, tmp_path, monkeypatch):
    import json

    from cvat_lite.backup import writing

    [task] = _named_tasks(user, "street", 1)
    original = writing._Tee.write

    def flip_on_the_way_out(self, data: bytes) -> int:
        """What the disk got is not what was hashed (one byte flipped)."""
        if self.count == 0:
            original(self, data[:1])
            self._stream.seek(self._stream.tell() - 1)
            self._stream.write(bytes([data[0] ^ 0xFF]))
            return 1 + original(self, data[1:]) if len(data) > 1 else 1
        return original(self, data)

    monkeypatch.setattr(writing._Tee, "write", flip_on_the_way_out)
    out, report = tmp_path / "out", tmp_path / "report.json"
    code, output, _ = run(
        "export", "--task", str(task.id), "--lightweight", "--output", str(out),
        "--report", str(report),
    )  # fmt: skip
    assert code == 1
    assert output.strip().endswith("0 succeeded, 1 failed")
    assert "FAILED" in output and "read back is not the sha256 written" in output
    [item] = json.loads(report.read_text())["items"]
    assert item["status"] == "failed"
    assert item["error"].endswith("read back is not the sha256 written.")


def test_cloud_exports_never_replace_an_object(user, s3_emulator, s3_bucket):
    from datetime import timedelta

    from django.utils import timezone

    from cvat_lite.backup.naming import archive_name
    from tests.api.media_helpers import storage_row
    from tests.fixtures.emulators import EmulatedBucket

    bucket = EmulatedBucket(s3_emulator, s3_bucket)
    storage = storage_row(user, s3_bucket)
    tasks = _named_tasks(user, "street", 2)
    now = timezone.now()
    taken = set()
    for seconds in range(-30, 31):
        key = "nightly/" + str(
            archive_name(
                kind="task", id=tasks[0].id, name="street", lightweight=True,
                now=now + timedelta(seconds=seconds),
            )
        )  # fmt: skip
        bucket.put(key, b"someone else's")
        taken.add(key)
    code, output, _ = run(
        "export", "--all", "--lightweight", "--to-cloud-storage", str(storage.id),
        "--prefix", "nightly",
    )  # fmt: skip
    assert code == 0, output
    assert output.strip().endswith("2 succeeded, 0 failed")
    provider = bucket.provider()
    keys = {info.key for info in provider.iter_objects("nightly/")}
    new = keys - taken
    assert len(new) == 2
    assert {re.match(r"nightly/task-(\d+)_", k)[1] for k in new} == {str(t.id) for t in tasks}
    assert all(provider.download(key) == b"someone else's" for key in taken)


# --- verify --------------------------------------------------------------------------------------


def test_verify_passes_what_export_wrote_and_catches_damage(user, tmp_path):
    import json

    from tests.backup.archives import flip_byte_in_member

    [task] = _named_tasks(user, "street", 1)
    out = tmp_path / "out"
    code, output, _ = run("export", "--task", str(task.id), "--lightweight", "--output", str(out))
    assert code == 0, output
    [name] = _zips(out)
    good = out / name
    code, output, _ = run("verify", str(good))
    assert code == 0, output
    assert "structure:ok content:ok documents:ok" in output
    assert output.strip().endswith("1 verified, 0 failed")

    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(good.read_bytes())
    flip_byte_in_member(damaged, "data/manifest.jsonl", at=3)
    report = tmp_path / "verify.json"
    code, output, _ = run("verify", str(good), str(damaged), "--report", str(report))
    assert code == 1
    assert output.strip().endswith("1 verified, 1 failed")
    assert f"{damaged}: content: The archive member 'data/manifest.jsonl'" in output
    data = json.loads(report.read_text())
    assert (data["verified"], data["failed"]) == (1, 1)
    assert [a["ok"] for a in data["archives"]] == [True, False]
    assert data["archives"][1]["sha256"] is not None
    assert [c["name"] for c in data["archives"][1]["checks"]] == [
        "structure", "content", "documents",
    ]  # fmt: skip
