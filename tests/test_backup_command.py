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
