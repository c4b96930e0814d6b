"""Media reads (contract 5.1, 5.3): frames, chunks, previews, context images, data/meta, the
chunk cache, and tasks whose cloud storage link is missing or broken."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.db import connection
from django.utils import timezone
from PIL import Image as PILImage

from cvat_lite.engine.media_cache import media_cache_drop
from cvat_lite.engine.models import Data, Image, Job, StorageChoice, Task
from cvat_lite.errors import CloudStorageUnlinked
from tests.api.media_helpers import (
    create_data,
    make_image,
    make_task,
    manifest_bytes,
    storage_row,
)
from tests.fixtures.emulators import Azurite, EmulatedBucket, GcsEmulator, MotoS3

pytestmark = pytest.mark.django_db(transaction=True)

RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 20)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _cloud_task(api, user, bucket: EmulatedBucket, drain, *, chunk_size: int = 2):
    """A cloud task of 3 frames (a.jpg, b.png, c.jpg) from a manifest; b.png has a context
    image."""
    objects = {
        "ds/a.jpg": make_image(16, 8, "JPEG", RED),
        "ds/b.png": make_image(6, 4, "PNG", BLUE),
        "ds/c.jpg": make_image(5, 5, "JPEG", GREEN),
        "ds/related_images/b_png/ctx.jpg": make_image(3, 3),
    }
    entries = [
        {"name": "a", "extension": ".jpg", "width": 16, "height": 8},
        {
            "name": "b",
            "extension": ".png",
            "width": 6,
            "height": 4,
            "meta": {"related_images": ["related_images/b_png/ctx.jpg"]},
        },
        {"name": "c", "extension": ".jpg", "width": 5, "height": 5},
    ]
    for key, content in objects.items():
        bucket.put(key, content)
    bucket.put("ds/manifest.jsonl", manifest_bytes(entries))
    storage = storage_row(user, bucket.config)
    task = make_task(user, segment_size=2)
    body = {
        "server_files": ["ds/manifest.jsonl"],
        "cloud_storage_id": storage.id,
        "chunk_size": chunk_size,
        "image_quality": 90,
    }
    request = create_data(api, task, body, drain)
    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    return task, storage, objects


@pytest.fixture
def s3_cloud(s3_emulator, s3_bucket):
    return EmulatedBucket(s3_emulator, s3_bucket)


def _url(task: Task, query: str) -> str:
    return f"/api/tasks/{task.id}/data?{query}"


def _zip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# --- reads -------------------------------------------------------------------------------------


def test_frames_chunks_preview_from_each_provider(api, user, cloud_bucket, drain):
    task, _, objects = _cloud_task(api, user, cloud_bucket, drain)

    for number, key in enumerate(["ds/a.jpg", "ds/b.png", "ds/c.jpg"]):
        original = api.get(_url(task, f"type=frame&number={number}&quality=original"))
        assert original.status_code == 200
        assert original.content == objects[key]  # byte-identical
    assert original["Content-Type"] == "image/jpeg"
    png = api.get(_url(task, "type=frame&number=1&quality=original"))
    assert png["Content-Type"] == "image/png"

    compressed = api.get(_url(task, "type=frame&number=1"))  # CVAT's default: compressed
    assert compressed["Content-Type"] == "image/jpeg"
    decoded = PILImage.open(io.BytesIO(compressed.content))
    assert (decoded.format, decoded.size) == ("JPEG", (6, 4))

    chunk = _zip(api.get(_url(task, "type=chunk&number=0&quality=original")).content)
    assert chunk == {"000000.jpg": objects["ds/a.jpg"], "000001.png": objects["ds/b.png"]}
    compressed_chunk = _zip(api.get(_url(task, "type=chunk&number=1")).content)
    assert list(compressed_chunk) == ["000000.jpeg"]
    assert PILImage.open(io.BytesIO(compressed_chunk["000000.jpeg"])).size == (5, 5)

    preview = api.get(f"/api/tasks/{task.id}/preview")
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/jpeg"
    assert PILImage.open(io.BytesIO(preview.content)).size == (16, 8)


def test_context_images(api, user, s3_cloud, drain):
    task, _, objects = _cloud_task(api, user, s3_cloud, drain)

    response = api.get(_url(task, "type=context_image&number=1"))
    assert response.status_code == 200
    assert _zip(response.content) == {
        "ds/related_images/b_png/ctx.jpg": objects["ds/related_images/b_png/ctx.jpg"]
    }
    meta = api.get(f"/api/tasks/{task.id}/data/meta").json()
    assert [(f["related_files"], f["has_related_context"]) for f in meta["frames"]] == [
        (0, False),
        (1, True),
        (0, False),
    ]

    none = api.get(_url(task, "type=context_image&number=0"))
    assert none.status_code == 404
    assert none.json()["code"] == "context_image_not_found"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("type=frame&number=3", "frame_out_of_range"),
        ("type=chunk&number=2", "chunk_out_of_range"),
        ("type=frame", "number_required"),
        ("type=video&number=0", "invalid"),
        ("type=frame&number=0&quality=best", "invalid"),
        ("type=frame&number=-1", "invalid"),
    ],
)
def test_bad_media_queries(api, user, s3_cloud, drain, query, code):
    task, _, _ = _cloud_task(api, user, s3_cloud, drain)
    response = api.get(_url(task, query))
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_media_reads_ignore_accept_and_hide_other_users_tasks(
    api, other_api, user, s3_cloud, drain
):
    task, _, objects = _cloud_task(api, user, s3_cloud, drain)
    for accept in ("application/vnd.cvat+json", "*/*", "image/jpeg"):
        response = api.get(_url(task, "type=frame&number=0&quality=original"), HTTP_ACCEPT=accept)
        assert response.status_code == 200
        assert response.content == objects["ds/a.jpg"]
    error = api.get(_url(task, "type=frame&number=9"), HTTP_ACCEPT="application/vnd.cvat+json")
    assert error.status_code == 400
    assert error["Content-Type"].startswith("application/")
    assert other_api.get(_url(task, "type=frame&number=0")).status_code == 404
    assert other_api.get(f"/api/tasks/{task.id}/data/meta").status_code == 404


def test_task_without_data(api, user):
    task = make_task(user)
    for url in (_url(task, "type=frame&number=0"), f"/api/tasks/{task.id}/data/meta"):
        response = api.get(url)
        assert response.status_code == 404
        assert response.json()["code"] == "task_has_no_data"


# --- meta --------------------------------------------------------------------------------------


def test_meta_matches_the_sdk_model(api, user, s3_cloud, drain):
    task, storage, _ = _cloud_task(api, user, s3_cloud, drain)

    meta = api.get(f"/api/tasks/{task.id}/data/meta/").json()

    assert set(meta) == {
        "chunks_updated_date", "chunk_size", "size", "image_quality", "start_frame",
        "stop_frame", "frame_filter", "frames", "deleted_frames", "included_frames",
        "storage", "cloud_storage_id",
    }  # fmt: skip
    assert meta["size"] == 3
    assert (meta["chunk_size"], meta["image_quality"]) == (2, 90)
    assert (meta["start_frame"], meta["stop_frame"], meta["frame_filter"]) == (0, 2, "")
    assert (meta["storage"], meta["cloud_storage_id"]) == ("cloud_storage", storage.id)
    assert meta["deleted_frames"] == []
    assert meta["included_frames"] is None
    assert meta["frames"][0] == {
        "width": 16, "height": 8, "name": "ds/a.jpg", "related_files": 0,
        "has_related_context": False,
    }  # fmt: skip

    from cvat_sdk.api_client.model.data_meta_read import DataMetaRead

    parsed = DataMetaRead._from_openapi_data(
        **{**meta, "chunks_updated_date": timezone.now()}, _check_type=False
    )
    assert parsed.storage == "cloud_storage"


def test_patch_deleted_frames(api, user, s3_cloud, drain):
    task, _, _ = _cloud_task(api, user, s3_cloud, drain)
    url = f"/api/tasks/{task.id}/data/meta"

    response = api.patch(url, {"deleted_frames": [2, 0, 2]}, format="json")
    assert response.status_code == 200
    assert response.json()["deleted_frames"] == [0, 2]

    bad = api.patch(url, {"deleted_frames": [3]}, format="json")
    assert bad.status_code == 400
    assert bad.json()["message"] == "deleted_frames: frame 3 is not in 0..2."
    assert Data.objects.get(pk=task.data_id).deleted_frames == [0, 2]


def test_meta_of_a_large_task_streams_every_frame(api, user):
    # Speed is measured in bench/, not here; this checks the streamed JSON of a large task.
    count = 20_000
    data = Data.objects.create(storage=StorageChoice.SHARE, size=count, stop_frame=count - 1)
    with connection.cursor() as cursor:  # the ORM's bulk_create would take most of the test
        cursor.executemany(
            f"INSERT INTO {Image._meta.db_table} "
            "(data_id, path, frame, width, height, checksum, related_files) "
            "VALUES (%s, %s, %s, %s, %s, '', '[]')",
            [(data.id, f"d/{i:06d}.jpg", i, 640, 480) for i in range(count)],
        )
    task = make_task(user)
    Task.objects.filter(pk=task.id).update(data=data)

    response = api.get(f"/api/tasks/{task.id}/data/meta")

    assert response.status_code == 200
    frames = response.json()["frames"]
    assert len(frames) == count
    assert frames[0] == {
        "name": "d/000000.jpg", "width": 640, "height": 480,
        "related_files": 0, "has_related_context": False,
    }  # fmt: skip
    assert frames[-1]["name"] == f"d/{count - 1:06d}.jpg"


# --- jobs --------------------------------------------------------------------------------------


def test_job_media_and_meta(api, user, s3_cloud, drain):
    task, _, objects = _cloud_task(api, user, s3_cloud, drain, chunk_size=1)
    first, second = Job.objects.filter(segment__task=task).order_by("segment__start_frame")

    frame = api.get(f"/api/jobs/{second.id}/data?type=frame&number=2&quality=original")
    assert frame.content == objects["ds/c.jpg"]
    outside = api.get(f"/api/jobs/{second.id}/data?type=frame&number=0")
    assert outside.status_code == 400
    chunk = api.get(f"/api/jobs/{first.id}/data?type=chunk&index=1&quality=original")
    assert _zip(chunk.content) == {"000000.png": objects["ds/b.png"]}
    by_number = api.get(f"/api/jobs/{second.id}/data?type=chunk&number=2&quality=original")
    assert _zip(by_number.content) == {"000000.jpg": objects["ds/c.jpg"]}
    preview = api.get(f"/api/jobs/{second.id}/preview")
    assert PILImage.open(io.BytesIO(preview.content)).size == (5, 5)

    meta = api.get(f"/api/jobs/{first.id}/data/meta").json()
    assert (meta["size"], meta["start_frame"], meta["stop_frame"]) == (2, 0, 1)
    assert [f["name"] for f in meta["frames"]] == ["ds/a.jpg", "ds/b.png"]

    patched = api.patch(f"/api/jobs/{second.id}/data/meta", {"deleted_frames": [2]}, format="json")
    assert patched.status_code == 200
    assert patched.json()["deleted_frames"] == [2]
    refused = api.patch(f"/api/jobs/{second.id}/data/meta", {"deleted_frames": [0]}, format="json")
    assert refused.status_code == 400


# --- cache -------------------------------------------------------------------------------------


def test_chunks_are_cached_until_the_link_changes(api, user, s3_cloud, drain):
    task, _, objects = _cloud_task(api, user, s3_cloud, drain)
    url = _url(task, "type=chunk&number=0&quality=original")
    before = _zip(api.get(url).content)
    preview_before = api.get(f"/api/tasks/{task.id}/preview").content
    replaced = make_image(16, 8, "JPEG", BLUE)
    s3_cloud.put("ds/a.jpg", replaced)

    assert _zip(api.get(url).content) == before  # served from the cache
    assert api.get(f"/api/tasks/{task.id}/preview").content == preview_before

    Data.objects.filter(pk=task.data_id).update(chunks_updated_date=timezone.now())
    assert _zip(api.get(url).content)["000000.jpg"] == replaced
    assert api.get(f"/api/tasks/{task.id}/preview").content != preview_before

    s3_cloud.put("ds/a.jpg", objects["ds/a.jpg"])
    media_cache_drop(task=task)
    assert _zip(api.get(url).content) == before


# --- missing or broken storage link (contract 5.3) ---------------------------------------------

MEDIA_READS = [
    "data?type=frame&number=0&quality=original",
    "data?type=frame&number=0",
    "data?type=chunk&number=0",
    "data?type=context_image&number=1",
    "preview",
]


def test_unlinked_task_answers_409_on_media_only(api, user, s3_cloud, drain):
    task, storage, _ = _cloud_task(api, user, s3_cloud, drain)
    api.get(f"/api/tasks/{task.id}/data?type=chunk&number=0")  # cached before the unlink
    storage.delete()  # FK SET_NULL: the task keeps its data, without a link

    for path in MEDIA_READS:
        response = api.get(f"/api/tasks/{task.id}/{path}")
        assert response.status_code == 409, path
        assert response.json() == {
            "code": "cloud_storage_unlinked",
            "message": CloudStorageUnlinked.MESSAGE.format(id=task.id),
            "extra": {"task_id": task.id},
        }
    job = Job.objects.filter(segment__task=task).first()
    assert api.get(f"/api/jobs/{job.id}/data?type=frame&number=0").status_code == 409
    assert api.get(f"/api/jobs/{job.id}/preview").status_code == 409

    meta = api.get(f"/api/tasks/{task.id}/data/meta")
    assert meta.status_code == 200
    assert (meta.json()["storage"], meta.json()["cloud_storage_id"]) == ("cloud_storage", None)
    assert len(meta.json()["frames"]) == 3
    for url in (
        f"/api/tasks/{task.id}",
        f"/api/jobs?task_id={task.id}",
        f"/api/tasks/{task.id}/annotations",
        f"/api/jobs/{job.id}/annotations",
        f"/api/jobs/{job.id}/data/meta",
    ):
        assert api.get(url).status_code == 200, url


def test_unlink_with_patch(api, user, s3_cloud, drain):
    task, _, _ = _cloud_task(api, user, s3_cloud, drain)
    before = Data.objects.get(pk=task.data_id).chunks_updated_date

    response = api.patch(
        f"/api/tasks/{task.id}/data/meta", {"cloud_storage_id": None}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["cloud_storage_id"] is None
    assert Data.objects.get(pk=task.data_id).chunks_updated_date > before
    assert api.get(_url(task, "type=frame&number=0")).status_code == 409


def test_unlink_of_a_share_task_is_refused(api, user, drain, settings):
    (settings.SHARE_ROOT / "a.jpg").write_bytes(make_image(2, 2))
    task = make_task(user)
    assert create_data(api, task, {"server_files": ["a.jpg"]}, drain)["status"] == "finished"
    response = api.patch(
        f"/api/tasks/{task.id}/data/meta", {"cloud_storage_id": None}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "not_a_cloud_task"


def _delete_bucket(bucket: EmulatedBucket) -> None:
    provider = bucket.provider()
    for info in list(provider.iter_objects("")):
        provider.delete(info.key)
    emulator, name = bucket.emulator, bucket.config.resource
    if isinstance(emulator, MotoS3):
        emulator.client().delete_bucket(Bucket=name)
    elif isinstance(emulator, Azurite):
        emulator.service().delete_container(name)
    elif isinstance(emulator, GcsEmulator):
        emulator.client().bucket(name).delete(force=True)


def test_deleted_bucket_is_409_unavailable(api, user, cloud_bucket, drain):
    task, _, _ = _cloud_task(api, user, cloud_bucket, drain)
    _delete_bucket(cloud_bucket)

    for path in MEDIA_READS:
        response = api.get(f"/api/tasks/{task.id}/{path}")
        assert response.status_code == 409, (path, response.content)
        assert response.json()["code"] == "cloud_storage_unavailable"
    assert api.get(f"/api/tasks/{task.id}/data/meta").status_code == 200


def test_deleted_object_is_404_naming_the_key(api, user, s3_cloud, drain):
    task, _, _ = _cloud_task(api, user, s3_cloud, drain)
    s3_cloud.provider().delete("ds/b.png")

    for path in ("data?type=frame&number=1&quality=original", "data?type=chunk&number=0"):
        response = api.get(f"/api/tasks/{task.id}/{path}")
        assert response.status_code == 404
        assert response.json()["code"] == "cloud_object_not_found"
        assert response.json()["extra"] == {"key": "ds/b.png"}
        assert "ds/b.png" in response.json()["message"]
    assert api.get(_url(task, "type=frame&number=0")).status_code == 200


def test_missing_share_file_is_404(api, user, drain, settings):
    (settings.SHARE_ROOT / "a.jpg").write_bytes(make_image(2, 2))
    task = make_task(user)
    assert create_data(api, task, {"server_files": ["a.jpg"]}, drain)["status"] == "finished"
    (settings.SHARE_ROOT / "a.jpg").unlink()
    response = api.get(_url(task, "type=frame&number=0"))
    assert response.status_code == 404
    assert response.json() == {
        "code": "media_not_found",
        "message": "The media file 'a.jpg' was not found.",
        "extra": {},
    }
