"""contract 10: backup exports with the unmodified clients against a live server —
``task.download_backup(path, lightweight=True|False)`` (cvat-sdk) and ``cvat-cli task backup``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cvat_sdk.core.proxies.tasks import ResourceType

from cvat_lite.backup.archive import ArchiveReader
from cvat_lite.backup.format import check_task_layout
from tests.compat.conftest import put_images_with_manifest
from tests.compat.test_cli_tasks import run_cli
from tests.compat.test_sdk_tasks import _create_storage

pytestmark = pytest.mark.django_db(transaction=True)


def _check(path: Path, *, lightweight: bool, objects: dict[str, bytes] | None = None) -> None:
    with ArchiveReader(path) as reader:
        reader.verify_checksums()
        layout = check_task_layout(reader, lightweight_expected=lightweight)
        assert layout.image_count == 3
        for key, content in (objects or {}).items():
            assert reader.read_bytes("data/" + key.removeprefix("set1/")) == content


def _cloud_task(client, emulator, config):
    storage_id = _create_storage(client, emulator, config)
    return client.tasks.create_from_data(
        spec={"name": "sdk backup", "labels": [{"name": "car"}]},
        resource_type=ResourceType.SHARE,
        resources=["set1/manifest.jsonl"],
        data_params={"cloud_storage_id": storage_id},
    )


def test_sdk_and_cli_download_backups(live, tmp_path, s3_emulator, s3_bucket):
    objects = put_images_with_manifest(s3_emulator, s3_bucket, "set1/", 3)
    with live.client(credentials=(live.username, live.password)) as client:
        task = _cloud_task(client, s3_emulator, s3_bucket)
        light = tmp_path / "light.zip"
        task.download_backup(light, lightweight=True)
        _check(light, lightweight=True)
        full = tmp_path / "full.zip"
        task.download_backup(full, lightweight=False)
        _check(full, lightweight=False, objects=objects)
        assert light.stat().st_size < full.stat().st_size

    result = run_cli(live, tmp_path, "task", "backup", str(task.id), str(tmp_path / "cli.zip"))
    assert result.returncode == 0, result.stderr
    _check(tmp_path / "cli.zip", lightweight=False, objects=objects)

    folder = tmp_path / "out"
    folder.mkdir()
    result = run_cli(live, tmp_path, "task", "backup", str(task.id), f"{folder}/")
    assert result.returncode == 0, result.stderr
    [named] = list(folder.iterdir())  # named from Content-Disposition
    assert named.name.startswith("task_sdk_backup_backup_") and named.suffix == ".zip"
    _check(named, lightweight=False, objects=objects)


def test_sdk_downloads_a_project_backup(live, tmp_path, s3_emulator, s3_bucket):
    import zipfile

    put_images_with_manifest(s3_emulator, s3_bucket, "set1/", 3)
    with live.client(credentials=(live.username, live.password)) as client:
        project = client.projects.create({"name": "sdk project", "labels": [{"name": "car"}]})
        storage_id = _create_storage(client, s3_emulator, s3_bucket)
        client.tasks.create_from_data(
            spec={"name": "in project", "project_id": project.id},
            resource_type=ResourceType.SHARE,
            resources=["set1/manifest.jsonl"],
            data_params={"cloud_storage_id": storage_id},
        )
        path = tmp_path / "project.zip"
        project.download_backup(path, lightweight=True)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert "project.json" in names
    assert [n for n in names if n.startswith("task_0/data/")] == ["task_0/data/manifest.jsonl"]

    result = run_cli(live, tmp_path, "project", "backup", str(project.id), str(tmp_path / "p.zip"))
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "p.zip") as archive:  # the CLI asks for a full backup
        assert "task_0/data/img0.jpg" in archive.namelist()
