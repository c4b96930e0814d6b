"""``python -m bench --images 1000,10000,100000``: backup paths measured against their floors.

For each N (one bucket of N tiny objects and its N-entry manifest):

- ``create_from_manifest_s``: POST /api/tasks/{id}/data from the manifest → request finished;
- ``meta_s`` (``meta_100k_s`` for N=100,000): GET /api/tasks/{id}/data/meta;
- ``lightweight_export_s`` / ``_bytes``: POST backup/export?lightweight=true → finished →
  downloaded; floor: the archive's documents written into a deflated ZIP with ``zipfile``;
  ``lightweight_export_media_gets``: object GETs the bucket served meanwhile (target 0);
- ``lightweight_restore_s``: TUS upload of that archive as another user (who has no matching
  storage, so no auto-relink) → finished; floor: the N Image rows inserted with one bulk_create;
- ``relink_verify_s``: PATCH data/meta {cloud_storage_id} on the restored task, with a storage
  of the bucket; floor: one full paged list_objects_v2 of the bucket with boto3. The restored
  rows are given CVAT's pixel checksum first (as a CVAT-written backup has; the objects are a
  real tiny JPEG), so this relink lists, samples 20 objects by content and learns the objects'
  evidence. Before it, with ``dry_run`` (nothing saved): ``relink_listing_only_s``
  (``content_sample: 0``), ``relink_sampled_s`` (the default sample of 20) and, for N ≤ 10,000,
  ``relink_content_all_s`` (``"all"``); after it, ``relink_fingerprints_s`` (a dry run that
  compares the learnt sizes and MD5s, no download).

Then ``full_export_s`` / ``full_export_peak_rss_mb`` for M objects of 100 KB (``--full-objects``,
or ``--full-gb G`` for Gx10,000 objects): POST backup/export → finished → downloaded; floor:
the objects fetched with boto3 from 16 threads into a ZIP_STORED archive. The peak RSS is the
worker subprocess tree's (rq forks a work horse per job).

Then ``manifest create`` throughput for ``--manifest-objects`` real JPEGs against a plain
listing of the bucket (see ``bench.manifest``).

Every figure is printed as ``BENCH <name>[<N>] <value>``, ratios to floors as
``BENCH <name>_ratio[<N>] <x>`` (e.g. ``lightweight_export_ratio``, without the ``_s``),
growth 10k → 100k of each time as ``BENCH <name>_growth <x>``, then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
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


def _manifest(frames: list[dict]) -> bytes:
    lines = ['{"version":"1.1"}', '{"type":"images"}']
    lines += (json.dumps(f, separators=(",", ":")) for f in frames)
    return ("\n".join(lines) + "\n").encode()


def _frames(count: int) -> list[dict]:
    return [
        {"name": f"img_{i:06d}", "extension": ".jpg", "width": 640, "height": 480}
        for i in range(count)
    ]


def _storage(owner, moto, bucket: str):
    from bench.services import KEY, SECRET
    from cvat_lite.engine.models import CloudStorage

    return CloudStorage.objects.create(
        owner=owner, provider_type="AWS_S3_BUCKET", resource=bucket, display_name=bucket,
        credentials_type="KEY_SECRET_KEY_PAIR", credentials={"key": KEY, "secret_key": SECRET},
        specific_attributes=f"endpoint_url={moto.endpoint}&region=us-east-1",
    )  # fmt: skip


def _timed(func):
    started = time.perf_counter()
    result = func()
    return time.perf_counter() - started, result


def run_size(env, users, n: int, results: Results) -> None:
    from bench.client import Api

    owner, other = users
    api, other_api = Api(owner, env.worker), Api(other, env.worker)
    s3, moto = env.moto.client(), env.moto
    bucket = f"bench-{n}"
    s3.create_bucket(Bucket=bucket)
    frames = _frames(n)
    moto.seed(bucket, ((f"{f['name']}.jpg", OBJECT) for f in frames))
    moto.seed(bucket, [("manifest.jsonl", _manifest(frames))])
    storage = _storage(owner, moto, bucket)

    task_id = api.task_create(f"bench {n}")
    seconds, _ = _timed(lambda: api.data_create(task_id, storage.id, "manifest.jsonl"))
    results.put("create_from_manifest_s", n, seconds)

    seconds, meta = _timed(lambda: api.meta(task_id))
    assert meta["size"] == n, meta["size"]
    results.put("meta_s", n, seconds, alias="meta_100k_s" if n == 100_000 else None)

    archive = env.workdir / f"light-{n}.zip"
    moto.object_gets.clear()
    seconds, _ = _timed(lambda: api.backup_export(task_id, lightweight=True, into=archive))
    results.put("lightweight_export_s", n, seconds)
    results.put("lightweight_export_bytes", n, archive.stat().st_size)
    results.put("lightweight_export_media_gets", n, moto.object_gets[bucket])
    with zipfile.ZipFile(archive) as source:
        members = {i.filename: source.read(i) for i in source.infolist() if not i.is_dir()}
    floor_s, floor_bytes = floors.zip_deflated(members, env.workdir / f"floor-{n}.zip")
    results.put("lightweight_export_floor_s", n, floor_s)
    results.put("lightweight_export_floor_bytes", n, floor_bytes)
    results.ratio("lightweight_export_s", "lightweight_export_floor_s", n)
    results.ratio("lightweight_export_bytes", "lightweight_export_floor_bytes", n)

    seconds, restored = _timed(lambda: other_api.backup_import(archive))
    results.put("lightweight_restore_s", n, seconds)
    rows = [{**f, "name": f"{f['name']}.jpg"} for f in frames]
    results.put("lightweight_restore_floor_s", n, floors.bulk_insert_images(rows))
    results.ratio("lightweight_restore_s", "lightweight_restore_floor_s", n)

    _relink_figures(other_api, _storage(other, moto, bucket), restored, n, results)
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


def _relink_figures(api, storage, task_id: int, n: int, results: Results) -> None:
    from cvat_lite.engine.models import Image, Task
    from cvat_lite.media.images import pixel_md5

    data_id = Task.objects.get(pk=task_id).data_id
    Image.objects.filter(data_id=data_id).update(checksum=pixel_md5(OBJECT))

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
    relink("relink_verify_s", {"ok": True, "content_matched": min(20, n)})
    relink("relink_fingerprints_s", {"fingerprints_matched": n, "content_sampled": 0}, dry_run=True)


def run_full(env, owner, m: int, results: Results) -> None:
    from bench.client import Api

    api, s3, moto = Api(owner, env.worker), env.moto.client(), env.moto
    bucket = "bench-full"
    s3.create_bucket(Bucket=bucket)
    frames = _frames(m)
    keys = [f"{f['name']}.jpg" for f in frames]
    moto.seed(bucket, ((key, os.urandom(FULL_OBJECT_SIZE)) for key in keys))
    moto.seed(bucket, [("manifest.jsonl", _manifest(frames))])
    task_id = api.task_create(f"bench full {m}")
    api.data_create(task_id, _storage(owner, moto, bucket).id, "manifest.jsonl")

    archive = env.workdir / "full.zip"
    env.worker.reset_peak()
    seconds, _ = _timed(lambda: api.backup_export(task_id, lightweight=False, into=archive))
    results.put("full_export_s", m, seconds)
    results.put("full_export_bytes", m, archive.stat().st_size)
    results.put("full_export_peak_rss_mb", m, env.worker.peak_kb / 1024)
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

ROWS = [  # figure, floor, target
    ("create_from_manifest_s", None, "≤ 20 s at 100k"),
    ("meta_s", None, "≤ 1 s at 100k"),
    ("lightweight_export_s", "lightweight_export_floor_s", "≤ 10 s and ≤ 5x floor"),
    ("lightweight_export_bytes", "lightweight_export_floor_bytes", "≤ 1.2x floor"),
    ("lightweight_export_media_gets", None, "0"),
    ("lightweight_restore_s", "lightweight_restore_floor_s", "≤ 20 s and ≤ 3x floor"),
    ("relink_listing_only_s", "relink_listing_only_floor_s", "≤ 1.5x floor"),
    ("relink_sampled_s", "relink_sampled_floor_s", "≤ 1.5x floor"),
    ("relink_content_all_s", "relink_content_all_floor_s", "- (downloads every object)"),
    ("relink_verify_s", "relink_verify_floor_s", "≤ 1.5x floor (sample 20 + learning)"),
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
