"""contract 10: the unmodified cvat-sdk / cvat-cli 2.80 restore backups (TUS) from a live server:
``client.tasks.create_from_backup``, ``client.projects.create_from_backup`` and
``cvat-cli task create-from-backup``."""

from __future__ import annotations

import pytest

from cvat_lite.engine.frames import local_media_root
from cvat_lite.engine.models import Project, Task
from tests.backup.archives import task_backup
from tests.backup.restore_helpers import cvat_backup_path, project_backup
from tests.compat.conftest import live  # noqa: F401 (the fixture)
from tests.compat.test_cli_tasks import run_cli
from tests.uploads.tus import imports_area

pytestmark = pytest.mark.django_db(transaction=True)


def test_sdk_restores_a_task_backup(live, tmp_path):  # noqa: F811
    backup = task_backup(3)
    path = backup.write(tmp_path / "task backup.zip")
    with live.client(credentials=(live.username, live.password)) as client:
        task = client.tasks.create_from_backup(str(path))
        assert task.name == "cats and dogs"
        assert task.size == 3
        assert len(task.get_jobs()) == 2
        assert task.get_frame(1, quality="original").read() == backup.members["data/img1.png"]
    restored = Task.objects.get(pk=task.id)
    assert restored.owner.username == live.username
    assert imports_area() == []


def test_sdk_restores_the_cvat_backup(live):  # noqa: F811
    with live.client(credentials=(live.username, live.password)) as client:
        task = client.tasks.create_from_backup(str(cvat_backup_path()))
        assert len(task.get_jobs()) == 9
        assert task.get_meta().frames[0].name == "32.png"
    assert len(list(local_media_root(task.id).iterdir())) == 6


def test_sdk_restores_a_project_backup(live, tmp_path):  # noqa: F811
    path = project_backup((2, False), (1, True)).write(tmp_path / "project.zip")
    with live.client(credentials=(live.username, live.password)) as client:
        project = client.projects.create_from_backup(str(path))
        assert project.name == "zoo"
        assert len(project.get_tasks()) == 2
    assert Project.objects.get(pk=project.id).tasks.count() == 2


def test_cli_task_create_from_backup(live, tmp_path):  # noqa: F811
    path = task_backup(2).write(tmp_path / "b.zip")
    result = run_cli(live, tmp_path, "task", "create-from-backup", str(path))
    assert result.returncode == 0, result.stderr
    task = Task.objects.get(pk=int(result.stdout.strip().splitlines()[-1]))
    assert (task.name, task.data.size) == ("cats and dogs", 2)


def test_cli_reports_a_refused_backup(live, tmp_path):  # noqa: F811
    backup = task_backup(2).edit_json("task.json", lambda doc: doc.update(version="9.9"))
    path = backup.write(tmp_path / "b.zip")
    result = run_cli(live, tmp_path, "task", "create-from-backup", str(path))
    assert result.returncode != 0
    assert "Unsupported backup version '9.9'." in result.stdout + result.stderr
    assert not Task.objects.exists()
