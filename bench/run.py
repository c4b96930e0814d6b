"""``python -m bench --images 1000,10000,100000``: task paths measured against their floors.

The web server (gunicorn, one worker process) and the worker (``cvat-lite rqworker``) run as
subprocesses; the benchmark calls the API over HTTP. For each path, its time, and the peak RSS
of the web process and of the worker (the largest of any one process of each tree, sampled
every 20 ms) while it ran: ``<path>_s``, ``<path>_peak_rss_web_mb``,
``<path>_peak_rss_worker_mb``; ``idle_rss_web_mb`` / ``idle_rss_worker_mb`` before the first.

For each N, one bucket of N tiny objects and its N-entry manifest (``manifest.jsonl``, sorted,
as CVAT's tool writes it) — in moto below 100,000 objects, in ``bench.synthetic_s3`` from there
(a virtual bucket whose listing costs the same per page at any size):

- ``create_from_manifest``: POST /api/tasks/{id}/data from the manifest → request finished;
  floor: the manifest downloaded with boto3 and each line parsed with ``json.loads``, plus the
  N rows inserted (the restore floor below);
- ``meta`` (``meta_100k_s`` for N=100,000): GET /api/tasks/{id}/data/meta streamed to a file
  (``meta_bytes``); floor: the N rows (path, width, height) read with one query;
- ``lightweight_export`` (and ``_bytes``): POST backup/export?lightweight=true → finished →
  downloaded; floors: the archive's documents written into a deflated ZIP with ``zipfile``
  (``lightweight_export_floor_s``), and the same documents already deflated, copied into a ZIP
  as stored bytes (``lightweight_export_stored_floor_s``, what an export that keeps its
  manifest deflated must still do); ``lightweight_export_media_gets``: object GETs the bucket
  served meanwhile (target 0);
- ``lightweight_restore``: TUS upload of that archive as another user (who has no matching
  storage, so no auto-relink) → finished; floor: the N Image rows inserted with ``bulk_create``
  in batches of 10,000 in one transaction;
- relink (the web process is restarted before each N, as a relink leaves it larger):
  ``relink_verify_s`` with ``relink_verify_peak_rss_web_mb`` / ``_worker_mb`` (above
  ``CVAT_LITE_RELINK_SYNC_MAX_IMAGES`` the PATCH answers 202 and the worker runs it),
  PATCH data/meta {cloud_storage_id} on the restored task, with a storage of the bucket; floor:
  one full paged list_objects_v2 of the bucket with boto3. The restored rows are given CVAT's
  pixel checksum first (as a CVAT-written backup has; the objects are a real tiny JPEG), so
  this relink lists, samples 20 objects by content and learns the objects' evidence. Before
  it, for N ≤ 100,000 only (``RELINK_LIMIT``: each is a listing of the bucket), with
  ``dry_run`` (nothing saved): ``relink_listing_only_s`` (``content_sample: 0``),
  ``relink_sampled_s`` (the default sample of 20) and, for N ≤ 10,000,
  ``relink_content_all_s`` (``"all"``); after it, ``relink_fingerprints_s`` (a dry run that
  compares the learnt sizes and MD5s, no download).

Then ``full_export_s`` / ``full_export_peak_rss_mb`` for M objects of 100 KB (``--full-objects``,
or ``--full-gb G`` for Gx10,000 objects): POST backup/export → finished → downloaded; floor:
the objects fetched with boto3 from 16 threads into a ZIP_STORED archive.

Then ``manifest create`` throughput for ``--manifest-objects`` real JPEGs against a plain
listing of the bucket (see ``bench.manifest``).

Every figure is printed as ``BENCH <name>[<N>] <value>``, ratios to floors as
``BENCH <name>_ratio[<N>] <x>`` (e.g. ``lightweight_export_ratio``, without the ``_s``),
growth 10k → 100k of each time as ``BENCH <name>_growth <x>``, then a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from bench import floors
from bench.manifest import run_manifest
from bench.manifest import table as manifest_table

CONTENT_ALL_LIMIT = 10_000  # "all" downloads every object: measured up to this N only


def _object() -> bytes:
    """The N objects: a real tiny JPEG (relink content samples decode it)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


