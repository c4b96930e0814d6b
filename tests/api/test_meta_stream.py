"""data/meta streamed in pieces (contract 5.3): the same bytes as one ``json.dumps`` of the
whole DataMetaRead, at any batch size, with the optional ``frames_offset`` / ``frames_limit``
paging."""

from __future__ import annotations

import json

import pytest
from rest_framework.fields import DateTimeField

from cvat_lite.engine import frames
from cvat_lite.engine.models import Data, Image, Job, Segment, StorageChoice, Task
from tests.api.media_helpers import make_task

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = ["a.jpg", "dir/é ü.png", 'q"uote\\.jpg', "z/\u2603.jpg", "b.jpg", "c.jpg", "d.jpg"]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _task(user, *, step: int = 1, start: int = 0, deleted=()) -> Task:
    count = (len(NAMES) - 1 - start) // step + 1
    data = Data.objects.create(
        storage=StorageChoice.SHARE, size=count, start_frame=start,
        stop_frame=start + (count - 1) * step, frame_filter=f"step={step}" if step > 1 else "",
        deleted_frames=list(deleted),
    )  # fmt: skip
    Image.objects.bulk_create(
        Image(
            data=data,
            path=name,
            frame=i,
            width=10 + i,
            height=20 + i,
            related_files=[f"ctx/{i}_{n}.jpg" for n in range(i % 3)],
        )
        for i, name in enumerate(NAMES)
    )
    task = make_task(user)
    Task.objects.filter(pk=task.id).update(data=data)
    return Task.objects.get(pk=task.id)


def _expected(data: Data, positions: list[int], **changes) -> bytes:
    """DataMetaRead as one ``json.dumps`` (what data/meta answered before it was streamed)."""
    rows = {image.frame: image for image in data.images.all()}
    meta = {
        "chunks_updated_date": DateTimeField().to_representation(data.chunks_updated_date),
        "chunk_size": data.chunk_size,
        "size": data.size,
        "image_quality": data.image_quality,
        "start_frame": data.start_frame,
        "stop_frame": data.stop_frame,
        "frame_filter": data.frame_filter,
        "deleted_frames": sorted(data.deleted_frames),
        "included_frames": None,
        "storage": data.storage,
        "cloud_storage_id": data.cloud_storage_id,
        **changes,
        "frames": [
            {
                "width": rows[p].width,
                "height": rows[p].height,
                "name": rows[p].path,
                "related_files": len(rows[p].related_files),
                "has_related_context": bool(rows[p].related_files),
            }
            for p in positions
        ],
    }
    return json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode()


def _body(response) -> bytes:
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"] == "application/json"
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("batch", [1, 2, 3, 1000])
@pytest.mark.parametrize(("step", "start"), [(1, 0), (2, 1), (3, 0)])
def test_task_meta_is_byte_equal_at_any_batch_size(api, user, monkeypatch, batch, step, start):
    monkeypatch.setattr(frames, "META_BATCH", batch)
    task = _task(user, step=step, start=start, deleted=[1, 0])
    data = task.data
    positions = list(range(start, len(NAMES), step))

    body = _body(api.get(f"/api/tasks/{task.id}/data/meta"))

    assert body == _expected(data, positions)


@pytest.mark.parametrize(
    ("query", "first", "count"),
    [
        ("frames_offset=2", 2, 5),
        ("frames_limit=3", 0, 3),
        ("frames_offset=1&frames_limit=2", 1, 2),
        ("frames_offset=6&frames_limit=5", 6, 1),
        ("frames_offset=7", 7, 0),
        ("frames_offset=100&frames_limit=1", 100, 0),
    ],
)
def test_task_meta_pages_frames(api, user, monkeypatch, query, first, count):
    monkeypatch.setattr(frames, "META_BATCH", 2)
    task = _task(user)
    positions = list(range(len(NAMES)))[first : first + count]

    body = _body(api.get(f"/api/tasks/{task.id}/data/meta?{query}"))

    assert body == _expected(task.data, positions)


def test_pages_together_are_the_whole_list(api, user):
    task = _task(user, step=2)
    whole = json.loads(_body(api.get(f"/api/tasks/{task.id}/data/meta")))["frames"]
    pages = [
        json.loads(
            _body(api.get(f"/api/tasks/{task.id}/data/meta?frames_offset={o}&frames_limit=3"))
        )
        for o in range(0, 6, 3)
    ]
    assert [f for page in pages for f in page["frames"]] == whole
    assert all(page["size"] == 4 for page in pages)


@pytest.mark.parametrize(
    "query", ["frames_offset=-1", "frames_limit=0", "frames_limit=x", "frames_offset=1.5"]
)
def test_bad_paging_is_refused(api, user, query):
    task = _task(user)
    response = api.get(f"/api/tasks/{task.id}/data/meta?{query}")
    assert response.status_code == 400


def test_task_without_data_is_a_404_before_any_byte(api, user):
    task = make_task(user)
    response = api.get(f"/api/tasks/{task.id}/data/meta")
    assert response.status_code == 404
    assert response.json()["code"] == "task_has_no_data"


def test_job_meta_is_streamed_and_paged(api, user, monkeypatch):
    monkeypatch.setattr(frames, "META_BATCH", 2)
    task = _task(user)
    segment = Segment.objects.create(task=task, start_frame=2, stop_frame=5)
    job = Job.objects.create(segment=segment)
    data = task.data

    whole = _body(api.get(f"/api/jobs/{job.id}/data/meta"))
    page = _body(api.get(f"/api/jobs/{job.id}/data/meta?frames_offset=1&frames_limit=2"))

    changes = {"size": 4, "start_frame": 2, "stop_frame": 5, "deleted_frames": []}
    assert whole == _expected(data, [2, 3, 4, 5], **changes)
    assert page == _expected(data, [3, 4], **changes)


def test_patch_answers_the_streamed_meta(api, user, monkeypatch):
    monkeypatch.setattr(frames, "META_BATCH", 2)
    task = _task(user)

    response = api.patch(f"/api/tasks/{task.id}/data/meta", {"deleted_frames": [3]}, format="json")

    data = Data.objects.get(pk=task.data_id)
    assert _body(response) == _expected(data, list(range(len(NAMES))))
