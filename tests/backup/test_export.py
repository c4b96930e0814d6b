"""The backup writer services (``cvat_lite.backup.export``): task layouts CVAT knows (custom
segments, ground truth, consensus replicas, honeypots, skeletons), streaming of cloud media with
bounded memory, progress, and failures."""

from __future__ import annotations

import io
import json
import os
import time
import tracemalloc

import pytest

from cvat_lite.backup.archive import ArchiveReader, ArchiveWriter
from cvat_lite.backup.export import backup_write_task
from cvat_lite.backup.export_results import exports_cleanup, exports_dir
from cvat_lite.backup.format import check_task_layout, read_annotations_json
from cvat_lite.engine.frames import local_media_root
from cvat_lite.engine.models import Data, Image, JobAnnotations, Label, StorageChoice, Task
from cvat_lite.engine.services.jobs import jobs_create_from_layout
from cvat_lite.engine.services.labels import labels_create
from cvat_lite.errors import CloudObjectNotFound
from tests.api.media_helpers import create_data, make_image, manifest_bytes, storage_row
from tests.backup.export_helpers import make_cloud_task, make_labelled_task, read_zip
from tests.fixtures.emulators import EmulatedBucket

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024


def _write(task: Task, *, lightweight: bool = False, **kwargs) -> bytes:
    buffer = io.BytesIO()
    with ArchiveWriter(buffer) as writer:
        backup_write_task(task=task, lightweight=lightweight, writer=writer, **kwargs)
    return buffer.getvalue()


def _cvat_shaped_task(user) -> tuple[Task, dict[str, bytes]]:
    """A local task shaped like CVAT's interop backup: 6 images, 2 of them repeated at the end
    as honeypots (8 frames), custom annotation segments, consensus replicas, a ground-truth job
    on explicit frames, a validation layout; a skeleton label."""
    files = {f"img{i}.png": make_image(3 + i, 2, "PNG", (i * 30, 0, 0)) for i in range(6)}
    root = local_media_root(0)  # replaced below, once the task has an id
    task = Task.objects.create(
        owner=user,
        name="cvat shaped",
        segment_size=4,
        consensus_replicas=1,
        validation_layout={"mode": "gt_pool", "frames": ["img1.png", "img4.png"]},
    )
    root = local_media_root(task.id)
    root.mkdir(parents=True)
    for name, content in files.items():
        (root / name).write_bytes(content)
    order = [*files, "img1.png", "img4.png"]
    data = Data.objects.create(storage=StorageChoice.LOCAL, size=8, stop_frame=7)
    Image.objects.bulk_create(
        Image(data=data, path=name, frame=i, width=3 + int(name[3]), height=2)
        for i, name in enumerate(order)
    )
    task.data = data
    task.save()
    labels_create(
        task=task,
        labels=[
            {"name": "car"},
            {
                "name": "person",
                "type": "skeleton",
                "svg": '<circle data-label-name="nose" />',
                "sublabels": [{"name": "nose", "type": "points"}],
            },
        ],
    )
    jobs_create_from_layout(
        task=task,
        layout=[
            {"start_frame": 0, "stop_frame": 2},
            {"start_frame": 0, "stop_frame": 2, "type": "consensus_replica"},
            {"start_frame": 3, "stop_frame": 5, "status": "validation"},
            {"start_frame": 6, "stop_frame": 7, "frames": [6, 7], "type": "ground_truth"},
            {"start_frame": 1, "stop_frame": 4, "frames": [1, 4], "type": "ground_truth"},
        ],
    )
    return task, files


def test_cvat_layouts_are_written_as_cvat_writes_them(user, tmp_path):
    task, files = _cvat_shaped_task(user)
    person = Label.objects.get(task=task, name="person")
    nose = Label.objects.get(task=task, name="nose")
    job = task.segments.order_by("id").first().jobs.first()
    JobAnnotations.objects.filter(job=job).update(
        shapes=[
            {
                "type": "skeleton", "id": 1, "frame": 1, "label_id": person.id, "group": None,
                "source": "manual", "occluded": False, "outside": False, "z_order": 0,
                "rotation": 0.0, "points": [], "attributes": [],
                "elements": [
                    {
                        "type": "points", "id": 2, "frame": 1, "label_id": nose.id,
                        "group": None, "source": "manual", "occluded": False, "outside": True,
                        "z_order": 0, "rotation": 0.0, "points": [1.0, 1.0], "attributes": [],
                    }
                ],
            }
        ]
    )  # fmt: skip
    content = _write(task)
    members = read_zip(content)

    media = sorted(name for name in members if name.startswith("data/img"))
    assert media == [f"data/{name}" for name in files]  # honeypots once
    for name, data in files.items():
        assert members[f"data/{name}"] == data
    task_json = json.loads(members["task.json"])
    assert task_json["consensus_replicas"] == 1
    assert task_json["data"]["custom_segments"] is True
    assert task_json["data"]["validation_layout"] == task.validation_layout
    order = ["img0.png", "img1.png", "img2.png", "img3.png", "img4.png", "img5.png"]
    order += ["img1.png", "img4.png"]
    jobs = task_json["jobs"]
    assert [(j["type"], j["start_frame"], j["stop_frame"]) for j in jobs] == [
        ("annotation", 0, 2),
        ("consensus_replica", 0, 2),
        ("annotation", 3, 5),
        ("ground_truth", 6, 7),
        ("ground_truth", 1, 4),
    ]
    assert jobs[0]["files"] == order[0:3] and jobs[1]["files"] == order[0:3]
    assert jobs[2]["files"] == order[3:6] and jobs[2]["status"] == "validation"
    assert "frames" not in jobs[3] and jobs[3]["files"] == ["img1.png", "img4.png"]
    assert jobs[4]["frames"] == [1, 4] and jobs[4]["files"] == ["img1.png", "img4.png"]
    person_json = task_json["labels"][1]
    assert person_json["svg"] == '<circle data-label-name="nose" />'
    assert [s["name"] for s in person_json["sublabels"]] == ["nose"]

    archive = tmp_path / "cvat.zip"
    archive.write_bytes(content)
    with ArchiveReader(archive) as reader:
        layout = check_task_layout(reader)
        assert layout.image_count == 8
        annotations = read_annotations_json(reader, spec=layout.spec)
    skeleton = annotations[0].shapes[0]
    assert (skeleton["label"], skeleton["group"]) == ("person", 0)
    assert skeleton["elements"][0]["label"] == "nose"
    assert skeleton["elements"][0]["outside"] is True
    assert [len(a.shapes) for a in annotations] == [1, 0, 0, 0, 0]


