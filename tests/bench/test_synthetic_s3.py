"""bench.synthetic_s3 against boto3 over HTTP: its listing must be the listing S3 gives of the
same keys (byte order, prefixes, folders, pages), or the 1M benchmark measures a wrong answer."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError

from bench.synthetic_s3 import SyntheticS3, VirtualObjects

BODY = b"\xff\xd8 not really a jpeg"


@pytest.fixture
def s3():
    server = SyntheticS3().start()
    yield server
    server.stop()


def _everything(client, bucket: str, **params) -> tuple[list[str], list[str], int]:
    keys: list[str] = []
    prefixes: list[str] = []
    pages = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, **params):
        pages += 1
        keys += [item["Key"] for item in page.get("Contents", [])]
        prefixes += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
    return keys, prefixes, pages


def _expected(all_keys: list[str], prefix: str = "", delimiter: str = ""):
    keys, prefixes = [], []
    for key in sorted(all_keys, key=str.encode):
        if not key.startswith(prefix):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = key[: cut + len(delimiter)]
            if common not in prefixes:
                prefixes.append(common)
        else:
            keys.append(key)
    return keys, prefixes


def test_listing_is_the_byte_ordered_union_of_virtual_and_real_keys(s3):
    client = s3.client()
    client.create_bucket(Bucket="b")
    virtual = VirtualObjects("img_", 2_345, BODY, width=6)
    s3.add_virtual("b", virtual)
    real = ["manifest.jsonl", "img_000010.jpg", "img_0000105.png", "a/b/c.jpg", "a/d.jpg", "Z.jpg"]
    real += ["img_/x.jpg", "ü.jpg", "img_002345.jpg"]
    s3.seed("b", ((key, key.encode()) for key in real))
    every = sorted({virtual.key(i) for i in range(virtual.count)} | set(real), key=str.encode)

    keys, prefixes, pages = _everything(client, "b", PaginationConfig={"PageSize": 100})
    assert (keys, prefixes) == (every, [])
    assert pages == -(-len(every) // 100)
    for prefix, delimiter in [("img_0001", ""), ("a/", ""), ("", "/"), ("img_", "/"), ("a/", "/")]:
        params = {"Prefix": prefix, "PaginationConfig": {"PageSize": 7}}
        if delimiter:
            params["Delimiter"] = delimiter
        keys, prefixes, _ = _everything(client, "b", **params)
        assert (keys, prefixes) == _expected(every, prefix, delimiter), (prefix, delimiter)


def test_objects_read_and_write_like_s3(s3):
    client = s3.client()
    client.create_bucket(Bucket="b")
    s3.add_virtual("b", VirtualObjects("f", 10, BODY, width=2))
    head = client.head_object(Bucket="b", Key="f03.jpg")
    assert head["ContentLength"] == len(BODY)
    assert head["ETag"] == f'"{hashlib.md5(BODY).hexdigest()}"'
    ranged = client.get_object(Bucket="b", Key="f03.jpg", Range="bytes=2-5")["Body"].read()
    assert ranged == BODY[2:6]
    assert s3.object_gets["b"] == 1
    for missing in ["f10.jpg", "f3.jpg", "g03.jpg"]:
        with pytest.raises(ClientError, match=r"404|NoSuchKey"):
            client.head_object(Bucket="b", Key=missing)

    client.put_object(Bucket="b", Key="new.zip", Body=b"zip", IfNoneMatch="*")
    with pytest.raises(ClientError, match=r"PreconditionFailed|412"):
        client.put_object(Bucket="b", Key="new.zip", Body=b"other", IfNoneMatch="*")
    assert client.get_object(Bucket="b", Key="new.zip")["Body"].read() == b"zip"
    client.delete_object(Bucket="b", Key="new.zip")
    assert "new.zip" not in _everything(client, "b")[0]
    with pytest.raises(ClientError, match=r"NoSuchBucket|404"):
        client.head_bucket(Bucket="nothing")


def test_a_page_far_into_a_million_keys_builds_one_page_of_names(s3):
    """Page cost: a page deep into the bucket builds max-keys names plus a binary search."""
    virtual = VirtualObjects("img_", 1_000_000, BODY)
    s3.add_virtual("m", virtual)
    built = 0
    original = VirtualObjects.key

    def counting(self, index):
        nonlocal built
        built += 1
        return original(self, index)

    VirtualObjects.key = counting  # type: ignore[method-assign]
    try:
        keys, _, resume = s3.list_page("m", start=virtual.key(900_000), inclusive=False)
    finally:
        VirtualObjects.key = original  # type: ignore[method-assign]
    assert keys[0] == virtual.key(900_001) and len(keys) == 1000 and resume
    assert built < 1000 + 2 * 25
