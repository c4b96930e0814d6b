"""``python -m bench.relink --images 1000000``: a relink of a task of N images, against a
listing floor, with the peak RSS of the process that runs it.

The bucket is ``bench.synthetic_s3`` (a virtual bucket of N keys ``ds/img<i:07d>.jpg`` with one
real tiny JPEG as their body, at a constant cost per listed page); the task is N Image rows
written straight into the database (no manifest to parse: the relink is what is measured). The
relink goes through the API as a client sends it: ``PATCH /api/tasks/{id}/data/meta``; above
``CVAT_LITE_RELINK_SYNC_MAX_IMAGES`` it answers 202 and a ``cvat-lite rqworker`` subprocess
runs it, followed with ``GET /api/requests/{rq_id}`` until finished. The worker's process tree
is sampled every 20 ms (``bench.services.Worker``): its peak RSS is the relink's.

Figures (``BENCH <name>[<N>] <value>``), each relink timed from the PATCH to the finished
request and divided by the floor, one full paged ``list_objects_v2`` of the bucket with boto3:

- ``relink_dry_run_s``: a dry run of a task whose rows have CVAT's pixel checksum only (as
  after restoring a CVAT-written lightweight backup): the listing, 20 objects sampled by
  content, nothing saved;
- ``relink_learn_s``: the same relink, saved: the link and, for every row, the listing's size,
  MD5 and ETag learnt (N rows rewritten in batches);
- ``relink_fingerprints_s``: a dry run after it, comparing the learnt MD5s (no download);
- ``relink_worker_idle_rss_mb`` and ``relink_<mode>_peak_rss_mb``: the worker before any job,
  and its tree's peak while each relink ran.

``--database-url`` runs against that database (e.g. PostgreSQL) instead of a fresh SQLite file
in the work folder; the task's rows are deleted afterwards.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIX = "ds/img"
BUCKET = "relink"
ROW_BATCH = 10_000


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _setup(workdir: Path, database_url: str | None):
    from cvat_lite.embedded_redis import EmbeddedRedis

    redis = EmbeddedRedis().start()
    data = workdir / "data"
    data.mkdir(parents=True)
    os.environ.update(
        {
            "CVAT_LITE_DATA_DIR": str(data),
            "CVAT_LITE_REDIS_URL": redis.url,
            "CVAT_LITE_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "cvat_lite.settings",
        }
    )
    if database_url:
        os.environ["CVAT_LITE_DATABASE_URL"] = database_url
    else:  # the run's own SQLite file (settings' default under DATA_DIR)
        os.environ.pop("CVAT_LITE_DATABASE_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return redis


def _rows(data_id: int, n: int, checksum: str) -> None:
    """N Image rows ``ds/img<i:07d>.jpg``, frame i, CVAT's pixel checksum, no object evidence."""
    from django.db import connection, transaction

    from cvat_lite.engine.models import Image

    quote = connection.ops.quote_name
    columns = ("data_id", "path", "frame", "width", "height", "checksum", "related_files")
    sql = (
        f"INSERT INTO {quote(Image._meta.db_table)} ({', '.join(map(quote, columns))}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, n, ROW_BATCH):
            cursor.executemany(
                sql,
                [
                    (data_id, f"{PREFIX}{i:07d}.jpg", i, 8, 6, checksum, "[]")
                    for i in range(start, min(start + ROW_BATCH, n))
                ],
            )


def _timed(func):
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def run(n: int, workdir: Path, database_url: str | None) -> None:
    redis = _setup(workdir, database_url)
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from bench.client import Api
    from bench.floors import list_bucket
    from bench.services import KEY, SECRET, Worker
    from bench.synthetic_s3 import SyntheticS3, VirtualObjects
    from cvat_lite.engine.models import CloudStorage, Data, StorageChoice, Task
    from cvat_lite.media.images import pixel_md5

    body = _jpeg()
    s3 = SyntheticS3().start()
    worker = None
    task = None
    try:
        s3.add_virtual(BUCKET, VirtualObjects(PREFIX, n, body))
        user, _ = get_user_model().objects.get_or_create(username="bench-relink")
        storage = CloudStorage.objects.create(
            owner=user, provider_type="AWS_S3_BUCKET", resource=BUCKET, display_name=BUCKET,
            credentials_type="KEY_SECRET_KEY_PAIR", credentials={"key": KEY, "secret_key": SECRET},
            specific_attributes=f"endpoint_url={s3.endpoint}&region=us-east-1",
        )  # fmt: skip
        data = Data.objects.create(
            storage=StorageChoice.CLOUD_STORAGE, size=n, stop_frame=n - 1, cloud_prefix="ds"
        )
        seconds, _ = _timed(lambda: _rows(data.id, n, pixel_md5(body)))
        print(f"# {n} rows written in {seconds:.1f} s", flush=True)
        task = Task.objects.create(owner=user, name=f"relink {n}", data=data)
        print(
            f"# limit for an inline relink: {settings.RELINK_SYNC_MAX_IMAGES} images",
            flush=True,
        )

        worker = Worker(dict(os.environ), workdir / "worker.log")
        time.sleep(3)  # the worker imports Django before it is idle
        print(f"BENCH relink_worker_idle_rss_mb[{n}] {worker.peak_kb / 1024:.1f}", flush=True)
        api = Api(user, worker)

        floor, listed = list_bucket(s3.client(), BUCKET)
        assert listed == n, listed
        print(f"BENCH relink_listing_floor_s[{n}] {floor:.3f}", flush=True)

        runs = [
            ("dry_run", {"dry_run": True}, {"present": n, "content_sampled": min(20, n)}),
            ("learn", {}, {"ok": True, "present": n}),
            ("fingerprints", {"dry_run": True}, {"fingerprints_matched": n, "content_sampled": 0}),
        ]
        for name, options, expect in runs:
            worker.reset_peak()
            seconds, answer = _timed(lambda o=options: api.relink(task.id, storage.id, **o))
            report = answer["verification"]
            for key, value in expect.items():
                assert report[key] == value, (name, key, report)
            print(f"BENCH relink_{name}_s[{n}] {seconds:.3f}", flush=True)
            print(f"BENCH relink_{name}_ratio[{n}] {seconds / floor:.2f}", flush=True)
            print(f"BENCH relink_{name}_peak_rss_mb[{n}] {worker.peak_kb / 1024:.1f}", flush=True)
        data.refresh_from_db()
        assert data.cloud_storage_id == storage.id
    finally:
        if worker is not None:
            worker.stop()
        if task is not None and database_url:
            Data.objects.filter(pk=task.data_id).delete()
            task.delete()
        s3.stop()
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relink", description=__doc__)
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-relink-"))
    try:
        run(args.images, workdir, args.database_url)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
