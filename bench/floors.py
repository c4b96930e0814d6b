"""Floors: the least work each measured path must do, done directly in the benchmark process."""

from __future__ import annotations

import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def zip_deflated(members: dict[str, bytes], into: Path) -> tuple[float, int]:
    """Writing the lightweight archive's documents into a deflated ZIP with ``zipfile``."""
    started = time.perf_counter()
    with zipfile.ZipFile(into, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return time.perf_counter() - started, into.stat().st_size


def zip_predeflated(members: dict[str, bytes], into: Path) -> float:
    """What copying already-deflated members costs: the archive's documents deflated first
    (not timed), then their deflated bytes written into a ZIP as stored members with
    ``zipfile`` (which still computes each one's CRC-32)."""
    import zlib

    packed = {}
    for name, content in members.items():
        deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed[name] = deflate.compress(content) + deflate.flush()
    started = time.perf_counter()
    with zipfile.ZipFile(into, "w", zipfile.ZIP_STORED) as archive:
        for name, content in packed.items():
            archive.writestr(name, content)
    return time.perf_counter() - started


def _rows(n: int):
    return ((f"img_{i:06d}.jpg", i, 640, 480) for i in range(n))


def bulk_insert_images(n: int) -> float:
    """Inserting a task's N Image rows as plain tuples with one ``executemany`` per 10,000, in
    one transaction (rows removed afterwards)."""
    from itertools import islice

    from django.db import connection, transaction

    from cvat_lite.engine.models import Data, Image

    data = Data.objects.create(size=n)
    table = connection.ops.quote_name(Image._meta.db_table)
    sql = (
        f"INSERT INTO {table} (data_id, path, frame, width, height, checksum, related_files)"
        " VALUES (%s, %s, %s, %s, %s, '', '[]')"
    )
    try:
        rows = ((data.pk, *row) for row in _rows(n))
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            while batch := list(islice(rows, 10_000)):
                cursor.executemany(sql, batch)
        return time.perf_counter() - started
    finally:
        data.delete()


def create_from_manifest(s3, bucket: str, n: int) -> float:
    """Creating a task from its manifest at least costs: the manifest downloaded with boto3
    and each of its lines parsed with ``json.loads``, plus inserting the N rows
    (``bulk_insert_images``)."""
    import json

    started = time.perf_counter()
    body = s3.get_object(Bucket=bucket, Key="manifest.jsonl")["Body"]
    count = sum(1 for line in body.iter_lines() if line and json.loads(line).get("name"))
    assert count == n, count
    return time.perf_counter() - started + bulk_insert_images(n)


def read_rows(task_id: int) -> float:
    """Answering data/meta at least costs: the task's N rows (path, width, height) read with one
    query, in frame order."""
    from cvat_lite.engine.models import Image, Task

    data_id = Task.objects.get(pk=task_id).data_id
    started = time.perf_counter()
    rows = Image.objects.filter(data_id=data_id).order_by("frame")
    count = sum(1 for _ in rows.values_list("path", "width", "height").iterator(10_000))
    assert count
    return time.perf_counter() - started


def list_bucket(s3, bucket: str) -> tuple[float, int]:
    """One full paged ``list_objects_v2`` of the bucket."""
    started = time.perf_counter()
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        count += len(page.get("Contents", ()))
    return time.perf_counter() - started, count


def download_stored(s3, bucket: str, keys: list[str], into: Path) -> float:
    """The objects downloaded with boto3 from 16 threads into a ZIP_STORED archive."""
    lock = threading.Lock()
    started = time.perf_counter()
    with zipfile.ZipFile(into, "w", zipfile.ZIP_STORED) as archive:

        def fetch(key: str) -> None:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            with lock:
                archive.writestr(key, body)

        with ThreadPoolExecutor(16) as pool:
            for _ in pool.map(fetch, keys):
                pass
    return time.perf_counter() - started


def ranged_gets(s3, bucket: str, keys: list[str], length: int) -> float:
    """One GET of the first ``length`` bytes of each object with boto3 from 16 threads (what
    reading the headers costs at least, without parsing anything)."""
    started = time.perf_counter()

    def fetch(key: str) -> int:
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}")
        return len(response["Body"].read())

    with ThreadPoolExecutor(16) as pool:
        for _ in pool.map(fetch, keys):
            pass
    return time.perf_counter() - started