OBJECT = _object()
FULL_OBJECT_SIZE = 100_000


class Results:
    def __init__(self) -> None:
        self.values: dict[tuple[str, int], float] = {}

    def put(self, name: str, n: int, value: float, *, alias: str | None = None) -> None:
        self.values[(name, n)] = value
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"BENCH {name}[{n}] {shown}", flush=True)
        if alias:
            print(f"BENCH {alias} {shown}", flush=True)

    def ratio(self, name: str, floor: str, n: int) -> None:
        base = self.values.get((floor, n))
        if base:
            self.put(f"{name.removesuffix('_s')}_ratio", n, self.values[(name, n)] / base)

    def get(self, name: str, n: int):
        return self.values.get((name, n))


RELINK_LIMIT = 100_000  # every relink figure up to this N; above it, the relink itself only


def _manifest(n: int) -> bytes:
    lines = "".join(
        f'{{"name":"img_{i:06d}","extension":".jpg","width":640,"height":480}}\n' for i in range(n)
    )
    return ('{"version":"1.1"}\n{"type":"images"}\n' + lines).encode()


def _keys(n: int):
    return (f"img_{i:06d}.jpg" for i in range(n))


def _storage(owner, server, bucket: str):
    from bench.services import KEY, SECRET
    from cvat_lite.engine.models import CloudStorage

    return CloudStorage.objects.create(
        owner=owner, provider_type="AWS_S3_BUCKET", resource=bucket, display_name=bucket,
        credentials_type="KEY_SECRET_KEY_PAIR", credentials={"key": KEY, "secret_key": SECRET},
        specific_attributes=f"endpoint_url={server.endpoint}&region=us-east-1",
    )  # fmt: skip


def _timed(func):
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def _measured(env, results: Results, name: str, n: int, func, *, alias: str | None = None):
    """``func``'s time as ``<name>_s``, and the peak RSS of the web and worker processes
    meanwhile as ``<name>_peak_rss_web_mb`` / ``_worker_mb``."""
    env.web.reset_peak()
    env.worker.reset_peak()
    seconds, value = _timed(func)
    results.put(f"{name}_s", n, seconds, alias=alias)
    results.put(f"{name}_peak_rss_web_mb", n, env.web.peak_mb)
    results.put(f"{name}_peak_rss_worker_mb", n, env.worker.peak_mb)
    return value


def _seed(env, bucket: str, n: int) -> tuple:
    """The bucket of ``n`` objects and its manifest; (server, boto3 client)."""
    from bench.synthetic_s3 import SyntheticS3, VirtualObjects

    server = env.s3_for(n)
    s3 = server.client()
    s3.create_bucket(Bucket=bucket)
    if isinstance(server, SyntheticS3):
        server.add_virtual(bucket, VirtualObjects("img_", n, OBJECT, width=6))
    else:
        server.seed(bucket, ((key, OBJECT) for key in _keys(n)))
    server.seed(bucket, [("manifest.jsonl", _manifest(n))])
    return server, s3


