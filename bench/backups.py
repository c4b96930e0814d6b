"""A first benchmark of the backup paths (not part of the test suite).

    .venv/bin/python -m bench.backups [--images 1000] [--manifest-entries 10000]

Starts what it needs in this process (an embedded Redis, moto's S3 server, a SQLite database in
a temporary data directory), then calls the same services the workers run and prints one line
per figure, ``BENCH <name> <value>``:

- ``create_from_manifest_s``: task data from a manifest of ``--manifest-entries`` entries in a
  bucket (no media objects are needed, none are read);
- ``lightweight_export_s`` / ``lightweight_export_bytes`` and ``full_export_s`` /
  ``full_export_bytes`` for a task of ``--images`` JPEG objects (about 10 KB each) in S3;
- ``lightweight_restore_s`` and ``full_restore_s`` for those two archives.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import tempfile
import time
from pathlib import Path


def _jpeg(index: int) -> bytes:
    from PIL import Image

    rng = random.Random(index)
    image = Image.effect_noise((96, 72), 60).convert("RGB")
    image.putpixel((0, 0), (rng.randrange(256), 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _manifest(entries: list[tuple[str, int, int]]) -> bytes:
    lines = ['{"version":"1.1"}', '{"type":"images"}']
    for name, width, height in entries:
        stem, ext = os.path.splitext(name)
        lines.append(
            json.dumps(
                {"name": stem, "extension": ext, "width": width, "height": height},
                separators=(",", ":"),
            )
        )
    return ("\n".join(lines) + "\n").encode()


def _timed(label: str, func):
    started = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - started
    print(f"BENCH {label} {elapsed:.3f}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--manifest-entries", type=int, default=10_000)
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    workdir = Path(tempfile.mkdtemp(prefix="cvat_lite_bench_"))
    from cvat_lite.embedded_redis import EmbeddedRedis

    redis = EmbeddedRedis().start()
    os.environ.update(
        CVAT_LITE_DATA_DIR=str(workdir / "data"),
        CVAT_LITE_REDIS_URL=redis.url,
        DJANGO_SETTINGS_MODULE="cvat_lite.settings",
    )
    os.environ.pop("CVAT_LITE_DATABASE_URL", None)
    (workdir / "data").mkdir()

    import boto3
    import django
    from moto.server import ThreadedMotoServer

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from cvat_lite.backup.export_requests import ExportDestination, backup_export_run
    from cvat_lite.backup.restore import backup_restore_task
    from cvat_lite.engine.models import CloudStorage
    from cvat_lite.engine.services.data import DataOptions, task_data_create
    from cvat_lite.engine.services.tasks import task_create

    call_command("migrate", verbosity=0)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s",
        region_name="us-east-1",
    )  # fmt: skip
    s3.create_bucket(Bucket="bench")
    user = get_user_model().objects.create_superuser("bench", "b@example.com", "bench-password")
    storage = CloudStorage.objects.create(
        owner=user, provider_type="AWS_S3_BUCKET", resource="bench", display_name="bench",
        credentials_type="KEY_SECRET_KEY_PAIR", credentials={"key": "k", "secret_key": "s"},
        specific_attributes=f"endpoint_url={endpoint}&region=us-east-1",
    )  # fmt: skip

    def create(name: str, manifest_key: str):
        task = task_create(owner=user, name=name, labels=[{"name": "car"}], segment_size=500)
        options = DataOptions(server_files=[manifest_key], cloud_storage_id=storage.id)
        task_data_create(
            task_id=task.id, storage="cloud_storage", options=options, progress=lambda f: None
        )
        return task

    # 1. creation from a big manifest (objects need not exist: no media is read)
    names = [(f"big/img_{i:06d}.jpg", 640, 480) for i in range(args.manifest_entries)]
    s3.put_object(Bucket="bench", Key="big/manifest.jsonl", Body=_manifest(
        [(n.removeprefix("big/"), w, h) for n, w, h in names]
    ))  # fmt: skip
    _timed("create_from_manifest_s", lambda: create("big", "big/manifest.jsonl"))
    print(f"BENCH create_from_manifest_entries {args.manifest_entries}")

    # 2. a task of real objects, exported lightweight and full
    entries = []
    total = 0
    for i in range(args.images):
        data = _jpeg(i)
        total += len(data)
        s3.put_object(Bucket="bench", Key=f"set/img_{i:05d}.jpg", Body=data)
        entries.append((f"img_{i:05d}.jpg", 96, 72))
    s3.put_object(Bucket="bench", Key="set/manifest.jsonl", Body=_manifest(entries))
    task = create("set", "set/manifest.jsonl")
    print(f"BENCH media_bytes {total}")

    archives = {}
    for lightweight in (True, False):
        mode = "lightweight" if lightweight else "full"

        def export(lightweight=lightweight):
            return backup_export_run(
                target="task", target_id=task.id, user_id=user.id, lightweight=lightweight,
                destination=ExportDestination("local", None, None), progress=lambda *a, **k: None,
            )  # fmt: skip

        outcome = _timed(f"{mode}_export_s", export)
        path = Path(outcome.result_file)
        archives[mode] = path
        print(f"BENCH {mode}_export_bytes {path.stat().st_size}")

    for mode, path in archives.items():
        _timed(
            f"{mode}_restore_s",
            lambda path=path: backup_restore_task(owner=user, archive_path=path),
        )

    server.stop()
    redis.stop()


if __name__ == "__main__":
    main()
