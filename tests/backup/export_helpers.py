"""Tasks and projects to back up in the export tests: cloud tasks on the emulators (created
through the API and a drained worker), local tasks, labels and annotations, and readers for the
archives they produce."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from cvat_lite.engine.models import CloudStorage, Data, Image, Job, StorageChoice, Task
from cvat_lite.engine.services.jobs import segments_create
from cvat_lite.engine.services.labels import labels_of
from tests.api.media_helpers import create_data, make_image, manifest_bytes, storage_row
from tests.fixtures.emulators import EmulatedBucket

RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 20)
LABELS = [
    {
        "name": "cat",
        "color": "#ff0000",
        "attributes": [
            {
                "name": "fluffy",
                "mutable": True,
                "input_type": "checkbox",
                "default_value": "false",
                "values": ["false"],
            }
        ],
    },
    {"name": "dog", "color": "#00ff00"},
]
CHECKSUM_A = "0123456789abcdef0123456789abcdef"


@dataclass
class CloudTask:
    task: Task
    storage: CloudStorage
    objects: dict[str, bytes]  # object key -> content


def cloud_objects() -> dict[str, bytes]:
    return {
        "ds/a.jpg": make_image(16, 8, "JPEG", RED),
        "ds/b.png": make_image(6, 4, "PNG", BLUE),
        "ds/c.jpg": make_image(5, 5, "JPEG", GREEN),
        "ds/related_images/b_png/ctx.jpg": make_image(3, 3),
    }


MANIFEST_ENTRIES = [
    {"name": "a", "extension": ".jpg", "width": 16, "height": 8, "checksum": CHECKSUM_A},
    {
        "name": "b",
        "extension": ".png",
        "width": 6,
        "height": 4,
        "meta": {"related_images": ["related_images/b_png/ctx.jpg"]},
    },
    {"name": "c", "extension": ".jpg", "width": 5, "height": 5},
]


def make_labelled_task(api, name: str = "cloud task", **fields) -> Task:
    labels = [] if fields.get("project_id") else LABELS
    response = api.post(
        "/api/tasks", {"name": name, "labels": labels, "segment_size": 2, **fields}, format="json"
    )
    assert response.status_code == 201, response.content
    return Task.objects.get(pk=response.json()["id"])


def make_cloud_task(api, user, bucket: EmulatedBucket, drain, **fields) -> CloudTask:
    """A cloud task of 3 frames (ds/a.jpg, ds/b.png with a context image, ds/c.jpg) from a
    manifest, in 2 jobs, labelled cat/dog, with annotations in both jobs."""
    objects = cloud_objects()
    for key, content in objects.items():
        bucket.put(key, content)
    bucket.put("ds/manifest.jsonl", manifest_bytes(MANIFEST_ENTRIES))
    storage = storage_row(user, bucket.config)
    task = make_labelled_task(api, **fields)
    body = {"server_files": ["ds/manifest.jsonl"], "cloud_storage_id": storage.id}
    request = create_data(api, task, body, drain)
    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    annotate(api, task)
    return CloudTask(task, storage, objects)


def make_local_task(
    api, drain, name: str = "local task", **fields
) -> tuple[Task, dict[str, bytes]]:
    """A local task (uploaded files) of 2 frames."""
    files = {"x.jpg": make_image(7, 3, "JPEG", RED), "y.png": make_image(4, 9, "PNG", GREEN)}
    task = make_labelled_task(api, name=name, **fields)
    body = {
        f"client_files[{i}]": SimpleUploadedFile(filename, content)
        for i, (filename, content) in enumerate(files.items())
    }
    request = create_data(api, task, {**body, "image_quality": 70}, drain, fmt="multipart")
    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    return task, files


def annotate(api, task: Task) -> None:
    """A tag and a rectangle in the first job, a track in the second (if any)."""
    labels = labels_of(task=task)
    cat, dog = labels.get(name="cat"), labels.get(name="dog")
    fluffy = cat.attributes.get(name="fluffy").id
    jobs = list(Job.objects.filter(segment__task=task).order_by("id"))
    first = {
        "tags": [
            {"frame": 0, "label_id": cat.id, "attributes": [{"spec_id": fluffy, "value": "true"}]}
        ],
        "shapes": [
            {
                "type": "rectangle",
                "frame": 1,
                "label_id": dog.id,
                "points": [1.0, 2.0, 3.5, 4.0],
                "attributes": [],
            }
        ],
        "tracks": [],
    }
    response = api.put(f"/api/jobs/{jobs[0].id}/annotations/", first, format="json")
    assert response.status_code == 200, response.content
    if len(jobs) > 1:
        start = jobs[1].segment.start_frame
        second = {
            "tags": [],
            "shapes": [],
            "tracks": [
                {
                    "frame": start,
                    "label_id": cat.id,
                    "attributes": [],
                    "shapes": [
                        {
                            "type": "points",
                            "frame": start,
                            "points": [1.0, 1.0],
                            "attributes": [{"spec_id": fluffy, "value": "false"}],
                        }
                    ],
                }
            ],
        }
        response = api.put(f"/api/jobs/{jobs[1].id}/annotations/", second, format="json")
        assert response.status_code == 200, response.content


def read_zip(source: bytes | Path) -> dict[str, bytes]:
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with zipfile.ZipFile(stream) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def compress_types(source: bytes | Path) -> dict[str, int]:
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with zipfile.ZipFile(stream) as archive:
        return {info.filename: info.compress_type for info in archive.infolist()}


def manifest_lines(content: bytes) -> list[dict]:
    return [json.loads(line) for line in content.decode().splitlines()]


def make_unlinked_task(user, *, frames: int = 3, origin: dict | None = None) -> Task:
    """A cloud task whose storage link is gone (written directly: no bucket involved)."""
    data = Data.objects.create(
        storage=StorageChoice.CLOUD_STORAGE,
        size=frames,
        stop_frame=frames - 1,
        cloud_prefix="set",
        cloud_origin=origin,
    )
    Image.objects.bulk_create(
        Image(data=data, path=f"set/img{i}.jpg", frame=i, width=10 + i, height=5)
        for i in range(frames)
    )
    task = Task.objects.create(owner=user, name="unlinked", data=data)
    segments_create(task=task, frames=frames)
    return task
