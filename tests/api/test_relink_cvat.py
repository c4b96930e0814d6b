"""Relink with what real CVAT writes (docs/relink.md): CVAT's ``checksum`` is the MD5 of the
decoded pixels, never an object's MD5, so tasks from a CVAT-made manifest or a CVAT-written
lightweight backup are verified by listing plus a random content sample; prefix moves and dry
runs. Real S3 emulator; the bucket is ``shared/interop/cvat-2.73/bucket/`` as CVAT saw it."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from cvat_lite.backup.archive import ArchiveWriter
from cvat_lite.backup.export import backup_write_task
from cvat_lite.backup.restore import backup_restore_project, backup_restore_task
from cvat_lite.engine.models import Data, Image, Project, Task
from tests.api.media_helpers import create_data, make_image, make_task, storage_row
from tests.backup.relink_helpers import link_of, put_all
from tests.fixtures.emulators import EmulatedBucket
from tests.fixtures.interop import interop_dir

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.interop]

INTEROP = interop_dir() / "cvat-2.73"
BUCKET = INTEROP / "bucket"
LIGHTWEIGHT = INTEROP / "cvat273_task_cloud_lightweight.zip"
PROJECT_LIGHTWEIGHT = INTEROP / "cvat273_project_lightweight.zip"


def _cvat_files() -> dict[str, bytes]:
    if not BUCKET.is_dir():
        pytest.fail(f"The CVAT bucket is missing: expected {BUCKET} (shared/ beside the clone).")
    return {path.name: path.read_bytes() for path in sorted(BUCKET.iterdir())}


def _images(files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: content for name, content in files.items() if name.endswith(".jpg")}


def _bucket(s3_emulator, objects: dict[str, bytes]) -> EmulatedBucket:
    bucket = EmulatedBucket(s3_emulator, s3_emulator.create_bucket())
    put_all(bucket, objects)
    return bucket


def _other_images(names) -> dict[str, bytes]:
    """The same keys, other images (64x48 JPEGs too)."""
    return {
        name: make_image(64, 48, "JPEG", (index * 5 % 256, 90, 200 - index))
        for index, name in enumerate(names)
    }


@pytest.fixture
def cvat_files() -> dict[str, bytes]:
    return _cvat_files()


@pytest.fixture
def cvat_bucket(s3_emulator, cvat_files) -> EmulatedBucket:
    """The bucket CVAT 2.73 read: 50 JPEGs and the manifest its own tool made, at the root."""
    return _bucket(s3_emulator, cvat_files)


def _relink(api, task: Task, body: dict):
    return api.patch(f"/api/tasks/{task.id}/data/meta", body, format="json")


def _frame(api, task: Task, number: int) -> bytes:
    response = api.get(f"/api/tasks/{task.id}/data?type=frame&number={number}&quality=original")
    assert response.status_code == 200, response.content
    return response.content


def _paths(task: Task) -> list[str]:
    return list(Image.objects.filter(data_id=task.data_id).values_list("path", flat=True))


def _evidence(task: Task) -> list[tuple]:
    return list(
        Image.objects.filter(data_id=task.data_id).values_list(
            "object_size", "object_md5", "object_etag", "object_crc32c"
        )
    )


def _restored_cvat_task(user) -> Task:
    if not LIGHTWEIGHT.is_file():
        pytest.fail(f"The CVAT archive is missing: expected {LIGHTWEIGHT}.")
    outcome = backup_restore_task(owner=user, archive_path=LIGHTWEIGHT)
    task = Task.objects.select_related("data").get(pk=outcome.obj.pk)
    assert task.data.cloud_storage_id is None  # CVAT's archives name no origin
    return task


@pytest.fixture
def manifest_task(api, user, cvat_bucket, drain) -> Task:
    """A task created here from CVAT's own manifest (the bucket's manifest.jsonl)."""
    storage = storage_row(user, cvat_bucket.config)
    task = make_task(user, segment_size=20)
    body = {"cloud_storage_id": storage.id, "server_files": ["manifest.jsonl"]}
    request = create_data(api, task, body, drain)
    assert request["status"] == "finished", request
    return Task.objects.select_related("data").get(pk=task.pk)


# --- CVAT-made manifests and backups -----------------------------------------------------------


def test_a_task_from_cvats_manifest_relinks_to_the_bucket_holding_its_images(
    api, user, manifest_task, cvat_bucket
):
    again = storage_row(user, cvat_bucket.config)  # another storage over the same bucket

    response = _relink(api, manifest_task, {"cloud_storage_id": again.id})

    assert response.status_code == 200, response.content
    verification = response.json()["verification"]
    assert verification["ok"] is True
    assert verification["method"] == ["listing", "content_sample"]
    assert (verification["expected"], verification["present"]) == (50, 50)
    assert verification["fingerprints_compared"] == 0  # nothing recorded from a manifest
    assert (verification["content_candidates"], verification["content_sampled"]) == (50, 20)
    assert verification["content_matched"] == 20
    assert link_of(manifest_task)[0] == again.id


def test_after_a_verified_relink_the_next_one_compares_fingerprints(
    api, user, manifest_task, cvat_bucket, cvat_files
):
    first = storage_row(user, cvat_bucket.config)
    assert _relink(api, manifest_task, {"cloud_storage_id": first.id}).status_code == 200
    images = _images(cvat_files)
    assert [size for size, *_ in _evidence(manifest_task)] == [len(b) for b in images.values()]
    second = storage_row(user, cvat_bucket.config)

    response = _relink(api, manifest_task, {"cloud_storage_id": second.id})

    verification = response.json()["verification"]
    assert verification["method"] == ["listing", "size", "fingerprint"]
    assert (verification["fingerprints_compared"], verification["fingerprints_matched"]) == (50, 50)
    assert (verification["content_candidates"], verification["content_sampled"]) == (0, 0)


def test_the_cvat_lightweight_backup_restores_relinks_and_serves_identical_frames(
    api, user, cvat_bucket, cvat_files
):
    task = _restored_cvat_task(user)
    storage = storage_row(user, cvat_bucket.config)

    response = _relink(api, task, {"cloud_storage_id": storage.id})  # the SDK's body

    assert response.status_code == 200, response.content
    assert response.json()["cloud_storage_id"] == storage.id
    assert response.json()["verification"]["content_matched"] == 20
    images = list(_images(cvat_files).items())
    for number in (0, 7, 19, 20, 33, 49):
        assert _frame(api, task, number) == images[number][1]


def test_same_keys_with_other_images_are_refused(api, user, s3_emulator, cvat_files):
    task = _restored_cvat_task(user)
    impostor = _bucket(s3_emulator, _other_images(_images(cvat_files)))
    storage = storage_row(user, impostor.config)
    before = link_of(task)

    response = _relink(api, task, {"cloud_storage_id": storage.id})

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "relink_verification_failed"
    assert body["message"].startswith(
        f"Cloud storage #{storage.id} does not hold the task's media: 0 missing, "
        "20 with other content (of 50 objects). Checked: one listing under '' (50 objects "
        "listed), 50 of 50 present; 0 compared by size/fingerprint (0 matched); 20 of 50 "
        "known only by CVAT's pixel checksum downloaded and compared (0 matched)"
    )
    verification = body["extra"]["verification"]
    assert (verification["content_sampled"], verification["content_matched"]) == (20, 0)
    assert body["extra"]["mismatched_count"] == 20
    assert link_of(task) == before

    response = _relink(api, task, {"cloud_storage_id": storage.id, "content_sample": "all"})
    assert response.json()["extra"]["mismatched_count"] == 50
    assert link_of(task) == before


def test_one_other_image_is_found_when_all_are_sampled(api, user, s3_emulator, cvat_files):
    task = _restored_cvat_task(user)
    images = _images(cvat_files)
    odd = "img_00031.jpg"
    bucket = _bucket(s3_emulator, {**images, **_other_images([odd])})
    storage = storage_row(user, bucket.config)

    response = _relink(api, task, {"cloud_storage_id": storage.id, "content_sample": "all"})

    assert response.status_code == 400
    assert response.json()["extra"]["mismatched"] == [odd]
    none = _relink(api, task, {"cloud_storage_id": storage.id, "content_sample": 0})
    assert none.status_code == 200  # asked for no content check: listing only
    assert none.json()["verification"]["unverified"] == 50


def test_the_cvat_project_backup_relinks_under_a_new_prefix(api, user, s3_emulator, cvat_files):
    if not PROJECT_LIGHTWEIGHT.is_file():
        pytest.fail(f"The CVAT archive is missing: expected {PROJECT_LIGHTWEIGHT}.")
    outcome = backup_restore_project(owner=user, archive_path=PROJECT_LIGHTWEIGHT)
    project = Project.objects.get(pk=outcome.obj.pk)
    cloud = Task.objects.get(project=project, data__storage="cloud_storage")
    images = _images(cvat_files)
    moved = _bucket(s3_emulator, {f"2026/set1/{name}": content for name, content in images.items()})
    storage = storage_row(user, moved.config)
    url = f"/api/projects/{project.id}/cloud_storage"

    plain = api.patch(url, {"cloud_storage_id": storage.id}, format="json").json()
    assert (plain["relinked"], plain["failed"][0]["code"]) == ([], "relink_verification_failed")

    dry = api.patch(
        url, {"cloud_storage_id": storage.id, "prefix": "2026/set1", "dry_run": True}, format="json"
    ).json()
    assert (dry["dry_run"], dry["relinked"], dry["failed"]) == (True, [cloud.id], [])
    assert dry["verifications"][0]["verification"]["prefix"] == "2026/set1/"
    assert link_of(cloud)[0] is None
    assert _paths(cloud)[0] == "img_00000.jpg"

    body = {"cloud_storage_id": storage.id, "prefix_from": "", "prefix": "2026/set1/"}
    done = api.patch(url, body, format="json").json()
    assert (done["dry_run"], done["relinked"], done["failed"]) == (False, [cloud.id], [])
    assert _paths(cloud)[:2] == ["2026/set1/img_00000.jpg", "2026/set1/img_00001.jpg"]
    assert Data.objects.get(pk=cloud.data_id).cloud_prefix == "2026/set1"
    assert _frame(api, cloud, 49) == images["img_00049.jpg"]


# --- prefix moves and dry runs -----------------------------------------------------------------


def test_a_task_moves_to_another_prefix(api, user, manifest_task, s3_emulator, cvat_files):
    images = _images(cvat_files)
    moved = _bucket(s3_emulator, {f"archive/v2/{name}": data for name, data in images.items()})
    storage = storage_row(user, moved.config)

    response = _relink(
        api, manifest_task, {"cloud_storage_id": storage.id, "prefix": "archive/v2/"}
    )

    assert response.status_code == 200, response.content
    assert response.json()["verification"]["prefix"] == "archive/v2/"
    assert _paths(manifest_task)[0] == "archive/v2/img_00000.jpg"
    assert _frame(api, manifest_task, 3) == images["img_00003.jpg"]

    back = storage_row(user, s3_emulator.config(manifest_task.data.cloud_storage.resource))
    body = {"cloud_storage_id": back.id, "prefix_from": "archive/v2/", "prefix": ""}
    response = _relink(api, manifest_task, body)
    assert response.status_code == 200, response.content
    assert response.json()["verification"]["method"] == ["listing", "size", "fingerprint"]
    assert _paths(manifest_task)[0] == "img_00000.jpg"


def test_prefix_from_must_hold_every_key(api, user, manifest_task, cvat_bucket):
    storage = storage_row(user, cvat_bucket.config)
    before = (link_of(manifest_task), _paths(manifest_task))

    body = {"cloud_storage_id": storage.id, "prefix_from": "elsewhere/", "prefix": "x/"}
    response = _relink(api, manifest_task, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_prefix"
    assert response.json()["message"] == (
        "prefix_from 'elsewhere/' does not hold 50 of the task's object keys, e.g. 'img_00000.jpg'."
    )
    assert (link_of(manifest_task), _paths(manifest_task)) == before


def test_a_dry_run_reports_and_saves_nothing(api, user, manifest_task, s3_emulator, cvat_files):
    images = _images(cvat_files)
    half = dict(list(images.items())[:25])
    bucket = _bucket(s3_emulator, {f"new/{name}": content for name, content in half.items()})
    storage = storage_row(user, bucket.config)
    before = (link_of(manifest_task), _paths(manifest_task), _evidence(manifest_task))

    failing = _relink(
        api,
        manifest_task,
        {"cloud_storage_id": storage.id, "prefix": "new/", "dry_run": True, "deleted_frames": [1]},
    )

    assert failing.status_code == 200, failing.content
    verification = failing.json()["verification"]
    assert (verification["ok"], verification["missing_count"]) == (False, 25)
    assert verification["missing"][0] == "new/img_00025.jpg"
    assert failing.json()["cloud_storage_id"] == manifest_task.data.cloud_storage_id
    assert failing.json()["deleted_frames"] == []

    put_all(bucket, {f"new/{name}": content for name, content in images.items()})
    passing = _relink(
        api, manifest_task, {"cloud_storage_id": storage.id, "prefix": "new/", "dry_run": True}
    )
    assert passing.json()["verification"]["ok"] is True
    assert (link_of(manifest_task), _paths(manifest_task), _evidence(manifest_task)) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content_sample": "some"}, "content_sample"),
        ({"content_sample": -1}, "content_sample"),
        ({"content_sample": True}, "content_sample"),
        ({"prefix_from": "a/"}, "prefix_from"),
    ],
)
def test_invalid_relink_options_are_refused(api, user, manifest_task, cvat_bucket, body, field):
    storage = storage_row(user, cvat_bucket.config)
    response = _relink(api, manifest_task, {"cloud_storage_id": storage.id, **body})
    assert response.status_code == 400, response.content
    assert field in response.json()["extra"]["fields"]


@pytest.mark.parametrize("name", ["prefix", "dry_run", "content_sample"])
def test_relink_options_need_a_storage(api, manifest_task, name):
    value = {"prefix": "x/", "dry_run": True, "content_sample": 3}[name]
    response = _relink(api, manifest_task, {"cloud_storage_id": None, name: value})
    assert response.status_code == 400, response.content
    assert response.json()["extra"]["fields"][name] == [
        f"{name} only applies to a relink: give a cloud_storage_id."
    ]
    assert link_of(manifest_task)[0] is not None


# --- fingerprints ------------------------------------------------------------------------------


def _listed_task(api, user, bucket: EmulatedBucket, drain, folder: str = "ds/") -> Task:
    storage = storage_row(user, bucket.config)
    task = make_task(user)
    request = create_data(
        api, task, {"cloud_storage_id": storage.id, "server_files": [folder]}, drain
    )
    assert request["status"] == "finished", request
    return Task.objects.select_related("data").get(pk=task.pk)


def _colored(count: int, folder: str = "ds/") -> dict[str, bytes]:
    return {f"{folder}img{i}.png": make_image(8, 6, "PNG", (i * 40, 10, 10)) for i in range(count)}


def test_a_task_from_a_listing_records_the_objects_evidence(api, user, cloud_bucket, drain):
    objects = _colored(3)
    put_all(cloud_bucket, objects)

    task = _listed_task(api, user, cloud_bucket, drain)

    rows = Image.objects.filter(data_id=task.data_id).values_list(
        "checksum", "object_size", "object_md5", "object_etag", "object_crc32c"
    )
    for (checksum, size, md5, etag, crc32c), content in zip(rows, objects.values(), strict=True):
        assert checksum == ""  # CVAT's pixel checksum is not an object's MD5: not known here
        assert size == len(content)
        assert md5 == hashlib.md5(content).hexdigest()
        assert etag
        is_gcs = cloud_bucket.config.provider_type == "GOOGLE_CLOUD_STORAGE"
        assert (len(crc32c) == 8) if is_gcs else (crc32c == "")


def test_a_multipart_etag_is_no_false_mismatch(api, user, s3_emulator, drain):
    objects = _colored(3)
    source = _bucket(s3_emulator, objects)
    task = _listed_task(api, user, source, drain)
    target = EmulatedBucket(s3_emulator, s3_emulator.create_bucket())
    for key, content in objects.items():  # the same bytes, ETag '<hex>-1': not an MD5
        s3_emulator.put_multipart(target.config, key, content)
    storage = storage_row(user, target.config)

    response = _relink(api, task, {"cloud_storage_id": storage.id})

    assert response.status_code == 200, response.content
    verification = response.json()["verification"]
    assert (verification["sizes_compared"], verification["fingerprints_compared"]) == (3, 0)
    assert verification["unverified"] == 3  # no pixel checksum: presence and size only


def test_other_bytes_of_the_same_size_are_refused_by_fingerprint(api, user, s3_emulator, drain):
    objects = _colored(3)
    task = _listed_task(api, user, _bucket(s3_emulator, objects), drain)
    keys = list(objects)
    swapped = {keys[0]: objects[keys[1]], keys[1]: objects[keys[0]], keys[2]: objects[keys[2]]}
    storage = storage_row(user, _bucket(s3_emulator, swapped).config)

    response = _relink(api, task, {"cloud_storage_id": storage.id, "content_sample": 0})

    assert response.status_code == 400
    assert response.json()["extra"]["mismatched"] == keys[:2]


def test_cloud_objects_round_trip_through_a_lightweight_backup(
    api, user, s3_emulator, drain, tmp_path
):
    objects = _colored(4)
    bucket = _bucket(s3_emulator, objects)
    task = _listed_task(api, user, bucket, drain)
    recorded = _evidence(task)
    path = tmp_path / "light.zip"
    with path.open("wb") as stream, ArchiveWriter(stream) as writer:
        backup_write_task(task=task, lightweight=True, writer=writer)

    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        lines = archive.read("cloud_objects.jsonl").decode().splitlines()
        checksums = archive.read("checksums.sha256").decode()
    assert [n for n in names if n.startswith("data/")] == ["data/manifest.jsonl"]
    assert "cloud_objects.jsonl" in checksums
    assert len(lines) == 4
    assert json.loads(lines[0])["key"] == "img0.png"  # relative, like the manifest

    restored = Task.objects.get(pk=backup_restore_task(owner=user, archive_path=path).obj.pk)
    assert _evidence(restored) == recorded
    storage = storage_row(user, bucket.config)
    Data.objects.filter(pk=restored.data_id).update(cloud_storage=None)
    response = _relink(api, restored, {"cloud_storage_id": storage.id})
    assert response.json()["verification"]["fingerprints_matched"] == 4


def test_a_lightweight_backup_without_evidence_has_no_cloud_objects_member(
    api, user, manifest_task, tmp_path
):
    buffer = io.BytesIO()
    with ArchiveWriter(buffer) as writer:
        backup_write_task(task=manifest_task, lightweight=True, writer=writer)
    with zipfile.ZipFile(buffer) as archive:
        assert "cloud_objects.jsonl" not in archive.namelist()
        manifest = archive.read("data/manifest.jsonl").decode()
    with (BUCKET / "manifest.jsonl").open() as original:
        assert manifest.splitlines()[2] == original.read().splitlines()[2]  # CVAT's checksum kept


def test_a_checksum_holding_the_files_md5_still_verifies_by_content(api, user, s3_emulator):
    """Lightweight backups of tasks made from a listing held the object's MD5 as the manifest
    checksum before; the content check accepts identical bytes too."""
    from tests.backup.relink_helpers import cloud_task, md5

    objects = _colored(3)
    task = cloud_task(user, objects, checksums=False)
    for key, content in objects.items():
        Image.objects.filter(data_id=task.data_id, path=key).update(checksum=md5(content))
    storage = storage_row(user, _bucket(s3_emulator, objects).config)

    response = _relink(api, task, {"cloud_storage_id": storage.id, "content_sample": "all"})

    assert response.status_code == 200, response.content
    assert response.json()["verification"]["content_matched"] == 3


def test_an_object_that_is_no_image_fails_the_content_check(api, user, s3_emulator, cvat_files):
    task = _restored_cvat_task(user)
    images = _images(cvat_files)
    bucket = _bucket(s3_emulator, {**images, "img_00002.jpg": b"not an image"})
    storage = storage_row(user, bucket.config)

    response = _relink(api, task, {"cloud_storage_id": storage.id, "content_sample": "all"})

    assert response.status_code == 400
    assert response.json()["extra"]["mismatched"] == ["img_00002.jpg"]
