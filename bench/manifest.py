"""``manifest create`` throughput: M real JPEGs (640x480 with an EXIF block, about 40 KB each)
in a bucket, the manifest made by the command (in this process, through moto's server), once
from ranged GETs and once with ``--checksum`` (every image downloaded and decoded); floor: one
full paged ``list_objects_v2`` of the bucket, the least any manifest tool must do, and one
ranged GET of ``HEAD_BYTES`` per object with boto3 from 16 threads (the least reading headers
costs, without parsing them).

Figures: ``manifest_create_s`` / ``manifest_create_checksum_s`` and their objects per second
(``..._objects_per_s``), ``manifest_list_floor_s`` and ``manifest_list_floor_objects_per_s``,
and the ratios of both times to the floor.
"""

from __future__ import annotations

import io
import time

from bench import floors
from cvat_lite.media.manifest_scan import HEAD_BYTES


def _jpeg() -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the manifest gives 480x640
    exif[0x010F] = "bench camera"
    out = io.BytesIO()
    Image.effect_noise((640, 480), 40).convert("RGB").save(
        out, "JPEG", quality=85, exif=exif.tobytes()
    )
    return out.getvalue()


def run_manifest(env, owner, m: int, results) -> None:
    from django.core.management import call_command

    from bench.run import _storage

    s3, moto = env.moto.client(), env.moto
    bucket = "bench-manifest"
    s3.create_bucket(Bucket=bucket)
    body = _jpeg()
    moto.seed(bucket, ((f"set/img_{i:06d}.jpg", body) for i in range(m)))
    storage = _storage(owner, moto, bucket)
    results.put("manifest_object_bytes", m, len(body))

    for name, extra in (("manifest_create_s", []), ("manifest_create_checksum_s", ["--checksum"])):
        output = env.workdir / f"{name}.jsonl"
        started = time.perf_counter()
        call_command(
            "manifest", "create", "--cloud-storage", str(storage.id), "--prefix", "set/",
            "--output", str(output), *extra, stderr=io.StringIO(),
        )  # fmt: skip
        seconds = time.perf_counter() - started
        lines = output.read_text().splitlines()
        assert len(lines) == m + 2 and '"width":480,"height":640' in lines[2], lines[:3]
        output.unlink()
        results.put(name, m, seconds)
        results.put(f"{name.removesuffix('_s')}_objects_per_s", m, m / seconds)

    floor_s, listed = floors.list_bucket(s3, bucket)
    assert listed == m, listed
    results.put("manifest_list_floor_s", m, floor_s)
    results.put("manifest_list_floor_objects_per_s", m, m / floor_s)
    keys = [f"set/img_{i:06d}.jpg" for i in range(m)]
    results.put("manifest_ranged_get_floor_s", m, floors.ranged_gets(s3, bucket, keys, HEAD_BYTES))
    results.ratio("manifest_create_s", "manifest_ranged_get_floor_s", m)
    results.ratio("manifest_create_s", "manifest_list_floor_s", m)
    results.ratio("manifest_create_checksum_s", "manifest_list_floor_s", m)


def table(results, m: int) -> str:
    floor = results.get("manifest_list_floor_s", m)
    lines = [
        f"| `manifest create`, {m:,} JPEGs | Time | Objects/s | vs listing |",
        "|---|---|---|---|",
    ]
    for label, name in (
        ("listing only (floor)", "manifest_list_floor_s"),
        ("one ranged GET per object, boto3, 16 threads (floor)", "manifest_ranged_get_floor_s"),
        ("ranged GETs", "manifest_create_s"),
        ("`--checksum`", "manifest_create_checksum_s"),
    ):
        seconds = results.get(name, m)
        if seconds is None:
            continue
        lines.append(
            f"| {label} | {seconds:,.2f} s | {m / seconds:,.0f} | {seconds / floor:.1f}x |"
        )
    return "\n".join(lines)
