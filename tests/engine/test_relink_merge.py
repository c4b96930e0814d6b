"""The relink verification as a merge of two byte-ordered streams (contract 7.5,
``cvat_lite/engine/services/relink/verify.py`` and ``ordered.py``): the task's rows, read in
chunks in UTF-8 byte order whatever the database's collation, against the listing — used as it
comes when it is in byte order, sorted on disk when it is not. A listing stands in for the
bucket here (only ``iter_objects`` is asked of it): the point is the order of keys, which no
emulator lets a test choose."""

from __future__ import annotations

import random

import pytest
from django.db import connection

from cvat_lite.cloud.base import ObjectInfo
from cvat_lite.engine.models import Data, Image, StorageChoice, Task
from cvat_lite.engine.services.relink import (
    KeyMap,
    RelinkPlan,
    Verification,
    ordered,
    relink_save,
    relink_verify,
    verify,
)
from cvat_lite.engine.services.relink.ordered import OutOfOrder, ascending, external_sorted

pytestmark = pytest.mark.django_db

# Keys whose byte order is not their order in a locale collation (en-US puts "a-b" < "a_b" <
# "ab" < "aB" < "Ab", accents next to their letter) nor in UTF-16 code units (what JavaScript
# sorts by: an emoji, U+1F600, comes before U+FF5E there, after it in bytes).
NAMES = [
    "A.jpg",
    "Ab.jpg",
    "a-b.jpg",
    "a_b.jpg",
    "aB.jpg",
    "ab.jpg",
    "e.jpg",
    "f.jpg",
    "é.jpg",
    "z.jpg",
    "\uff5e.jpg",
    "\U0001f600.jpg",
    "1/x.jpg",
    "a b.jpg",
    "a.b/c.jpg",
    "a/c.jpg",
]


class _Listing:
    """Only what the verification asks of a provider: a listing, in the order given."""

    def __init__(self, infos: list[ObjectInfo]):
        self.infos = infos
        self.calls = 0

    def iter_objects(self, prefix: str = ""):
        self.calls += 1
        return (info for info in self.infos if info.key.startswith(prefix))


def _info(key: str) -> ObjectInfo:
    return ObjectInfo(key, len(key.encode()), verify_md5(key))


def verify_md5(key: str) -> str:
    import hashlib

    return hashlib.md5(key.encode()).hexdigest()


def _task(keys: list[str], related: dict[str, list[str]] | None = None) -> Data:
    """A cloud task whose frames are ``keys`` in that order, each with its key's size and MD5
    recorded."""
    data = Data.objects.create(storage=StorageChoice.CLOUD_STORAGE, size=len(keys))
    Image.objects.bulk_create(
        Image(
            data=data,
            path=key,
            frame=frame,
            width=4,
            height=3,
            object_size=len(key.encode()),
            object_md5=verify_md5(key),
            related_files=(related or {}).get(key, []),
        )
        for frame, key in enumerate(keys)
    )
    return data