def run_size(env, users, n: int, results: Results) -> None:
    from bench.client import Api

    owner, other = users
    env.restart_web()
    api, other_api = Api(owner, env.web, env.worker), Api(other, env.web, env.worker)
    bucket = f"bench-{n}"
    server, s3 = _seed(env, bucket, n)
    storage = _storage(owner, server, bucket)

    task_id = api.task_create(f"bench {n}")
    _measured(
        env, results, "create_from_manifest", n,
        lambda: api.data_create(task_id, storage.id, "manifest.jsonl"),
    )  # fmt: skip
    results.put("create_from_manifest_floor_s", n, floors.create_from_manifest(s3, bucket, n))
    results.ratio("create_from_manifest_s", "create_from_manifest_floor_s", n)

    body = env.workdir / f"meta-{n}.json"
    size, length = _measured(
        env, results, "meta", n, lambda: api.meta(task_id, body),
        alias="meta_100k_s" if n == 100_000 else None,
    )  # fmt: skip
    assert size == n, size
    body.unlink()
    results.put("meta_bytes", n, length)
    results.put("meta_floor_s", n, floors.read_rows(task_id))
    results.ratio("meta_s", "meta_floor_s", n)

    archive = env.workdir / f"light-{n}.zip"
    server.object_gets.clear()
    _measured(
        env, results, "lightweight_export", n,
        lambda: api.backup_export(task_id, lightweight=True, into=archive),
    )  # fmt: skip
    results.put("lightweight_export_bytes", n, archive.stat().st_size)
    results.put("lightweight_export_media_gets", n, server.object_gets[bucket])
    with zipfile.ZipFile(archive) as source:
        members = {i.filename: source.read(i) for i in source.infolist() if not i.is_dir()}
    floor_s, floor_bytes = floors.zip_deflated(members, env.workdir / f"floor-{n}.zip")
    results.put("lightweight_export_floor_s", n, floor_s)
    results.put("lightweight_export_floor_bytes", n, floor_bytes)
    stored_s = floors.zip_predeflated(members, env.workdir / f"floor-{n}.zip")
    results.put("lightweight_export_stored_floor_s", n, stored_s)
    results.ratio("lightweight_export_s", "lightweight_export_floor_s", n)
    results.put(
        "lightweight_export_stored_ratio", n,
        results.get("lightweight_export_s", n) / stored_s,
    )  # fmt: skip
    results.ratio("lightweight_export_bytes", "lightweight_export_floor_bytes", n)
    del members

    restored = _measured(
        env, results, "lightweight_restore", n, lambda: other_api.backup_import(archive)
    )
    results.put("lightweight_restore_floor_s", n, floors.bulk_insert_images(n))
    results.ratio("lightweight_restore_s", "lightweight_restore_floor_s", n)

    relink_storage = _storage(other, server, bucket)
    if n <= RELINK_LIMIT:
        _relink_figures(env, other_api, relink_storage, restored, n, results)
    else:
        print(f"BENCH note: above N={RELINK_LIMIT:,} only the relink itself (relink_verify_s)")
        _with_cvat_checksums(restored)
        _relink_verify(env, other_api, relink_storage, restored, n, results)
    floor_s, listed = floors.list_bucket(s3, bucket)
    assert listed == n + 1, listed
    for name in RELINK_TIMES:  # one listing floor, measured once, for each relink figure
        if results.get(name, n) is not None:
            results.put(f"{name.removesuffix('_s')}_floor_s", n, floor_s)
            results.ratio(name, f"{name.removesuffix('_s')}_floor_s", n)
    for path in (archive, env.workdir / f"floor-{n}.zip"):
        path.unlink()


RELINK_TIMES = [
    "relink_listing_only_s",
    "relink_sampled_s",
    "relink_content_all_s",
    "relink_verify_s",
    "relink_fingerprints_s",
]


def _with_cvat_checksums(task_id: int) -> None:
    """The restored rows get CVAT's pixel checksum, as a CVAT-written backup has."""
    from cvat_lite.engine.models import Image, Task
    from cvat_lite.media.images import pixel_md5

    data_id = Task.objects.get(pk=task_id).data_id
    Image.objects.filter(data_id=data_id).update(checksum=pixel_md5(OBJECT))


def _relink_verify(env, api, storage, task_id: int, n: int, results: Results) -> None:
    """The real relink alone (a background request above the synchronous limit), with the
    peak RSS of the web and worker processes while it ran."""
    meta = _measured(
        env, results, "relink_verify", n, lambda: api.relink(task_id, storage.id)
    )  # fmt: skip
    report = meta["verification"]
    assert report["ok"] and report["content_matched"] == min(20, n), report


