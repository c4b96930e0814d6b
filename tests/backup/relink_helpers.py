"""Helpers for the relink tests: cloud tasks built as rows (their Image rows are the manifest),
and storages over emulator buckets."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from cvat_lite.engine.models import CloudStorage, Data, Image, Project, StorageChoice, Task
from tests.api.media_helpers import storage_row
from tests.fixtures.emulators import EmulatedBucket, MotoS3


def md5(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()


def objects_for(count: int, folder: str = "ds/") -> dict[str, bytes]:
    return {f"{folder}img{i:04d}.jpg": f"image {i}".encode() for i in range(count)}


def put_all(bucket: EmulatedBucket, objects: Mapping[str, bytes]) -> None:
    """Write ``objects`` with the SDK directly (S3: one client, several at once — moto's
    ``put`` builds a client per object)."""
    if not isinstance(bucket.emulator, MotoS3):
        for key, content in objects.items():
            bucket.put(key, content)
        return
    client = bucket.emulator.client()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda item: client.put_object(
                    Bucket=bucket.config.resource, Key=item[0], Body=item[1]
                ),
                objects.items(),
            )
        )


def bucket_storage(
    owner, bucket: EmulatedBucket, objects: Mapping[str, bytes] | None = None
) -> CloudStorage:
    """A storage row over ``bucket`` after writing ``objects`` into it."""
    put_all(bucket, objects or {})
    return storage_row(owner, bucket.config)


def cloud_task(
    owner,
    objects: Mapping[str, bytes],
    *,
    storage: CloudStorage | None = None,
    checksums: bool = True,
    project: Project | None = None,
    name: str = "task",
    related: Mapping[str, list[str]] | None = None,
) -> Task:
    """A cloud task whose frames are the keys of ``objects`` in order (with their MD5s as the
    recorded object evidence when ``checksums``: the bytes are no images, so they have no
    CVAT pixel checksum), linked to ``storage`` (None: unlinked)."""
    task = Task.objects.create(owner=owner, name=name, project=project)
    data = Data.objects.create(
        storage=StorageChoice.CLOUD_STORAGE,
        cloud_storage=storage,
        size=len(objects),
        stop_frame=len(objects) - 1,
    )
    Image.objects.bulk_create(
        Image(
            data=data,
            path=key,
            frame=frame,
            width=4,
            height=3,
            object_md5=md5(content) if checksums else "",
            related_files=list((related or {}).get(key, [])),
        )
        for frame, (key, content) in enumerate(objects.items())
    )
    task.data = data
    task.save()
    return task


def link_of(task: Task) -> tuple[int | None, object, object]:
    """(linked storage id, chunks_updated_date, task.updated_date) as stored."""
    task = Task.objects.select_related("data").get(pk=task.pk)
    return task.data.cloud_storage_id, task.data.chunks_updated_date, task.updated_date
