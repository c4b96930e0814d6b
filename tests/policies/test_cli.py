"""``cvat-lite backup policies``: add, edit, list, run, delete, --check."""

from __future__ import annotations

import json

import pytest
from django.core.management.base import CommandError

from cvat_lite.policies import schedule
from cvat_lite.policies.models import BackupPolicy, PolicyArchive
from cvat_lite.policies.store import backups_dir
from cvat_lite.requests.models import Request
from tests.backup.export_helpers import make_local_task
from tests.policies.helpers import run_cli

pytestmark = pytest.mark.django_db(transaction=True)


def test_add_list_run_edit_delete(admin_api, admin_user, drain):
    task, _ = make_local_task(admin_api, drain, name="street")
    code, out, err = run_cli(
        "add", "--name", "nightly", "--scope", "task", "--task", str(task.id),
        "--to-data-dir", "--prefix", "cron", "--cron", "0 3 * * *",
        "--timezone", "Europe/Paris", "--keep-last", "2", "--keep-daily", "7", "--verify",
    )  # fmt: skip
    assert code == 0, err
    created = BackupPolicy.objects.get()
    assert out.strip() == f"Created backup policy #{created.id}."
    assert created.owner == admin_user  # the first superuser
    assert (created.cron, created.timezone, created.keep_last, created.keep_daily) == (
        "0 3 * * *", "Europe/Paris", 2, 7,
    )  # fmt: skip
    assert created.verify_after_write
    assert len(schedule.scheduled_fires(created.id)) == 1

    code, out, _ = run_cli()
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith(str(created.id)))
    assert "nightly" in line and f"task #{task.id}" in line and "never run" in line

    code, out, err = run_cli("run", str(created.id))
    assert code == 0, out + err
    archive = PolicyArchive.objects.get()
    assert archive.verified is True
    assert (backups_dir() / archive.key).is_file()
    assert f"written   task #{task.id} street  {archive.key}" in out
    assert "1 written, 0 unchanged, 0 failed, 0 pruned" in out
    request = Request.objects.get(target="policy")
    assert (request.status, request.progress) == ("finished", 1.0)

    code, out, _ = run_cli("--json")
    (row,) = json.loads(out)
    assert row["last_status"] == "succeeded"

    code, out, err = run_cli("edit", str(created.id), "--mode", "lightweight", "--disabled")
    assert code == 0, err
    created.refresh_from_db()
    assert (created.mode, created.enabled) == ("lightweight", False)
    assert schedule.scheduled_fires(created.id) == []

    code, out, err = run_cli("run", str(created.id))  # a local task cannot be lightweight
    assert code == 1
    assert "0 written, 0 unchanged, 1 failed, 0 pruned" in out
    assert run_cli("--check")[0] == 1

    with pytest.raises(CommandError, match="'every day' is not a cron expression"):
        run_cli("edit", str(created.id), "--cron", "every day")
    created.refresh_from_db()
    assert created.cron == "0 3 * * *"

    assert run_cli("delete", str(created.id))[0] == 0
    assert not BackupPolicy.objects.exists()
    assert (backups_dir() / archive.key).is_file()  # the archives stay


def test_check_with_no_policies_is_ok(db):
    code, out, _ = run_cli("--check")
    assert code == 0
    assert "All policies OK" in out