def _relink_figures(env, api, storage, task_id: int, n: int, results: Results) -> None:
    _with_cvat_checksums(task_id)

    def relink(name: str, expect: dict, **options) -> None:
        seconds, meta = _timed(lambda: api.relink(task_id, storage.id, **options))
        report = meta["verification"]
        for key, value in expect.items():
            assert report[key] == value, (name, key, report)
        results.put(name, n, seconds)

    relink("relink_listing_only_s", {"content_sampled": 0}, dry_run=True, content_sample=0)
    relink("relink_sampled_s", {"content_sampled": min(20, n)}, dry_run=True)
    if n <= CONTENT_ALL_LIMIT:
        relink("relink_content_all_s", {"content_sampled": n}, dry_run=True, content_sample="all")
    _relink_verify(env, api, storage, task_id, n, results)
    relink("relink_fingerprints_s", {"fingerprints_matched": n, "content_sampled": 0}, dry_run=True)


def run_full(env, owner, m: int, results: Results) -> None:
    from bench.client import Api

    api, s3, moto = Api(owner, env.web, env.worker), env.moto.client(), env.moto
    bucket = "bench-full"
    s3.create_bucket(Bucket=bucket)
    keys = list(_keys(m))
    moto.seed(bucket, ((key, os.urandom(FULL_OBJECT_SIZE)) for key in keys))
    moto.seed(bucket, [("manifest.jsonl", _manifest(m))])
    task_id = api.task_create(f"bench full {m}")
    api.data_create(task_id, _storage(owner, moto, bucket).id, "manifest.jsonl")

    archive = env.workdir / "full.zip"
    env.worker.reset_peak()
    seconds, _ = _timed(lambda: api.backup_export(task_id, lightweight=False, into=archive))
    results.put("full_export_s", m, seconds)
    results.put("full_export_bytes", m, archive.stat().st_size)
    results.put("full_export_peak_rss_mb", m, env.worker.peak_mb)
    archive.unlink()
    floor = env.workdir / "full-floor.zip"
    results.put("full_export_floor_s", m, floors.download_stored(s3, bucket, keys, floor))
    results.put("full_export_floor_bytes", m, floor.stat().st_size)
    results.ratio("full_export_s", "full_export_floor_s", m)
    floor.unlink()


TIMES = [
    "create_from_manifest_s",
    "meta_s",
    "lightweight_export_s",
    "lightweight_restore_s",
    "relink_verify_s",
]

RSS_TARGET = "≤ 200 MB"
ROWS = [  # figure, floor, target
    ("create_from_manifest_s", "create_from_manifest_floor_s", "≤ 20 s at 100k"),
    ("create_from_manifest_peak_rss_web_mb", None, RSS_TARGET),
    ("create_from_manifest_peak_rss_worker_mb", None, RSS_TARGET),
    ("meta_s", "meta_floor_s", "≤ 1 s at 100k"),
    ("meta_bytes", None, "-"),
    ("meta_peak_rss_web_mb", None, RSS_TARGET),
    ("meta_peak_rss_worker_mb", None, RSS_TARGET),
    ("lightweight_export_s", "lightweight_export_floor_s", "≤ 10 s and ≤ 5x floor"),
    ("lightweight_export_s", "lightweight_export_stored_floor_s", "≤ 3x and ≤ 1 s at 1M"),
    ("lightweight_export_bytes", "lightweight_export_floor_bytes", "≤ 1.2x floor"),
    ("lightweight_export_media_gets", None, "0"),
    ("lightweight_export_peak_rss_web_mb", None, RSS_TARGET),
    ("lightweight_export_peak_rss_worker_mb", None, RSS_TARGET),
    ("lightweight_restore_s", "lightweight_restore_floor_s", "≤ 20 s and ≤ 3x floor"),
    ("lightweight_restore_peak_rss_web_mb", None, RSS_TARGET),
    ("lightweight_restore_peak_rss_worker_mb", None, RSS_TARGET),
    ("relink_listing_only_s", "relink_listing_only_floor_s", "≤ 1.5x floor"),
    ("relink_sampled_s", "relink_sampled_floor_s", "≤ 1.5x floor"),
    ("relink_content_all_s", "relink_content_all_floor_s", "- (downloads every object)"),
    ("relink_verify_s", "relink_verify_floor_s", "≤ 1.5x floor (sample 20 + learning)"),
    ("relink_verify_peak_rss_web_mb", None, RSS_TARGET),
    ("relink_verify_peak_rss_worker_mb", None, RSS_TARGET),
    ("relink_fingerprints_s", "relink_fingerprints_floor_s", "≤ 1.5x floor"),
]


