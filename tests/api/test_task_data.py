"""Task data creation (contract 5.1, 5.2): POST /api/tasks/{id}/data and its create:task request."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.conf import settings

from cvat_lite.engine import frames
from cvat_lite.engine.frames import local_media_root
from cvat_lite.engine.models import Data, Image, Job, Segment, Task
from cvat_lite.engine.services import data as data_services
from cvat_lite.media.sources import CloudSource
from cvat_lite.requests.models import Request
from tests.api.media_helpers import (
    create_data,
    make_image,
    make_task,
    manifest_bytes,
    storage_row,
)

pytestmark = pytest.mark.django_db(transaction=True)

NOT_AN_IMAGE = b"these bytes are not an image"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _forbid_media_reads(monkeypatch, *, headers_allowed: bool = False) -> list[str]:
    """Make any download of a whole media object (and of a header, unless allowed) fail the
    test; returns the keys whose headers were read."""
    heads: list[str] = []

    def no_read(self, path):
        raise AssertionError(f"media object {path} was downloaded")

    real_head = CloudSource.read_head

    def head(self, path, length):
        if not headers_allowed:
            raise AssertionError(f"header of {path} was read")
        heads.append(path)
        return real_head(self, path, length)

    monkeypatch.setattr(CloudSource, "read", no_read)
    monkeypatch.setattr(CloudSource, "read_head", head)
    return heads


def _nothing_created(task: Task) -> None:
    task.refresh_from_db()
    assert task.data_id is None
    assert Data.objects.count() == 0
    assert Image.objects.count() == 0
    assert Segment.objects.filter(task=task).count() == 0
    assert not local_media_root(task.id).exists()


# --- cloud storage -----------------------------------------------------------------------------


def test_cloud_with_manifest_downloads_no_media(api, user, cloud_bucket, drain, monkeypatch):
    entries = [
        {"name": "img10", "extension": ".jpg", "width": 640, "height": 480},
        {"name": "img2", "extension": ".png", "width": 30, "height": 20, "checksum": "a" * 32},
        {"name": "sub/img1", "extension": ".jpg", "width": 7, "height": 9},
    ]
    cloud_bucket.put("set1/manifest.jsonl", manifest_bytes(entries))
    for entry in entries:  # not images at all: creation must not read them
        cloud_bucket.put(f"set1/{entry['name']}{entry['extension']}", NOT_AN_IMAGE)
    storage = storage_row(user, cloud_bucket.config)
    task = make_task(user)
    _forbid_media_reads(monkeypatch)

    request = create_data(
        api,
        task,
        {"server_files": ["set1/manifest.jsonl"], "cloud_storage_id": storage.id},
        drain,
    )

    assert request["status"] == "finished", request["message"]
    assert request["result_id"] == task.id
    assert request["operation"]["type"] == "create:task"
    task.refresh_from_db()
    data = task.data
    assert (data.storage, data.cloud_storage_id, data.size) == ("cloud_storage", storage.id, 3)
    assert data.cloud_prefix == "set1"
    assert data.chunk_size == data_services.DEFAULT_CHUNK_SIZE
    rows = list(data.images.values_list("frame", "path", "width", "height", "checksum"))
    assert rows == [
        (0, "set1/img10.jpg", 640, 480, ""),
        (1, "set1/img2.png", 30, 20, "a" * 32),
        (2, "set1/sub/img1.jpg", 7, 9, ""),
    ]
    assert Job.objects.filter(segment__task=task).count() == 1

    meta = api.get(f"/api/tasks/{task.id}/data/meta").json()
    assert meta["storage"] == "cloud_storage"
    assert meta["cloud_storage_id"] == storage.id
    assert [(f["name"], f["width"], f["height"]) for f in meta["frames"]] == [
        ("set1/img10.jpg", 640, 480),
        ("set1/img2.png", 30, 20),
        ("set1/sub/img1.jpg", 7, 9),
    ]


def test_cloud_without_manifest_reads_headers_only(api, user, cloud_bucket, drain, monkeypatch):
    big = make_image(1200, 900, "JPEG")  # well over the 64 KiB head? no matter: head only
    cloud_bucket.put("imgs/b.jpg", big)
    cloud_bucket.put("imgs/a.png", make_image(40, 30, "PNG"))
    cloud_bucket.put("imgs/notes.txt", b"skipped: not an image")
    cloud_bucket.put("imgs/related_images/a_png/ctx.jpg", make_image(5, 5))
    cloud_bucket.put("other/c.jpg", make_image(10, 10))
    storage = storage_row(user, cloud_bucket.config)
    task = make_task(user)
    heads = _forbid_media_reads(monkeypatch, headers_allowed=True)

    request = create_data(
        api, task, {"server_files": ["imgs/"], "cloud_storage_id": storage.id}, drain
    )

    assert request["status"] == "finished", request["message"]
    assert sorted(heads) == ["imgs/a.png", "imgs/b.jpg"]
    task.refresh_from_db()
    assert task.data.cloud_prefix == "imgs"
    assert list(task.data.images.values_list("path", "width", "height")) == [
        ("imgs/a.png", 40, 30),
        ("imgs/b.jpg", 1200, 900),
    ]


def test_cloud_explicit_keys_predefined_order(api, user, s3_bucket, s3_emulator, drain):
    for name, size in (("x/1.jpg", (11, 12)), ("x/2.jpg", (21, 22)), ("y/3.jpg", (31, 32))):
        s3_emulator.put(s3_bucket, name, make_image(*size))
    storage = storage_row(user, s3_bucket)
    task = make_task(user)

    request = create_data(
        api,
        task,
        {
            "server_files": ["y/3.jpg", "x/2.jpg", "x/1.jpg"],
            "cloud_storage_id": storage.id,
            "sorting_method": "predefined",
            "image_quality": 55,
            "chunk_size": 2,
        },
        drain,
    )

    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    assert list(task.data.images.values_list("path", flat=True)) == [
        "y/3.jpg",
        "x/2.jpg",
        "x/1.jpg",
    ]
    assert (task.data.image_quality, task.data.chunk_size, task.data.cloud_prefix) == (55, 2, "")


def test_storage_manifest_is_used_when_it_lists_the_keys(
    api, user, s3_bucket, s3_emulator, drain, monkeypatch
):
    entries = [{"name": n, "extension": ".jpg", "width": 3, "height": 4} for n in ("a", "b")]
    s3_emulator.put(s3_bucket, "d/index.jsonl", manifest_bytes(entries))
    s3_emulator.put(s3_bucket, "d/a.jpg", NOT_AN_IMAGE)
    s3_emulator.put(s3_bucket, "d/b.jpg", NOT_AN_IMAGE)
    storage = storage_row(user, s3_bucket, manifests=["d/index.jsonl"])
    task = make_task(user)
    _forbid_media_reads(monkeypatch)

    request = create_data(
        api, task, {"server_files": ["d/b.jpg"], "cloud_storage_id": storage.id}, drain
    )

    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    assert list(task.data.images.values_list("path", "width")) == [("d/b.jpg", 3)]


def test_frame_range_step_and_natural_sorting(api, user, s3_bucket, s3_emulator, drain):
    entries = [
        {"name": f"img{i}", "extension": ".jpg", "width": i + 1, "height": 1} for i in range(12)
    ]
    s3_emulator.put(s3_bucket, "manifest.jsonl", manifest_bytes(entries))
    storage = storage_row(user, s3_bucket)
    task = make_task(user, segment_size=2)

    request = create_data(
        api,
        task,
        {
            "server_files": ["manifest.jsonl"],
            "cloud_storage_id": storage.id,
            "sorting_method": "natural",
            "start_frame": 2,
            "stop_frame": 9,
            "frame_filter": "step=3",
        },
        drain,
    )

    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    data = task.data
    # all 12 media are the task's manifest; frames are positions 2, 5, 8
    assert data.images.count() == 12
    assert list(data.images.values_list("path", flat=True)[:3]) == [
        "img0.jpg",
        "img1.jpg",
        "img2.jpg",
    ]
    assert (data.size, data.start_frame, data.stop_frame, data.frame_filter) == (3, 2, 8, "step=3")
    meta = api.get(f"/api/tasks/{task.id}/data/meta/").json()
    assert [f["name"] for f in meta["frames"]] == ["img2.jpg", "img5.jpg", "img8.jpg"]
    assert (meta["size"], meta["start_frame"], meta["stop_frame"]) == (3, 2, 8)
    assert meta["frame_filter"] == "step=3"
    segments = list(Segment.objects.filter(task=task).values_list("start_frame", "stop_frame"))
    assert segments == [(0, 1), (2, 2)]


def test_lexicographical_and_random_sorting(api, user, s3_bucket, s3_emulator, drain):
    names = [f"img{i}" for i in (1, 10, 2)]
    entries = [{"name": n, "extension": ".jpg", "width": 1, "height": 1} for n in names]
    s3_emulator.put(s3_bucket, "m.jsonl", manifest_bytes(entries))
    storage = storage_row(user, s3_bucket)
    lexical, shuffled = make_task(user), make_task(user)
    body = {"server_files": ["m.jsonl"], "cloud_storage_id": storage.id}
    assert create_data(api, lexical, body, drain)["status"] == "finished"
    body["sorting_method"] = "random"
    assert create_data(api, shuffled, body, drain)["status"] == "finished"

    lexical.refresh_from_db()
    shuffled.refresh_from_db()
    paths = list(lexical.data.images.values_list("path", flat=True))
    assert paths == ["img1.jpg", "img10.jpg", "img2.jpg"]
    assert sorted(shuffled.data.images.values_list("path", flat=True)) == paths
    assert shuffled.data.sorting_method == "random"


# --- share and local ---------------------------------------------------------------------------


def test_share_files_are_read_in_place(api, user, drain):
    share = settings.SHARE_ROOT
    (share / "set" / "deep").mkdir(parents=True)
    (share / "set" / "b.jpg").write_bytes(make_image(8, 6))
    (share / "set" / "deep" / "a.png").write_bytes(make_image(4, 3, "PNG"))
    (share / "set" / "readme.txt").write_bytes(b"ignored")
    (share / "single.jpg").write_bytes(make_image(2, 2))
    task = make_task(user)

    request = create_data(api, task, {"server_files": ["/set", "single.jpg"]}, drain)

    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    assert task.data.storage == "share"
    assert list(task.data.images.values_list("path", "width", "height")) == [
        ("set/b.jpg", 8, 6),
        ("set/deep/a.png", 4, 3),
        ("single.jpg", 2, 2),
    ]
    assert not local_media_root(task.id).exists()  # nothing copied
    frame = api.get(f"/api/tasks/{task.id}/data?type=frame&number=2&quality=original")
    assert frame.content == (share / "single.jpg").read_bytes()


def test_share_copy_data_makes_a_local_task(api, user, drain):
    (settings.SHARE_ROOT / "a.jpg").write_bytes(make_image(5, 5))
    task = make_task(user)

    request = create_data(api, task, {"server_files": ["a.jpg"], "copy_data": True}, drain)

    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    assert task.data.storage == "local"
    assert (local_media_root(task.id) / "a.jpg").read_bytes() == (
        settings.SHARE_ROOT / "a.jpg"
    ).read_bytes()


def _upload(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_local_multipart_upload(api, user, drain):
    first, second = make_image(9, 7), make_image(3, 5, "PNG")
    task = make_task(user)

    response = api.post(
        f"/api/tasks/{task.id}/data",
        {
            "client_files[0]": _upload("z.jpg", first),
            "client_files[1]": _upload("a.png", second),
            "image_quality": "80",
            "sorting_method": "predefined",
        },
        format="multipart",
    )

    assert response.status_code == 202, response.content
    drain("create")
    request = api.get(f"/api/requests/{response.json()['rq_id']}").json()
    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    assert task.data.storage == "local"
    assert task.data.image_quality == 80
    assert list(task.data.images.values_list("path", "width", "height")) == [
        ("z.jpg", 9, 7),
        ("a.png", 3, 5),
    ]
    original = api.get(f"/api/tasks/{task.id}/data/?type=frame&number=1&quality=original")
    assert original.content == second


def test_local_upload_protocol_as_the_sdk_speaks_it(api, user, drain):
    task = make_task(user)
    url = f"/api/tasks/{task.id}/data/"
    images = {"b.jpg": make_image(4, 4), "a.jpg": make_image(6, 2), "c.jpg": make_image(1, 1)}

    assert api.post(url, HTTP_UPLOAD_START="").status_code == 202
    for batch in (["b.jpg", "a.jpg"], ["c.jpg"]):
        files = {f"client_files[{i}]": _upload(n, images[n]) for i, n in enumerate(batch)}
        response = api.post(
            url, {"image_quality": 70, **files}, format="multipart", HTTP_UPLOAD_MULTIPLE=""
        )
        assert response.status_code == 200, response.content
    response = api.post(
        url,
        {
            "image_quality": 70,
            "sorting_method": "predefined",
            "upload_file_order": ["c.jpg", "a.jpg", "b.jpg"],
        },
        format="json",
        HTTP_UPLOAD_FINISH="",
    )

    assert response.status_code == 202, response.content
    drain("create")
    request = api.get(f"/api/requests/{response.json()['rq_id']}").json()
    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    assert list(task.data.images.values_list("path", flat=True)) == ["c.jpg", "a.jpg", "b.jpg"]


# --- refusals before queueing ------------------------------------------------------------------


@pytest.fixture
def storage(user, s3_bucket):
    return storage_row(user, s3_bucket)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"server_files": ["a.jpg"], "storage": "cloud_storage"}, 400, "invalid"),
        ({"server_files": ["../a.jpg"], "cloud": True}, 400, "invalid_path"),
        ({"server_files": ["/abs.jpg"], "cloud": True}, 400, "invalid_path"),
        ({"server_files": ["a\\b.jpg"], "cloud": True}, 400, "invalid_path"),
        ({"server_files": ["a.jsonl", "b.jsonl"], "cloud": True}, 400, "too_many_manifests"),
        (
            {"server_files": ["a.jpg"], "cloud": True, "frame_filter": "every=2"},
            400,
            "invalid_frame_filter",
        ),
        ({"server_files": ["a.jpg"], "cloud": True, "sorting_method": "size"}, 400, "invalid"),
        (
            {"server_files": ["a.jpg"], "cloud": True, "start_frame": 5, "stop_frame": 2},
            400,
            "invalid_frame_range",
        ),
        ({"server_files": ["a.jpg"], "cloud": True, "image_quality": 0}, 400, "invalid"),
        (
            {"server_files": ["a.jpg"], "cloud": True, "remote_files": ["http://x/a.jpg"]},
            400,
            "invalid",
        ),
        ({"server_files": ["a.jpg"], "cloud_storage_id": 99999}, 400, "cloud_storage_not_found"),
        ({"server_files": ["missing.jpg"]}, 400, "share_file_not_found"),
        ({"server_files": ["../etc/passwd"]}, 400, "invalid_path"),
        ({}, 400, "no_media"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_created(api, user, storage, body, status, code):
    body = dict(body)
    if body.pop("cloud", False):
        body["cloud_storage_id"] = storage.id
    task = make_task(user)

    response = api.post(f"/api/tasks/{task.id}/data", body, format="json")

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    _nothing_created(task)
    assert Request.objects.count() == 0


def test_another_users_storage_and_task_are_refused(api, user, other_user, other_api, storage):
    mine = make_task(user)
    response = other_api.post(
        f"/api/tasks/{mine.id}/data", {"server_files": ["a.jpg"]}, format="json"
    )
    assert response.status_code == 404
    theirs = make_task(other_user)
    response = other_api.post(
        f"/api/tasks/{theirs.id}/data",
        {"server_files": ["a.jpg"], "cloud_storage_id": storage.id},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "cloud_storage_not_found"
    _nothing_created(theirs)


def test_mixed_sources_and_upload_leftovers_are_refused(api, user, storage):
    task = make_task(user)
    response = api.post(
        f"/api/tasks/{task.id}/data",
        {"client_files[0]": _upload("a.jpg", make_image(2, 2)), "server_files[0]": "b.jpg"},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "mixed_sources"
    _nothing_created(task)


def test_second_data_request_is_refused(api, user, storage, s3_emulator, s3_bucket, drain):
    s3_emulator.put(s3_bucket, "a.jpg", make_image(2, 2))
    task = make_task(user)
    body = {"server_files": ["a.jpg"], "cloud_storage_id": storage.id}
    first = api.post(f"/api/tasks/{task.id}/data", body, format="json")
    assert first.status_code == 202

    running = api.post(f"/api/tasks/{task.id}/data", body, format="json")
    assert running.status_code == 409
    assert running.json()["extra"]["rq_id"] == first.json()["rq_id"]

    drain("create")
    again = api.post(f"/api/tasks/{task.id}/data", body, format="json")
    assert again.status_code == 400
    assert again.json()["code"] == "task_has_data"
    assert api.post(f"/api/tasks/{task.id}/data", HTTP_UPLOAD_START="").status_code == 400


# --- failures in the worker --------------------------------------------------------------------


def _failed(request: dict, task: Task) -> str:
    assert request["status"] == "failed"
    assert request["result_id"] is None
    _nothing_created(task)
    return request["message"]


def test_manifest_with_a_bad_path_fails_the_request(
    api, user, storage, s3_emulator, s3_bucket, drain
):
    bad = [{"name": "../escape", "extension": ".jpg", "width": 1, "height": 1}]
    s3_emulator.put(s3_bucket, "manifest.jsonl", manifest_bytes(bad))
    task = make_task(user)

    request = create_data(
        api, task, {"server_files": ["manifest.jsonl"], "cloud_storage_id": storage.id}, drain
    )

    assert _failed(request, task) == (
        "Manifest line 3: the name '../escape' contains a '..' segment."
    )


@pytest.mark.parametrize(
    ("objects", "server_files", "message"),
    [
        ({}, ["nothing/"], "No images were found in the given files."),
        ({"a.jpg": NOT_AN_IMAGE}, ["a.jpg"], "'a.jpg' is not a supported image, or it is corrupt."),
        ({}, ["gone.jpg"], "The object 'gone.jpg' was not found in the cloud storage."),
        ({"doc.pdf": b"%PDF"}, ["doc.pdf"], None),
        (
            {"m.jsonl": manifest_bytes([])},
            ["m.jsonl", "x.jpg"],
            "The object 'x.jpg' is not listed in the manifest 'm.jsonl'.",
        ),
        (
            {"a.jpg": make_image(1, 1)},
            ["a.jpg"],
            "start_frame 3 is out of range: the task has 1 frames (0..0).",
        ),
    ],
)
def test_worker_failures_leave_nothing(
    api, user, storage, s3_emulator, s3_bucket, drain, objects, server_files, message
):
    for key, content in objects.items():
        s3_emulator.put(s3_bucket, key, content)
    task = make_task(user)
    body = {"server_files": server_files, "cloud_storage_id": storage.id}
    if message and message.startswith("start_frame"):
        body["start_frame"] = 3

    failure = _failed(create_data(api, task, body, drain), task)

    if message is None:
        assert failure.startswith("'doc.pdf' is not a supported image; supported extensions:")
    else:
        assert failure == message


def test_too_many_images_fails(api, user, storage, s3_emulator, s3_bucket, drain, settings):
    settings.MAX_TASK_IMAGES = 2
    entries = [{"name": f"{i}", "extension": ".jpg", "width": 1, "height": 1} for i in range(3)]
    s3_emulator.put(s3_bucket, "m.jsonl", manifest_bytes(entries))
    task = make_task(user)
    request = create_data(
        api, task, {"server_files": ["m.jsonl"], "cloud_storage_id": storage.id}, drain
    )
    assert _failed(request, task) == "The task would have 3 images; the limit is 2."


def test_more_jobs_than_a_restore_accepts_fails(
    api, user, storage, s3_emulator, s3_bucket, drain, settings
):
    """segment_size 1 on 3 images makes 3 jobs: past the import limit, the task would have a
    backup that cannot be restored."""
    settings.BACKUP_MAX_JOBS = 2
    entries = [{"name": f"{i}", "extension": ".jpg", "width": 1, "height": 1} for i in range(3)]
    s3_emulator.put(s3_bucket, "m.jsonl", manifest_bytes(entries))
    task = make_task(user, segment_size=1)
    request = create_data(
        api, task, {"server_files": ["m.jsonl"], "cloud_storage_id": storage.id}, drain
    )
    assert _failed(request, task) == (
        "The task would have 3 jobs; the limit is 2. Choose a larger segment_size."
    )


def test_failed_local_upload_leaves_no_file(api, user, drain):
    task = make_task(user)
    response = api.post(
        f"/api/tasks/{task.id}/data",
        {"client_files[0]": _upload("broken.jpg", NOT_AN_IMAGE)},
        format="multipart",
    )
    assert response.status_code == 202
    assert local_media_root(task.id).exists()
    drain("create")
    request = api.get(f"/api/requests/{response.json()['rq_id']}").json()
    assert _failed(request, task) == "'broken.jpg' is not a supported image, or it is corrupt."


def test_chunk_zip_of_a_created_task(api, user, storage, s3_emulator, s3_bucket, drain):
    contents = {f"f{i}.png": make_image(i + 1, 2, "PNG") for i in range(3)}
    for key, content in contents.items():
        s3_emulator.put(s3_bucket, key, content)
    task = make_task(user)
    body = {"server_files": list(contents), "cloud_storage_id": storage.id, "chunk_size": 2}
    assert create_data(api, task, body, drain)["status"] == "finished"

    response = api.get(f"/api/tasks/{task.id}/data?type=chunk&number=1&quality=original")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.namelist() == ["000000.png"]
        assert archive.read("000000.png") == contents["f2.png"]
    assert frames.chunk_count(Task.objects.get(pk=task.id).data) == 2


# --- the official SDK against a live server (contract 10) --------------------------------------


def test_sdk_local_and_share_uploads_and_media(live_server, background_worker, user, tmp_path):
    from cvat_sdk import make_client
    from cvat_sdk.core.proxies.tasks import ResourceType

    from tests.conftest import PASSWORD

    files = []
    for name, size in (("b.jpg", (7, 5)), ("a.png", (3, 2))):
        path = tmp_path / name
        path.write_bytes(make_image(*size, "PNG" if name.endswith(".png") else "JPEG"))
        files.append(path)
    (settings.SHARE_ROOT / "s").mkdir()
    (settings.SHARE_ROOT / "s" / "x.jpg").write_bytes(make_image(4, 4))

    with make_client(live_server.url, credentials=(user.username, PASSWORD)) as client:
        client.config.status_check_period = 0.1
        local = client.tasks.create_from_data(
            {"name": "local", "labels": [{"name": "car"}]},
            resources=files,
            resource_type=ResourceType.LOCAL,
            data_params={"sorting_method": "predefined", "chunk_size": 1},
        )
        meta = local.get_meta()
        assert [(f.name, f.width, f.height) for f in meta.frames] == [
            ("b.jpg", 7, 5),
            ("a.png", 3, 2),
        ]
        assert meta.storage == "local"
        assert local.get_frame(1, quality="original").read() == files[1].read_bytes()
        chunk = io.BytesIO()
        local.download_chunk(0, chunk, quality="original")
        assert zipfile.ZipFile(chunk).read("000000.jpg") == files[0].read_bytes()
        assert local.get_preview().read()[:2] == b"\xff\xd8"
        local.remove_frames_by_ids([1])
        assert local.get_meta().deleted_frames == [1]

        shared = client.tasks.create_from_data(
            {"name": "share", "labels": [{"name": "car"}]},
            resources=["s/"],
            resource_type=ResourceType.SHARE,
        )
        assert shared.get_meta().storage == "share"
        assert shared.get_frames_info()[0].name == "s/x.jpg"
        job = shared.get_jobs()[0]
        assert (
            job.get_frame(0, quality="original").read()
            == (settings.SHARE_ROOT / "s" / "x.jpg").read_bytes()
        )
        assert job.get_meta().size == 1
        client.api_client.rest_client.pool_manager.connection_from_url(live_server.url).close()


def test_tus_uploads_are_refused_and_empty_upload_folders_removed(api, user, storage):
    task = make_task(user)
    url = f"/api/tasks/{task.id}/data/"
    tus = api.post(url, HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_LENGTH="200000000")
    assert tus.status_code == 400
    assert tus.json()["code"] == "tus_not_supported"

    assert api.post(url, HTTP_UPLOAD_START="").status_code == 202
    assert local_media_root(task.id).is_dir()
    finish = api.post(
        url,
        {"server_files": ["a.jpg"], "cloud_storage_id": storage.id},
        format="json",
        HTTP_UPLOAD_FINISH="",
    )
    assert finish.status_code == 202
    assert not local_media_root(task.id).exists()
