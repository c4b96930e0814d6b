"""The relink services (contract 7.4, 7.5): verification of a task's manifest against a bucket with
one paged listing, and the auto-relink used by restores. Real emulators."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from django.db import connection

from cvat_lite import errors
from cvat_lite.backup.format import OriginSpec
from cvat_lite.backup.relink import relink_auto
from cvat_lite.cloud.base import ObjectInfo
from cvat_lite.cloud.s3 import S3Provider
from cvat_lite.engine.models import Data, Image, StorageChoice
from cvat_lite.engine.services.relink import (
    REPORTED_KEYS,
    Verification,
    data_meta_update,
    relink_verify,
    verify,
)
from tests.api.media_helpers import storage_row
from tests.backup.relink_helpers import (
    bucket_storage,
    cloud_task,
    link_of,
    md5,
    objects_for,
    put_all,
)
from tests.fixtures.emulators import EmulatedBucket

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(s3_emulator, s3_bucket) -> EmulatedBucket:
    return EmulatedBucket(s3_emulator, s3_bucket)


# --- relink_verify -----------------------------------------------------------------------------


def test_verify_passes_when_every_object_is_there_on_each_provider(user, cloud_bucket):
    objects = objects_for(5)
    put_all(cloud_bucket, objects)
    cloud_bucket.put("ds/manifest.jsonl", b"{}")  # other objects do not matter
    cloud_bucket.put("elsewhere/x.jpg", b"x")
    task = cloud_task(user, objects)

    result = relink_verify(data=task.data, provider=cloud_bucket.provider())

    assert result == Verification(checked=5)
    assert result.ok


def test_verify_reports_missing_and_mismatched_keys_on_each_provider(user, cloud_bucket):
    objects = objects_for(6)
    keys = list(objects)
    stored = {k: v for k, v in objects.items() if k not in (keys[1], keys[4])}
    stored[keys[2]] = b"other bytes"  # every emulator lists an MD5
    put_all(cloud_bucket, stored)
    task = cloud_task(user, objects)

    result = relink_verify(data=task.data, provider=cloud_bucket.provider())

    assert not result.ok
    assert (result.missing, result.missing_count) == ([keys[1], keys[4]], 2)
    assert (result.mismatched, result.mismatched_count) == ([keys[2]], 1)


def test_verify_lists_the_first_100_keys_in_frame_order_and_counts_all(user, s3):
    objects = objects_for(2 * REPORTED_KEYS + 10)
    keys = list(objects)
    wrong = keys[: REPORTED_KEYS + 5]  # present, other bytes
    put_all(s3, {key: b"wrong " + objects[key] for key in wrong})
    task = cloud_task(user, objects)

    result = relink_verify(data=task.data, provider=s3.provider())

    assert result.mismatched == wrong[:REPORTED_KEYS]
    assert result.mismatched_count == REPORTED_KEYS + 5
    assert result.missing == keys[REPORTED_KEYS + 5 :][:REPORTED_KEYS]
    assert result.missing_count == REPORTED_KEYS + 5


def test_verify_counts_a_key_listed_twice_once(user, s3):
    objects = objects_for(2)
    first, second = objects
    s3.put(second, objects[second])
    task = cloud_task(user, objects)
    Image.objects.create(  # a honeypot frame repeats a frame's object
        data=task.data, path=first, frame=2, width=4, height=3, object_md5=md5(objects[first])
    )

    result = relink_verify(data=task.data, provider=s3.provider())

    assert (result.missing, result.missing_count, result.checked) == ([first], 1, 2)


def test_checksums_are_compared_only_where_both_sides_have_one(user, s3, s3_emulator):
    objects = objects_for(3)
    keys = list(objects)
    task = cloud_task(user, objects)
    Image.objects.filter(data=task.data, path=keys[0]).update(object_md5="")  # none recorded
    s3.put(keys[0], b"anything")
    s3_emulator.put_multipart(s3.config, keys[1], b"other")  # ETag '<hex>-1': not an MD5
    s3.put(keys[2], objects[keys[2]])

    assert relink_verify(data=task.data, provider=s3.provider()).ok


def test_listed_md5s_that_are_not_md5s_do_not_fail_the_check(user, s3, s3_emulator, monkeypatch):
    """S3 lists the ETag of an SSE-KMS object, which is not its MD5 (moto lists the MD5 of
    the bytes: stored bytes other than the manifest's stand for that); ``head`` knows."""
    objects = objects_for(3)
    keys = list(objects)
    client = s3_emulator.client()
    for key in keys[:2]:
        client.put_object(
            Bucket=s3.config.resource,
            Key=key,
            Body=b"kms " + objects[key],
            ServerSideEncryption="aws:kms",
        )
    s3.put(keys[2], b"really other bytes")
    task = cloud_task(user, objects)
    calls: Counter = Counter()
    _spy(monkeypatch, calls, S3Provider, "_head")

    result = relink_verify(data=task.data, provider=s3.provider())

    assert (result.mismatched, result.mismatched_count, result.missing_count) == ([keys[2]], 1, 0)
    assert calls["_head"] == 3  # the listed mismatches only


def test_recorded_md5_case_does_not_matter(user, s3):
    objects = objects_for(1)
    put_all(s3, objects)
    task = cloud_task(user, objects)
    Image.objects.filter(data=task.data).update(
        object_md5=md5(objects[next(iter(objects))]).upper()
    )

    assert relink_verify(data=task.data, provider=s3.provider()).ok


def test_context_images_must_be_there_too(user, s3):
    objects = objects_for(2)
    related = "ds/related_images/img0000_jpg/ctx.jpg"
    put_all(s3, objects)
    task = cloud_task(user, objects, related={"ds/img0000.jpg": [related]})

    result = relink_verify(data=task.data, provider=s3.provider())
    assert (result.missing, result.checked) == ([related], 3)

    s3.put(related, b"ctx")
    assert relink_verify(data=task.data, provider=s3.provider()).ok


def _spy(monkeypatch, calls: Counter, cls, *names: str) -> None:
    """Count calls of provider methods (they still run: the bucket is real)."""
    for name in names:
        original = getattr(cls, name)

        def wrapper(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            calls[(_name, args[:1])] += 1
            calls[(_name, args[:1], tuple(sorted(kwargs.items())))] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, wrapper)


def test_relink_makes_one_paged_listing_not_a_request_per_object(user, s3, monkeypatch):
    objects = objects_for(300, folder="set/sub/")
    put_all(s3, objects)
    s3.put("set/other/x.jpg", b"not ours")
    task = cloud_task(user, objects)
    storage = storage_row(user, s3.config)
    monkeypatch.setattr(S3Provider, "max_page_size", 100)
    calls: Counter = Counter()
    _spy(
        monkeypatch,
        calls,
        S3Provider,
        "iter_objects",
        "list_page",
        "_list",
        "_check_bucket",
        "_head",
        "download_to",
        "_download_range",
    )

    data_meta_update(task=task, data=task.data, user=user, cloud_storage_id=storage.id)

    assert link_of(task)[0] == storage.id
    assert calls["iter_objects"] == 1
    assert calls[("iter_objects", ("set/sub/",))] == 1  # the keys' common folder
    # The availability check is one listing of one item (what the relink needs next is a
    # listing, not the bucket's metadata), then 300 keys in pages of 100.
    assert calls[("list_page", ("",), (("page_size", 1),))] == 1
    assert calls["list_page"] == 1 + 3
    assert calls["_list"] == 1 + 3
    assert calls["_check_bucket"] == 0  # no status() probe of the bucket itself
    assert calls["_head"] + calls["download_to"] + calls["_download_range"] == 0


class _Listing:
    """Only what ``relink_verify`` asks of a provider: a listing. Stands in for a bucket of
    100,000 objects, which no emulator here fills in a test's time."""

    def __init__(self, infos: list[ObjectInfo]):
        self.infos = infos

    def iter_objects(self, prefix: str = ""):
        return iter(self.infos)


CHECKSUM = "0123456789abcdef0123456789abcdef"


def _rows(data: Data, count: int) -> None:
    """Image rows ``d/<1000000 + i>.jpg``, made by the database itself (faster than sending
    them, on SQLite and PostgreSQL alike)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Image._meta.db_table} "
            "(data_id, path, frame, width, height, checksum, related_files, object_md5) "
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
            "SELECT %s, 'd/' || CAST(1000000 + i AS TEXT) || '.jpg', i, 8, 6, '', '[]', %s "
            "FROM n",
            [count - 1, data.id, CHECKSUM],
        )


def test_verification_of_100000_objects(user):
    # Speed is measured in bench/, not here; this checks the result at that size.
    count = 100_000
    data = Data.objects.create(storage=StorageChoice.CLOUD_STORAGE, size=count)
    _rows(data, count)
    objects = [ObjectInfo(f"d/{1000000 + i}.jpg", 1, CHECKSUM) for i in range(count)]
    listing = _Listing(objects)
    assert relink_verify(data=data, provider=listing) == Verification(checked=count)  # type: ignore[arg-type]

    listing = _Listing(objects[:-3])
    result = relink_verify(data=data, provider=listing)  # type: ignore[arg-type]
    assert result.missing_count == 3
    assert result.missing == [f"d/{1000000 + i}.jpg" for i in range(count - 3, count)]


class _FailingListing:
    """A listing that fails (access revoked) after ``good`` objects."""

    def __init__(self, infos: list[ObjectInfo], good: int):
        self.infos, self.good = infos, good

    def iter_objects(self, prefix: str = ""):
        yield from self.infos[: self.good]
        raise errors.CloudStorageForbidden()


def test_a_failed_listing_closes_the_rows_cursor_at_once(user, monkeypatch):
    # The rows come from a server-side cursor on PostgreSQL. Left to the garbage collector
    # (the error's traceback keeps the generator alive), its CLOSE would run in the middle of
    # whatever query the connection runs next and wait forever for that query's lock.
    count = 3 * verify.ROW_CHUNK  # more than one fetch: the cursor is still open when it fails
    data = Data.objects.create(storage=StorageChoice.CLOUD_STORAGE, size=count)
    _rows(data, count)
    objects = [ObjectInfo(f"d/{1000000 + i}.jpg", 1, CHECKSUM) for i in range(count)]
    closed: list[bool] = []
    frame_rows = verify._frame_rows

    def watched(data):
        try:
            yield from frame_rows(data)
        finally:
            closed.append(True)

    monkeypatch.setattr(verify, "_frame_rows", watched)

    with pytest.raises(errors.CloudStorageForbidden) as failure:
        relink_verify(data=data, provider=_FailingListing(objects, good=10))  # type: ignore[arg-type]

    assert failure.traceback  # the traceback (and its frames) still alive here
    assert closed == [True]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors")
            assert cursor.fetchone() == (0,)


# --- relink_auto -------------------------------------------------------------------------------


def _origin(bucket: EmulatedBucket, prefix: str = "ds") -> OriginSpec:
    return OriginSpec(str(bucket.config.provider_type), bucket.config.resource, prefix)


def _with_prefix(bucket: EmulatedBucket, prefix: str) -> EmulatedBucket:
    attributes = {**bucket.config.attributes, "prefix": prefix}
    return dataclasses.replace(
        bucket, config=dataclasses.replace(bucket.config, attributes=attributes)
    )


def test_auto_relink_links_a_matching_storage_that_verifies(user, cloud_bucket):
    objects = objects_for(3)
    storage = bucket_storage(user, cloud_bucket, objects)
    task = cloud_task(user, objects)

    assert relink_auto(task=task, owner=user, origin=_origin(cloud_bucket)) == storage

    task.refresh_from_db()
    assert task.data.cloud_storage_id == storage.id
    assert task.data.cloud_origin == {
        "provider_type": storage.provider_type,
        "resource": storage.resource,
    }


def test_auto_relink_ignores_storages_of_another_origin(user, s3):
    objects = objects_for(2)
    put_all(s3, objects)
    task = cloud_task(user, objects)
    storage_row(user, _with_prefix(s3, "elsewhere").config)  # its prefix lacks the folder
    assert relink_auto(task=task, owner=user, origin=_origin(s3)) is None

    storage_row(user, s3.config)
    for origin in (
        OriginSpec("AWS_S3_BUCKET", "another-bucket", "ds"),
        OriginSpec("AZURE_CONTAINER", s3.config.resource, "ds"),
    ):
        assert relink_auto(task=task, owner=user, origin=origin) is None
    assert link_of(task)[0] is None


def test_auto_relink_leaves_the_task_unlinked_when_objects_are_missing(user, s3):
    objects = objects_for(3)
    bucket_storage(user, s3, dict(list(objects.items())[:2]))
    task = cloud_task(user, objects)
    before = link_of(task)

    assert relink_auto(task=task, owner=user, origin=_origin(s3)) is None
    assert link_of(task) == before


def test_auto_relink_uses_only_the_owners_storages(user, other_user, s3):
    objects = objects_for(2)
    bucket_storage(other_user, s3, objects)  # verifies, but not the importer's
    task = cloud_task(user, objects)

    assert relink_auto(task=task, owner=user, origin=_origin(s3)) is None
    assert link_of(task)[0] is None

    mine = storage_row(user, s3.config)
    assert relink_auto(task=task, owner=user, origin=_origin(s3)) == mine


def test_auto_relink_skips_failing_storages_and_prefers_the_exact_prefix(user, s3, s3_emulator):
    objects = objects_for(2)
    put_all(s3, objects)
    task = cloud_task(user, objects)
    forbidden = storage_row(user, s3_emulator.forbidden_config(s3.config.resource))
    broad = storage_row(user, s3.config)  # no prefix: holds every folder
    exact = storage_row(user, _with_prefix(s3, "ds/").config)
    assert forbidden.id < broad.id < exact.id

    assert relink_auto(task=task, owner=user, origin=_origin(s3)) == exact
    assert link_of(task)[0] == exact.id


def test_auto_relink_of_a_local_task_does_nothing(user, s3):
    task = cloud_task(user, objects_for(1))
    Data.objects.filter(pk=task.data_id).update(storage=StorageChoice.LOCAL)
    task.refresh_from_db()
    storage_row(user, s3.config)
    assert relink_auto(task=task, owner=user, origin=_origin(s3)) is None
