"""Placing archives: a file or an object that exists is never replaced."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import pytest

from cvat_lite.backup.destinations import (
    cloud_place,
    cloud_place_exactly,
    local_partial,
    local_place,
    local_place_exactly,
)
from cvat_lite.backup.naming import archive_name
from cvat_lite.errors import CloudObjectExists
from tests.fixtures.emulators import EmulatedBucket

NOW = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
NAME = archive_name(kind="task", id=4, name="street", lightweight=True, now=NOW)


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"  # tmp_path itself holds the data directory
    folder.mkdir()
    return folder


def _partial(directory, content: bytes):
    with local_partial(directory) as (stream, path):
        stream.write(content)
    return path


# --- local -------------------------------------------------------------------------------------


def test_local_names_never_replace_a_file(out):
    (out / str(NAME.with_counter(2))).write_bytes(b"somebody else's")  # the next name
    first = local_place(_partial(out, b"one"), NAME)
    second = local_place(_partial(out, b"two"), NAME)
    third = local_place(_partial(out, b"three"), NAME)
    assert [first.name, second.name, third.name] == [
        str(NAME), str(NAME.with_counter(3)), str(NAME.with_counter(4)),
    ]  # fmt: skip
    contents = {path.name: path.read_bytes() for path in out.iterdir()}
    assert contents == {
        str(NAME): b"one",
        str(NAME.with_counter(2)): b"somebody else's",
        str(NAME.with_counter(3)): b"two",
        str(NAME.with_counter(4)): b"three",
    }  # and no partial file is left


def test_without_hard_links_the_copy_is_exclusive_too(out, monkeypatch):
    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")  # what some mounts answer

    monkeypatch.setattr(os, "link", no_links)
    (out / str(NAME)).write_bytes(b"old")
    placed = local_place(_partial(out, b"new"), NAME)
    assert placed.name == str(NAME.with_counter(2))
    assert (out / str(NAME)).read_bytes() == b"old"
    assert placed.read_bytes() == b"new"
    assert {p.name for p in out.iterdir()} == {str(NAME), placed.name}


def test_an_exact_local_name_that_exists_is_refused(out):
    (out / "result.zip").write_bytes(b"old")
    partial = _partial(out, b"new")
    with pytest.raises(FileExistsError):
        local_place_exactly(partial, out / "result.zip")
    assert {p.name for p in out.iterdir()} == {"result.zip", partial.name}  # kept for a retry
    assert (out / "result.zip").read_bytes() == b"old"
    placed = local_place_exactly(partial, out / "other.zip")
    assert placed.read_bytes() == b"new" and not partial.exists()


def test_a_failed_write_leaves_no_partial_file(out):
    with pytest.raises(RuntimeError), local_partial(out) as (stream, _):
        stream.write(b"half")
        raise RuntimeError
    assert list(out.iterdir()) == []


# --- cloud -------------------------------------------------------------------------------------


def test_cloud_names_never_replace_an_object(cloud_bucket: EmulatedBucket, tmp_path):
    provider = cloud_bucket.provider()
    cloud_bucket.put(f"nightly/{NAME}", b"somebody else's")
    first = cloud_place(provider, "nightly/", NAME, _partial(tmp_path, b"one"))
    second = cloud_place(provider, "nightly", NAME, _partial(tmp_path, b"two"))
    assert first == f"nightly/{NAME.with_counter(2)}"
    assert second == f"nightly/{NAME.with_counter(3)}"
    assert provider.download(f"nightly/{NAME}") == b"somebody else's"
    assert provider.download(first) == b"one" and provider.download(second) == b"two"
    with pytest.raises(CloudObjectExists) as refused:
        cloud_place_exactly(provider, first, _partial(tmp_path, b"three"))
    assert refused.value.status == 409 and refused.value.extra == {"key": first}
    assert provider.download(first) == b"one"


@pytest.mark.parametrize("emulator", ["s3_emulator", "azurite"])
def test_a_conditional_upload_does_not_replace(request, emulator):
    """S3 (If-None-Match, moto honours it) and Azure (overwrite=False, Azurite honours it).
    gcp-storage-emulator ignores ifGenerationMatch, so for GCS only the check before the
    upload (test above) can be exercised here."""
    bucket = EmulatedBucket(request.getfixturevalue(emulator), None)  # type: ignore[arg-type]
    bucket.config = bucket.emulator.create_bucket()
    provider = bucket.provider()
    provider.upload("k.zip", io.BytesIO(b"first"), 5, overwrite=False)
    with pytest.raises(CloudObjectExists):
        provider.upload("k.zip", io.BytesIO(b"second"), 6, overwrite=False)
    assert provider.download("k.zip") == b"first"
    provider.upload("k.zip", io.BytesIO(b"third"), 5)  # overwrite=True: what media uploads do
    assert provider.download("k.zip") == b"third"


def test_a_conditional_multipart_upload_does_not_replace(s3_emulator, s3_bucket, monkeypatch):
    from cvat_lite.cloud.s3 import S3Provider

    monkeypatch.setattr(S3Provider, "part_size", 5 * 1024 * 1024)  # S3's smallest part
    provider = EmulatedBucket(s3_emulator, s3_bucket).provider()
    big = os.urandom(6 * 1024 * 1024)
    provider.upload("big.zip", io.BytesIO(big), None, overwrite=False)  # two parts
    assert provider.download("big.zip") == big
    with pytest.raises(CloudObjectExists):
        provider.upload("big.zip", io.BytesIO(big[::-1]), len(big), overwrite=False)
    assert provider.download("big.zip") == big
    uploads = s3_emulator.client().list_multipart_uploads(Bucket=s3_bucket.resource)
    assert uploads.get("Uploads", []) == []  # the refused one was aborted