def test_default_segments_need_no_files(api, user, drain, s3_emulator, s3_bucket):
    cloud = make_cloud_task(api, user, EmulatedBucket(s3_emulator, s3_bucket), drain)
    task_json = json.loads(read_zip(_write(cloud.task, lightweight=True))["task.json"])
    assert "custom_segments" not in task_json["data"]
    assert all("files" not in job and "frames" not in job for job in task_json["jobs"])
    assert task_json["jobs"][0]["stage"] == "annotation"
    assert task_json["jobs"][0]["state"] == "new"


def test_progress_is_reported_up_to_one(api, user, drain, s3_emulator, s3_bucket):
    cloud = make_cloud_task(api, user, EmulatedBucket(s3_emulator, s3_bucket), drain)
    seen: list[float] = []
    _write(cloud.task, progress=lambda fraction, force=False: seen.append(fraction))
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert len(seen) >= 3  # one per media file at least


def test_a_missing_object_names_its_key(api, user, drain, s3_emulator, s3_bucket, settings):
    bucket = EmulatedBucket(s3_emulator, s3_bucket)
    cloud = make_cloud_task(api, user, bucket, drain)
    bucket.provider().delete("ds/c.jpg")
    settings.BACKUP_FETCH_CONCURRENCY = 1
    with pytest.raises(CloudObjectNotFound) as caught:
        _write(cloud.task)
    assert caught.value.key == "ds/c.jpg"
    _write(cloud.task, lightweight=True)  # the manifest is enough


def test_full_backup_streams_cloud_media_with_bounded_memory(
    api, user, drain, gcs_emulator, tmp_path
):
    """24 objects of 512 KiB (12 MiB), 3 downloads at a time: the export holds about as many
    objects as it downloads at once, never all of them. (The GCS emulator runs in another
    process, so every traced byte is the exporter's; its client adds little of its own.)"""
    bucket = EmulatedBucket(gcs_emulator, gcs_emulator.create_bucket())
    count, size, concurrency = 24, 512 * 1024, 3
    objects = {f"big/obj{i:02}.jpg": os.urandom(size) for i in range(count)}
    for key, content in objects.items():
        bucket.put(key, content)
    entries = [
        {"name": key.removeprefix("big/")[:-4], "extension": ".jpg", "width": 8, "height": 8}
        for key in objects
    ]
    bucket.put("big/manifest.jsonl", manifest_bytes(entries))
    storage = storage_row(user, bucket.config)
    task = make_labelled_task(api, name="big")
    body = {"server_files": ["big/manifest.jsonl"], "cloud_storage_id": storage.id}
    assert create_data(api, task, body, drain)["status"] == "finished"
    task.refresh_from_db()

    path = tmp_path / "big.zip"
    tracemalloc.start()
    try:
        with path.open("wb") as stream, ArchiveWriter(stream) as writer:
            backup_write_task(
                task=task, lightweight=False, writer=writer, fetch_concurrency=concurrency
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < (concurrency + 3) * size, f"peak {peak / MiB:.1f} MiB"  # 12 MiB in all
    members = read_zip(path)
    assert [name for name in members if name.startswith("data/obj")] == [
        f"data/obj{i:02}.jpg" for i in range(count)
    ]  # in frame order
    for key, content in objects.items():
        assert members["data/" + key.removeprefix("big/")] == content


def test_cleanup_removes_dead_partial_files_only(settings):
    folder = exports_dir()
    folder.mkdir(parents=True)
    dead, running = folder / ".partial-dead.zip", folder / ".partial-running.zip"
    dead.write_bytes(b"x")
    running.write_bytes(b"y")
    old = time.time() - settings.RQ_QUEUES["export"]["DEFAULT_TIMEOUT"] - 60
    os.utime(dead, (old, old))
    assert exports_cleanup() == 1
    assert sorted(p.name for p in folder.iterdir()) == [running.name]
