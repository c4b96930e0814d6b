"""The provider interface against each emulator (moto, Azurite, gcp-storage-emulator)."""

from __future__ import annotations

import hashlib
import io
import logging
import socket
import time

import pytest

from cvat_lite.cloud.base import STATUS_TIMEOUTS, ObjectInfo, Status
from cvat_lite.cloud.registry import get_provider
from cvat_lite.errors import (
    CloudObjectNotFound,
    CloudStorageForbidden,
    CloudStorageNotFound,
    CloudStorageUnreachable,
)
from tests.fixtures.emulators import (
    LOOPBACK_ALLOWLIST,
    EmulatedBucket,
    Emulator,
    free_port,
    unique_name,
)

DATA = bytes(range(256)) * 41 + b"tail"  # 10,500 bytes, every byte value


def _provider(config, timeouts=STATUS_TIMEOUTS):
    return get_provider(config, allowlist=LOOPBACK_ALLOWLIST, timeouts=timeouts)


# --- status ---------------------------------------------------------------------------------


def test_status_available(cloud_bucket: EmulatedBucket):
    assert cloud_bucket.provider().status() is Status.AVAILABLE


def test_status_missing_bucket_is_not_found(cloud_emulator: Emulator):
    assert _provider(cloud_emulator.config(unique_name("missing"))).status() is Status.NOT_FOUND


# gcp-storage-emulator checks no credentials at all: GCS's FORBIDDEN is in test_gcs_paging.py.
@pytest.mark.parametrize("cloud_emulator", ["s3", "azure"], indirect=True)
def test_status_wrong_credentials_is_forbidden(cloud_emulator: Emulator, caplog):
    config = cloud_emulator.forbidden_config(unique_name())
    provider = _provider(config)
    with caplog.at_level(logging.WARNING, logger="cvat_lite.cloud"):
        assert provider.status() is Status.FORBIDDEN
        with pytest.raises(CloudStorageForbidden) as raised:
            provider.list_page()
    assert "forbidden" in caplog.text
    secret = config.credentials.secret_key or config.credentials.connection_string
    assert secret
    for text in (str(raised.value), repr(raised.value), caplog.text, repr(config)):
        assert secret not in text
        assert "S3cr3t" not in text  # a fragment of both wrong secrets


def test_unreachable_endpoint_is_not_found_fast(cloud_emulator: Emulator, caplog):
    config = cloud_emulator.config_at(f"http://127.0.0.1:{free_port()}", unique_name())
    provider = _provider(config)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="cvat_lite.cloud"):
        assert provider.status() is Status.NOT_FOUND
    assert time.monotonic() - started < 5
    assert "unreachable" in caplog.text
    with pytest.raises(CloudStorageUnreachable):
        provider.head("any")


def test_construction_makes_no_network_call(cloud_emulator: Emulator):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.3)
        port = listener.getsockname()[1]
        provider = _provider(cloud_emulator.config_at(f"http://127.0.0.1:{port}", unique_name()))
        assert repr(provider)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_object_status(cloud_bucket: EmulatedBucket):
    cloud_bucket.put("dir/a.bin", DATA)
    provider = cloud_bucket.provider()
    assert provider.object_status("dir/a.bin") is Status.AVAILABLE
    assert provider.object_status("dir/missing.bin") is Status.NOT_FOUND


# --- reading --------------------------------------------------------------------------------


def test_head_gives_size_md5_and_etag(cloud_bucket: EmulatedBucket):
    cloud_bucket.put("dir/a.bin", DATA)
    info = cloud_bucket.provider().head("dir/a.bin")
    assert (info.key, info.size) == ("dir/a.bin", len(DATA))
    assert info.md5 == hashlib.md5(DATA).hexdigest()
    assert info.etag


def test_download_is_byte_identical(cloud_bucket: EmulatedBucket):
    cloud_bucket.put("a.bin", DATA)
    provider = cloud_bucket.provider()
    assert provider.download("a.bin") == DATA
    stream = io.BytesIO()
    provider.download_to("a.bin", stream)
    assert stream.getvalue() == DATA


def test_download_range(cloud_bucket: EmulatedBucket):
    cloud_bucket.put("a.bin", DATA)
    provider = cloud_bucket.provider()
    assert provider.download_range("a.bin", 0, 10) == DATA[:10]
    assert provider.download_range("a.bin", 300, 1000) == DATA[300:1300]
    assert provider.download_range("a.bin", len(DATA) - 4, 100) == b"tail"
    assert provider.download_range("a.bin", 5, 0) == b""