@pytest.fixture
def locale_collated_paths():
    """On PostgreSQL, ``Image.path`` compared by a locale collation (ICU en-US), as in a
    database created with ``en_US.UTF-8``: an ORDER BY path without ``COLLATE "C"`` is then not
    byte order. Rolled back with the test's transaction. SQLite compares bytes by default."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Image._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f'ALTER TABLE {table} ALTER COLUMN path TYPE varchar(1024) COLLATE "en-US-x-icu"'
            )


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be")


def test_the_rows_are_merged_in_byte_order_whatever_the_collation(user, locale_collated_paths):
    keys = [f"ds/{name}" for name in NAMES]
    frames = keys[:]
    random.Random(3).shuffle(frames)
    data = _task(frames)
    missing = {"ds/aB.jpg", "ds/\U0001f600.jpg"}
    extra = ["ds/a+.jpg", "ds/aa.jpg", "ds/\uffff.jpg", "ds/zz/y.jpg", "ds/0.jpg"]
    listed = sorted([key for key in keys if key not in missing] + extra)
    listing = _Listing([_info(key) for key in listed])

    result = relink_verify(data=data, provider=listing)  # type: ignore[arg-type]

    assert result == Verification(
        missing=[key for key in frames if key in missing],  # frame order
        missing_count=2,
        checked=len(keys),
    )
    assert (result.present, result.fingerprints_matched, result.prefix) == (14, 14, "ds/")
    assert listing.calls == 1  # in byte order: used as it came


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(_utf16, id="utf-16 code units"),
        pytest.param(lambda key: key.casefold(), id="case-insensitive"),
        pytest.param(lambda key: [-b for b in key.encode()], id="reversed"),
    ],
)
def test_a_listing_in_another_order_is_sorted_first(user, order, monkeypatch):
    monkeypatch.setattr(ordered, "SORT_RUN", 4)  # spilled to disk in runs of 4
    keys = [f"ds/{name}" for name in NAMES]
    data = _task(keys)
    absent = "ds/ab.jpg"
    other = "ds/a_b.jpg"
    infos = [_info(key) for key in keys if key != absent]
    infos = [ObjectInfo(i.key, i.size + 1) if i.key == other else i for i in infos]
    infos += [_info("ds/extra.jpg"), _info("ds/a/extra.jpg")]
    listing = _Listing(sorted(infos, key=lambda info: order(info.key)))

    result = relink_verify(data=data, provider=listing)  # type: ignore[arg-type]

    assert result == Verification(
        missing=[absent], missing_count=1, mismatched=[other], mismatched_count=1, checked=16
    )
    assert result.present == 15
    assert listing.calls == 2  # the first pass met a key out of order


def test_small_chunks_and_runs_give_the_same_answer(user, monkeypatch):
    """Rows read two at a time, context images sorted on disk in runs of three."""
    monkeypatch.setattr(verify, "ROW_CHUNK", 2)
    monkeypatch.setattr(ordered, "SORT_RUN", 3)
    keys = [f"set/{name}" for name in NAMES]
    related = {
        keys[0]: ["set/related/z.png", "set/related/a.png"],
        keys[5]: ["set/related/é.png", keys[7]],  # a frame's key is a context image too
        keys[9]: ["set/related/a.png", "set/related/m.png"],
    }
    data = _task(keys, related)
    Image.objects.create(  # a honeypot repeats a frame's object: one key
        data=data, path=keys[3], frame=len(keys), width=4, height=3, object_md5=verify_md5(keys[3])
    )
    present = sorted(set(keys) | {"set/related/a.png", "set/related/z.png"})
    listing = _Listing([_info(key) for key in present])

    result = relink_verify(data=data, provider=listing)  # type: ignore[arg-type]

    assert result == Verification(
        missing=["set/related/é.png", "set/related/m.png"],  # frame 5's, then frame 9's
        missing_count=2,
        checked=len(keys) + 4,
    )


def test_a_prefix_move_is_verified_and_saved_in_batches(user, monkeypatch):
    monkeypatch.setattr(verify, "LEARN_BATCH", 3)
    task = Task.objects.create(owner=user, name="moved")
    keys = [f"old/set/{name}" for name in NAMES]
    data = _task(keys, {keys[2]: ["old/set/related/c.png"]})
    data.cloud_prefix = "old/set"
    data.save()
    task.data = data
    task.save()
    key_map = KeyMap("old/", "new/deep/")
    moved = [key_map(key) for key in keys]
    listed = [
        ObjectInfo(key, len(old.encode()), verify_md5(old), etag=f"e-{i}")
        for i, (key, old) in enumerate(zip(moved, keys, strict=True))
    ] + [_info("new/deep/set/related/c.png")]
    listing = _Listing(sorted(listed, key=lambda info: info.key))
    progress: list[float] = []

    result = relink_verify(
        data=data,
        provider=listing,  # type: ignore[arg-type]
        key_map=key_map,
        learn=True,
        progress=progress.append,
    )
    assert result.ok and result.prefix == "new/deep/set/"
    assert result.learned is not None and result.learned.count == len(keys)
    assert progress == sorted(progress) and progress[-1] == 1.0

    relink_save(task=task, plan=RelinkPlan(None, key_map, result))

    rows = dict(Image.objects.filter(data=data).values_list("frame", "path"))
    assert [rows[frame] for frame in range(len(keys))] == moved
    assert Image.objects.get(data=data, frame=2).related_files == ["new/deep/set/related/c.png"]
    etags = dict(Image.objects.filter(data=data).values_list("path", "object_etag"))
    assert etags == {key: f"e-{i}" for i, key in enumerate(moved)}
    data.refresh_from_db()
    assert data.cloud_prefix == "new/deep/set"


def test_a_task_without_rows_lists_nothing(user):
    data = Data.objects.create(storage=StorageChoice.CLOUD_STORAGE, size=0)
    listing = _Listing([_info("ds/a.jpg")])

    assert relink_verify(data=data, provider=listing) == Verification()  # type: ignore[arg-type]
    assert listing.calls == 0


def test_external_sorted_spills_runs_and_merges_them():
    items = [f"k{n}" for n in random.Random(1).sample(range(1000), 100)] + ["é", "\U0001f600"]
    assert list(external_sorted(items, key=lambda item: item, run=7)) == sorted(items)
    assert list(external_sorted([], key=lambda item: item, run=7)) == []


def test_ascending_stops_at_the_first_key_out_of_order():
    stream = ascending(["a", "b", "b", "B"], key=lambda item: item)
    assert [next(stream), next(stream), next(stream)] == ["a", "b", "b"]
    with pytest.raises(OutOfOrder):
        next(stream)
