"""contract 10: `cvat-cli task create NAME share KEYS… --cloud_storage_id N`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cvat_lite.engine.models import CloudStorage, Task

pytestmark = pytest.mark.django_db(transaction=True)

CLI = Path(sys.executable).parent / "cvat-cli"


def run_cli(live, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CVAT_", "PASS"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"), PASS=live.password)
    command = [
        str(CLI),
        "--server-host", live.host,
        "--server-port", str(live.port),
        "--auth", live.username,
        *args,
    ]  # fmt: skip
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_cli_creates_a_task_from_cloud_keys(live, tmp_path, s3_emulator, s3_bucket):
    from django.contrib.auth import get_user_model

    from tests.compat.conftest import jpeg

    for i in range(3):
        s3_emulator.put(s3_bucket, f"raw/photo{i}.jpg", jpeg(20 + i, 10 + i))
    owner = get_user_model().objects.get(username=live.username)
    storage = CloudStorage.objects.create(
        owner=owner,
        provider_type="AWS_S3_BUCKET",
        resource=s3_bucket.resource,
        display_name="raw",
        credentials_type="KEY_SECRET_KEY_PAIR",
        credentials={
            "key": s3_bucket.credentials.key,
            "secret_key": s3_bucket.credentials.secret_key,
        },
        specific_attributes=f"endpoint_url={s3_emulator.endpoint_url}&region=us-east-1",
    )
    result = run_cli(
        live, tmp_path,
        "task", "create", "cli task", "share", "raw/photo0.jpg", "raw/photo1.jpg", "raw/photo2.jpg",
        "--cloud_storage_id", str(storage.id),
        "--labels", json.dumps([{"name": "car"}, {"name": "person"}]),
        "--completion_verification_period", "0.1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    task = Task.objects.get(pk=int(result.stdout.strip().splitlines()[-1]))
    assert task.name == "cli task"
    assert task.data.storage == "cloud_storage"
    assert task.data.cloud_storage_id == storage.id
    assert list(task.data.images.values_list("path", "width", "height")) == [
        (f"raw/photo{i}.jpg", 20 + i, 10 + i) for i in range(3)
    ]
    assert sorted(task.labels.values_list("name", flat=True)) == ["car", "person"]