@pytest.mark.parametrize("operation", ["head", "download", "download_to", "download_range"])
def test_missing_key_raises_object_not_found(cloud_bucket: EmulatedBucket, operation):
    provider = cloud_bucket.provider()
    calls = {
        "head": lambda: provider.head("no/such.key"),
        "download": lambda: provider.download("no/such.key"),
        "download_to": lambda: provider.download_to("no/such.key", io.BytesIO()),
        "download_range": lambda: provider.download_range("no/such.key", 0, 10),
    }
    with pytest.raises(CloudObjectNotFound) as raised:
        calls[operation]()
    assert raised.value.key == "no/such.key"
    assert raised.value.extra == {"key": "no/such.key"}


def test_missing_bucket_raises_not_found(cloud_emulator: Emulator):
    provider = _provider(cloud_emulator.config(unique_name("missing")))
    with pytest.raises(CloudStorageNotFound):
        provider.list_page()
    with pytest.raises(CloudStorageNotFound):
        list(provider.iter_objects())


# --- writing --------------------------------------------------------------------------------


@pytest.mark.parametrize("with_size", [True, False])
def test_upload_then_read_back(cloud_bucket: EmulatedBucket, with_size):
    provider = cloud_bucket.provider()
    provider.upload("up/loaded.bin", io.BytesIO(DATA), size=len(DATA) if with_size else None)
    assert provider.download("up/loaded.bin") == DATA
    assert provider.head("up/loaded.bin").size == len(DATA)


def test_upload_replaces(cloud_bucket: EmulatedBucket):
    cloud_bucket.put("k", b"old")
    provider = cloud_bucket.provider()
    provider.upload("k", io.BytesIO(b"new!"), size=4)
    assert provider.download("k") == b"new!"


def test_delete(cloud_bucket: EmulatedBucket):
    cloud_bucket.put("gone.bin", DATA)
    provider = cloud_bucket.provider()
    provider.delete("gone.bin")
    assert provider.object_status("gone.bin") is Status.NOT_FOUND
    provider.delete("gone.bin")  # deleting a missing key is not an error


# --- listing --------------------------------------------------------------------------------

KEYS = ["a/1.jpg", "a/2.jpg", "a/3.jpg", "a/b/4.jpg", "a/b/5.jpg", "a/c/6.jpg", "a/7.jpg", "z.txt"]


@pytest.fixture
def filled(cloud_bucket: EmulatedBucket) -> EmulatedBucket:
    for i, key in enumerate(KEYS):
        cloud_bucket.put(key, b"x" * (i + 1))
    return cloud_bucket


def test_list_page_pages_through_a_prefix(filled: EmulatedBucket):
    provider = filled.provider()
    pages, token = [], None
    while True:
        page = provider.list_page("a/", next_token=token, page_size=3)
        pages.append(page)
        assert page.prefixes == []
        token = page.next_token
        if token is None:
            break
    if filled.emulator.paginates:
        assert [len(p.objects) for p in pages] == [3, 3, 1]
    listed = [obj for page in pages for obj in page.objects]
    expected = sorted(k for k in KEYS if k.startswith("a/"))
    assert sorted(o.key for o in listed) == expected
    sizes = {o.key: o.size for o in listed}
    assert sizes["a/b/4.jpg"] == KEYS.index("a/b/4.jpg") + 1
    assert all(o.md5 == hashlib.md5(b"x" * o.size).hexdigest() for o in listed)


def test_list_page_with_delimiter_gives_directories(filled: EmulatedBucket):
    provider = filled.provider()
    page = provider.list_page("a/", delimiter="/")
    assert sorted(o.key for o in page.objects) == ["a/1.jpg", "a/2.jpg", "a/3.jpg", "a/7.jpg"]
    assert sorted(page.prefixes) == ["a/b/", "a/c/"]
    assert page.next_token is None
    root = provider.list_page(delimiter="/")
    assert [o.key for o in root.objects] == ["z.txt"]
    assert root.prefixes == ["a/"]


def test_iter_objects_pages_internally(filled: EmulatedBucket):
    provider = filled.provider()
    provider.max_page_size = 2  # force several pages (the emulator may still return one)
    objects = list(provider.iter_objects())
    assert sorted(o.key for o in objects) == sorted(KEYS)
    assert all(isinstance(o, ObjectInfo) for o in objects)
    assert [o.key for o in provider.iter_objects("a/b/")] == ["a/b/4.jpg", "a/b/5.jpg"]
