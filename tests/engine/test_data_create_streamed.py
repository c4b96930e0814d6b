"""Creation from a manifest streamed in one pass (``_StreamedCreate``) gives the same task —
rows, frame range, jobs — and the same refusals as collecting every entry first."""

from __future__ import annotations

import dataclasses
import json

import pytest
from django.conf import settings

from cvat_lite import errors
from cvat_lite.engine.models import Data, Image, Segment, StorageChoice
from cvat_lite.engine.services.data import DataOptions, task_data_create_job
from cvat_lite.engine.services.data import collect as data_services
from tests.api.media_helpers import make_task

pytestmark = pytest.mark.django_db

MANIFEST = "ds/manifest.jsonl"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _entry(name: str, extension: str = ".jpg", **more) -> dict:
    return {"name": name, "extension": extension, "width": len(name) + 1, "height": 2, **more}


SORTED = [
    _entry("a"),
    _entry("b", ".png", meta={"related_images": ["related_images/b_png/ctx.jpg"]}),
    _entry("c", checksum="0123456789abcdef0123456789ABCDEF"),
    _entry("d/e"),
    _entry("d/f"),
    _entry("g"),
    _entry("h"),
]
UNSORTED = [SORTED[i] for i in (3, 0, 6, 1, 5, 2, 4)]


def _write(entries: list, raw_lines: tuple[str, ...] = ()) -> None:
    lines = [json.dumps({"version": "1.1"}), json.dumps({"type": "images"})]
    lines += [json.dumps(e) for e in entries] + list(raw_lines)
    path = settings.SHARE_ROOT / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _outcome(user, **options):
    """What creating the data gives: the rows, data fields and segments, or the refusal."""
    task = make_task(user, segment_size=3)
    options.setdefault("server_files", [MANIFEST])
    try:
        task_data_create_job(
            progress=lambda _: None,
            task_id=task.id,
            storage=StorageChoice.SHARE,
            options=dataclasses.asdict(DataOptions(**options)),
        )
    except errors.CvatLiteError as error:
        assert not Data.objects.exists() and not Image.objects.exists()
        return ("refused", error.code, error.message, error.extra)
    data = Data.objects.get()
    rows = list(
        Image.objects.order_by("frame").values_list(
            "path", "frame", "width", "height", "checksum", "related_files"
        )
    )
    fields = (data.size, data.start_frame, data.stop_frame, data.frame_filter, data.cloud_prefix)
    segments = list(
        Segment.objects.filter(task=task)
        .order_by("start_frame")
        .values_list("start_frame", "stop_frame", "frames")
    )
    Data.objects.all().delete()
    return ("created", rows, fields, segments)


def _both(user, monkeypatch, **options):
    """(streamed, collected) outcomes, and whether the streamed path did create the task."""
    used = []
    real_run = data_services._StreamedCreate.run

    def run(self, source):
        try:
            result = real_run(self, source)
        except errors.CvatLiteError:  # refused by the streamed path itself
            used.append(True)
            raise
        used.append(result is not None)
        return result

    monkeypatch.setattr(data_services._StreamedCreate, "run", run)
    streamed = _outcome(user, **options)
    monkeypatch.setattr(data_services._StreamedCreate, "applies", lambda self: False)
    collected = _outcome(user, **options)
    return streamed, collected, any(used)


CASES = {
    "all": {},
    "frame range": {"start_frame": 1, "stop_frame": 5, "frame_filter": "step=2"},
    "pattern": {"filename_pattern": "*.jpg"},
    "exclude": {"server_files_exclude": ["ds/d/", "ds/a.jpg"]},
    "keys": {"server_files": [MANIFEST, "ds/h.jpg", "ds/a.jpg", "ds/h.jpg"]},
    "folder and key": {"server_files": [MANIFEST, "ds/d/", "ds/b.png"]},
    "missing key": {"server_files": [MANIFEST, "ds/zz.jpg", "ds/a.jpg", "ds/yy.jpg"]},
    "nothing kept": {"filename_pattern": "*.gif"},
    "stop out of range": {"stop_frame": 7},
    "start out of range": {"start_frame": 9},
    "predefined": {"sorting_method": "predefined"},
    "natural": {"sorting_method": "natural"},
    "random": {"sorting_method": "random", "seed": 3},
}


@pytest.mark.parametrize("entries", [SORTED, UNSORTED], ids=["sorted", "unsorted"])
@pytest.mark.parametrize("case", CASES)
def test_same_task_or_refusal_either_way(user, monkeypatch, entries, case):
    _write(entries)
    streamed, collected, used = _both(user, monkeypatch, **CASES[case])
    assert streamed == collected
    method = CASES[case].get("sorting_method", "lexicographical")
    assert used == (method == "predefined" or (method == "lexicographical" and entries is SORTED))


def test_too_many_images(user, monkeypatch, settings):
    settings.MAX_TASK_IMAGES = 3
    _write(SORTED)
    streamed, collected, _ = _both(user, monkeypatch)
    assert streamed == collected
    assert streamed[1] == "too_many_images"


@pytest.mark.parametrize(
    ("entries", "raw"),
    [
        ([*SORTED, _entry("h")], ()),  # a repeat of the last key
        ([*SORTED[:3], _entry("a"), *SORTED[3:]], ()),  # a repeat out of order
        (SORTED, ('{"name": "zz", "extension": ".jpg"}',)),  # the last line is invalid
        ([*SORTED[:2], _entry("n", ".txt"), *SORTED[2:]], ()),  # not an image
        ([*UNSORTED, _entry("a", ".txt")], ()),
        ([*SORTED, _entry("a")], ("not json",)),  # the repeat comes first
    ],
)
def test_refusals_are_the_same(user, monkeypatch, entries, raw):
    _write(entries, raw)
    streamed, collected, _ = _both(user, monkeypatch)
    assert streamed == collected
    assert streamed[0] == "refused"


def test_the_streamed_path_never_holds_the_entries(user, monkeypatch):
    _write(SORTED)

    def held(*args, **kwargs):
        raise AssertionError("every entry was collected")

    monkeypatch.setattr(data_services, "_manifest_media", held)
    outcome = _outcome(user, server_files=[MANIFEST, "ds/d/"])
    assert outcome[0] == "created"
    assert [row[0] for row in outcome[1]] == ["ds/d/e.jpg", "ds/d/f.jpg"]