def _cell(value, floor) -> str:
    if value is None:
        return "-"
    text = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
    if floor:
        base = f"{floor:,.2f}" if isinstance(floor, float) else f"{floor:,}"
        text += f" (floor {base}, {value / floor:.2f}x)"
    return text


def table(results: Results, sizes: list[int], m: int) -> str:
    growth = 10_000 in sizes and 100_000 in sizes
    head = ["Figure", *(f"N={n:,}" for n in sizes)] + (["10k→100k"] if growth else [])
    lines = ["| " + " | ".join([*head, "Target"]) + " |", "|" + "---|" * (len(head) + 1)]
    for name, floor, target in ROWS:
        cells = [_cell(results.get(name, n), floor and results.get(floor, n)) for n in sizes]
        if growth:
            value = results.get(f"{name}_growth", 0)
            cells.append(f"{value:.1f}x" if value else "-")
        lines.append("| " + " | ".join([f"`{name}`", *cells, target]) + " |")
    if not m:
        return "\n".join(lines)
    lines.append("")
    lines.append(f"| Full backup, {m:,} objects of 100 KB | Value | Target |")
    lines.append("|---|---|---|")
    full = _cell(results.get("full_export_s", m), results.get("full_export_floor_s", m))
    rss = results.get("full_export_peak_rss_mb", m)
    lines.append(f"| `full_export_s` | {full} | ≤ 1.25x floor |")
    lines.append(f"| `full_export_peak_rss_mb` | {rss or 0:,.0f} | ≤ 300 MB (2 GB run) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--images", default="1000,10000", help="comma-separated task sizes")
    parser.add_argument("--full-objects", type=int, default=2000, help="objects of 100 KB")
    parser.add_argument("--full-gb", type=float, help="the full backup of G GB (Gx10,000 objects)")
    parser.add_argument(
        "--manifest-objects", type=int, default=2000, help="JPEGs for `manifest create` (0: skip)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    sizes = [int(part) for part in args.images.split(",") if part.strip()]
    m = round(args.full_gb * 10_000) if args.full_gb else args.full_objects

    from bench.services import Environment

    workdir = Path(tempfile.mkdtemp(prefix="cvat_lite_bench_"))
    env = Environment(workdir)
    results = Results()
    try:
        from django.contrib.auth import get_user_model

        users = get_user_model().objects
        owner = users.create_user("bench", "bench@example.com", "bench-password")
        other = users.create_user("bench2", "bench2@example.com", "bench-password")
        results.put("idle_rss_web_mb", 0, env.web.rss_kb() / 1024)
        results.put("idle_rss_worker_mb", 0, env.worker.rss_kb() / 1024)
        for n in sizes:
            run_size(env, (owner, other), n, results)
        if m:
            run_full(env, owner, m, results)
        if args.manifest_objects:
            run_manifest(env, owner, args.manifest_objects, results)
        if 10_000 in sizes and 100_000 in sizes:
            for name in TIMES:
                growth = results.get(name, 100_000) / results.get(name, 10_000)
                results.values[(f"{name}_growth", 0)] = growth
                print(f"BENCH {name.removesuffix('_s')}_growth {growth:.2f}", flush=True)
        print()
        print(table(results, sizes, m))
        if args.manifest_objects:
            print()
            print(manifest_table(results, args.manifest_objects))
    finally:
        env.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
