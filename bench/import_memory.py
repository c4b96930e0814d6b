"""``python -m bench.import_memory [--mib 32]``: the memory a restore of annotations.json takes.

Builds a lightweight task backup (one image, one job) whose annotations.json is ``--mib`` MiB
of compact shapes and tags (``{"type":"points","points":[3,4],"frame":0,"label":"c"}`` and the
like: every optional key left out, so each object is as few bytes as the format allows), then,
in a fresh interpreter each, measures the peak RSS growth of:

- ``parse``: what a restore's checks do with that member (``read_task_json`` then
  ``stream_annotations``: the strict lazy JSON loader, then every object's spec built and
  dropped in turn);
- ``restore``: ``backup_restore_task`` of the archive, rows written (a fresh SQLite database,
  or with ``--database-url`` that database, migrated first: use a scratch one);
- ``floor``: ``json.loads`` of the same bytes, nothing else.

Printed as ``BENCH import_<mode>_peak_mb <MiB>`` and ``BENCH import_<mode>_x_member <x>``
(growth over the member's size), and ``BENCH import_<mode>_ratio <x>`` (over the floor). The
limits of docs/security.md ("Import limits") bound the counts; this measures what one document
within them costs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

MiB = 1024 * 1024


def _objects(seed: int = 7) -> Iterator[tuple[str, bytes]]:
    """Compact objects in turn ("shapes" or "tags", its JSON): every optional key left out,
    random small coordinates (so the archive deflates like real annotations, not a ZIP bomb)."""
    rng = random.Random(seed)
    while True:
        x, y = rng.randrange(1000), rng.randrange(1000)
        yield "shapes", b'{"type":"points","points":[%d,%d],"frame":0,"label":"c"}' % (x, y)
        box = (x, y, x + rng.randrange(100), y + rng.randrange(100))
        yield "shapes", b'{"type":"rectangle","points":[%d,%d,%d,%d],"frame":0,"label":"c"}' % box
        yield "tags", b'{"frame":0,"label":"c"}'


def _task_json() -> bytes:
    from cvat_lite.backup.format import (
        DataSpec,
        JobSpec,
        LabelSpec,
        OriginSpec,
        TaskSpec,
        build_task_json,
    )

    spec = TaskSpec(
        name="bench",
        labels=[LabelSpec(name="c")],
        data=DataSpec(chunk_size=36, image_quality=70, stop_frame=0, storage="cloud_storage"),
        jobs=[JobSpec(start_frame=0, stop_frame=0)],
        origin=OriginSpec("AWS_S3_BUCKET", "bucket"),
    )
    return json.dumps(build_task_json(spec)).encode()


def _annotations_json(size: int) -> bytes:
    """One job of compact shapes and tags, ``size`` bytes or a few more."""
    lists: dict[str, list[bytes]] = {"tags": [], "shapes": []}
    total = 0
    for kind, obj in _objects():
        if total >= size:
            break
        lists[kind].append(obj)
        total += len(obj) + 1
    return (
        b'[{"version":0,"tags":['
        + b",".join(lists["tags"])
        + b'],"shapes":['
        + b",".join(lists["shapes"])
        + b'],"tracks":[]}]'
    )


def build(path: Path, mib: float) -> int:
    """Write the archive; return the annotations.json member's size."""
    from cvat_lite.media.manifest import ManifestEntry, write_manifest

    annotations = _annotations_json(int(mib * MiB))
    manifest = io.BytesIO()
    write_manifest([ManifestEntry("img0", ".png", 4, 3)], manifest)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("task.json", _task_json())
        archive.writestr("annotations.json", annotations)
        archive.writestr("data/manifest.jsonl", manifest.getvalue())
    return len(annotations)


_CHILD = r"""
import json, resource, sys, zipfile
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * __import__("os").sysconf("SC_PAGE_SIZE")
from cvat_lite.backup.archive import ArchiveReader
from cvat_lite.backup.format import read_task_json, stream_annotations
path, mode = sys.argv[1], sys.argv[2]
if mode == "floor":
    data = zipfile.ZipFile(path).read("annotations.json")
    before = rss()
    json.loads(data)
elif mode == "parse":
    before = rss()
    with ArchiveReader(path) as reader:
        spec = read_task_json(reader)
        for job in stream_annotations(reader, spec=spec):
            for _ in job.objects:
                pass
else:  # the whole restore, into a fresh SQLite database
    import django
    from django.core.management import call_command
    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from cvat_lite.backup.restore import backup_restore_task
    owner = get_user_model().objects.create(username=__import__("uuid").uuid4().hex)
    before = rss()
    backup_restore_task(owner=owner, archive_path=path)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(max(peak - before, 0))
"""


MODES = ("floor", "parse", "restore")


def measure(path: Path, mode: str, database_url: str | None = None) -> int:
    """Peak RSS growth in bytes of ``mode`` (see ``MODES``) in a fresh interpreter; the whole
    restore runs on ``database_url``, or its own SQLite database under the archive's folder."""
    data = path.parent / f"data-{mode}"
    data.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "CVAT_LITE_DATABASE_URL"}
    env |= {"CVAT_LITE_DATA_DIR": str(data), "DJANGO_SETTINGS_MODULE": "cvat_lite.settings"}
    env |= {"CVAT_LITE_LOG_LEVEL": "WARNING"}
    if database_url:
        env["CVAT_LITE_DATABASE_URL"] = database_url
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), mode], capture_output=True, text=True, env=env
    )
    if out.returncode:
        raise SystemExit(out.stderr)
    return int(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=32, help="annotations.json size in MiB")
    parser.add_argument(
        "--database-url",
        help="restore into this database (migrated first; a scratch one) instead of SQLite",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "b.zip"
        member = build(path, args.mib)
        print(f"BENCH import_archive_bytes {path.stat().st_size}", flush=True)
        print(f"BENCH import_member_bytes {member}", flush=True)
        results = {}
        for mode in MODES:
            grown = measure(path, mode, args.database_url)
            results[mode] = grown
            print(f"BENCH import_{mode}_peak_mb {grown / MiB:.1f}", flush=True)
            print(f"BENCH import_{mode}_x_member {grown / member:.1f}", flush=True)
        for mode in MODES[1:]:
            ratio = results[mode] / max(results["floor"], 1)
            print(f"BENCH import_{mode}_ratio {ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()
