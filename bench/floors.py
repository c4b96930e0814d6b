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


def bulk_insert_images(frames: list[dict]) -> float:
    """Inserting the task's Image rows with one ``bulk_create`` (rows removed afterwards)."""
    from django.db import transaction

    from cvat_lite.engine.models import Data, Image

    data = Data.objects.create(size=len(frames))
    try:
        started = time.perf_counter()
        with transaction.atomic():
            Image.objects.bulk_create(
                Image(data=data, path=f["name"], frame=i, width=f["width"], height=f["height"])
                for i, f in enumerate(frames)
            )
        return time.perf_counter() - started
    finally:
        data.delete()


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
