"""The GCS provider where gcp-storage-emulator cannot follow: listings of many pages, and a
caller the server refuses (403). The real client talks HTTP to ``PagingGcs``."""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading

import pytest

from cvat_lite.cloud.base import Status
from cvat_lite.cloud.registry import get_provider
from cvat_lite.errors import CloudObjectNotFound, CloudStorageForbidden
from tests.fixtures.emulators import LOOPBACK_ALLOWLIST
from tests.fixtures.paging_gcs import PagingGcs, body_of

KEYS = [f"set/{i:05d}.jpg" for i in range(2345)] + ["set/ctx/a.png", "set/ctx/b.png", "top.txt"]


def _provider(server: PagingGcs):
    return get_provider(server.config(), allowlist=LOOPBACK_ALLOWLIST)


def test_iter_objects_follows_every_page():
    with PagingGcs(KEYS) as server:
        # (bounded: a provider that lost the page token would list the first page forever)
        listed = list(itertools.islice(_provider(server).iter_objects("set/"), 10_000))

    assert [o.key for o in listed] == sorted(k for k in KEYS if k.startswith("set/"))
    # Pages of the provider's maximum, each asking for the page after the last one.
    assert [call.get("maxResults") for call in server.list_calls] == ["1000"] * 3
    assert [call.get("pageToken") for call in server.list_calls] == [None, "1000", "2000"]
    first = listed[0]
    assert first.size == len(body_of(first.key))
    assert first.md5 == hashlib.md5(body_of(first.key)).hexdigest()


def test_list_page_pages_with_folders():
    with PagingGcs(KEYS) as server:
        provider = _provider(server)
        first = provider.list_page("set/ctx/", page_size=1)
        second = provider.list_page("set/ctx/", next_token=first.next_token, page_size=1)
        root = provider.list_page("", delimiter="/", page_size=1)
        rest = provider.list_page("", delimiter="/", next_token=root.next_token, page_size=1)

    assert [o.key for o in first.objects] == ["set/ctx/a.png"] and first.next_token
    assert [o.key for o in second.objects] == ["set/ctx/b.png"] and second.next_token is None
    assert (root.objects, root.prefixes) == ([], ["set/"]) and root.next_token
    assert [o.key for o in rest.objects] == ["top.txt"] and rest.prefixes == []
    assert rest.next_token is None


def test_a_refused_caller_is_forbidden(caplog):
    with PagingGcs(KEYS, forbidden=True) as server:
        provider = _provider(server)
        with caplog.at_level(logging.WARNING, logger="cvat_lite.cloud"):
            assert provider.status() is Status.FORBIDDEN
            with pytest.raises(CloudStorageForbidden):
                provider.list_page("set/")
            with pytest.raises(CloudStorageForbidden):
                provider.head("set/00000.jpg")
    assert "forbidden" in caplog.text


def test_an_object_the_server_does_not_have_is_not_found():
    # The server serves listings only: any object read is a 404.
    with PagingGcs(KEYS) as server, pytest.raises(CloudObjectNotFound):
        _provider(server).head("set/00000.jpg")


def test_the_client_makes_no_request_of_its_own():
    # google-cloud-storage 3.17 fetches the bucket's metadata in a background thread on a
    # client's first operation (for tracing), with retries: an extra request, and a thread that
    # outlives the operation. The provider turns that off.
    with PagingGcs(KEYS) as server:
        provider = _provider(server)
        provider.list_page("set/", page_size=2)
        provider.status()
        for thread in threading.enumerate():
            if "_fetch_background" in thread.name:
                thread.join(timeout=15)
    assert server.paths == [f"/storage/v1/b/{server.bucket}/o"] * 2
