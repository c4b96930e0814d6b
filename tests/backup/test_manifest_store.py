"""The backup manifest kept deflated since the rows were written (``manifest_store``): an export
copies it, and the archive is the same as one whose manifest is rendered from the rows."""

from __future__ import annotations

import io
import zipfile
import zlib

import pytest

from cvat_lite.backup.archive import ArchiveWriter
from cvat_lite.engine.manifest_store import forget, stored_manifest
from cvat_lite.engine.models import Image, Task
from tests.api.backup_import_helpers import finished, run_import
from tests.api.media_helpers import create_data, manifest_bytes, storage_row
from tests.backup.export_helpers import make_cloud_task, make_labelled_task
from tests.fixtures.emulators import EmulatedBucket
from tests.interop.cvat_rules import cvat_import_problems

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def s3_cloud(s3_emulator, s3_bucket) -> EmulatedBucket:
    return EmulatedBucket(s3_emulator, s3_bucket)


def _export(api, task_id: int, drain) -> bytes:
    response = api.post(f"/api/tasks/{task_id}/backup/export?lightweight=true")
    assert response.status_code == 202, response.content
    drain("export")
    request = api.get(f"/api/requests/{response.json()['rq_id']}").json()
    assert request["status"] == "finished", request["message"]
    return b"".join(api.get(request["result_url"]).streaming_content)


def _members(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None  # every member's CRC checks
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _same_archive(copied: bytes, rendered: bytes) -> None:
    """Equal but for task.json's and annotations.json's own content (unchanged here)."""
    assert _members(copied) == _members(rendered)


def test_created_task_exports_the_recorded_manifest(api, user, s3_cloud, drain, tmp_path):
    cloud = make_cloud_task(api, user, s3_cloud, drain)
    data = cloud.task.data
    stored = stored_manifest(data)
    assert stored is not None

    copied = _export(api, cloud.task.id, drain)
    forget(data.id)
    assert stored_manifest(data) is None
    rendered = _export(api, cloud.task.id, drain)

    _same_archive(copied, rendered)
    path = tmp_path / "copied.zip"
    path.write_bytes(copied)
    assert cvat_import_problems(path) == []


def test_restored_task_exports_the_recorded_manifest(api, user, s3_cloud, drain, tmp_path):
    cloud = make_cloud_task(api, user, s3_cloud, drain)
    path = tmp_path / "light.zip"
    path.write_bytes(_export(api, cloud.task.id, drain))
    restored = Task.objects.get(pk=finished(run_import(api, path, drain)))
    assert stored_manifest(restored.data) is not None

    copied = _export(api, restored.id, drain)
    forget(restored.data.id)
    _same_archive(copied, _export(api, restored.id, drain))


def test_a_saved_row_or_a_moved_date_is_not_copied(api, user, s3_cloud, drain):
    cloud = make_cloud_task(api, user, s3_cloud, drain)
    data = cloud.task.data
    image = Image.objects.filter(data=data).order_by("frame").first()
    image.checksum = "f" * 32
    image.save(update_fields=["checksum"])
    assert stored_manifest(data) is None
    assert (
        b'"checksum":"' + b"f" * 32
        in _members(_export(api, cloud.task.id, drain))["data/manifest.jsonl"]
    )

    cloud = make_cloud_task(api, user, s3_cloud, drain)
    data = cloud.task.data
    assert stored_manifest(data) is not None
    data.chunks_updated_date = data.chunks_updated_date.replace(year=2030)
    data.save(update_fields=["chunks_updated_date"])
    assert stored_manifest(data) is None


def test_a_deleted_task_leaves_no_recorded_manifest(api, user, s3_cloud, drain, settings):
    cloud = make_cloud_task(api, user, s3_cloud, drain)
    folder = settings.DATA_DIR / "manifests"
    assert sorted(p.suffix for p in folder.iterdir()) == [".deflate", ".json"]
    cloud.task.data.delete()
    assert list(folder.iterdir()) == []


class _Pipe(io.RawIOBase):
    """An output stream that cannot seek (a socket, an upload)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        return len(data)


@pytest.mark.parametrize("seekable", [True, False])
def test_a_deflated_member_is_copied_into_any_stream(seekable):
    import hashlib

    content = b"".join(b'{"name":"img_%06d","extension":".jpg"}\n' % i for i in range(5000))
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = deflate.compress(content) + deflate.flush()
    out = io.BytesIO() if seekable else _Pipe()
    with ArchiveWriter(out) as writer:
        writer.add_bytes("task.json", b"{}")
        digest = writer.add_deflated(
            "data/manifest.jsonl", io.BytesIO(packed), crc=zlib.crc32(content),
            size=len(content), compress_size=len(packed),
            sha256=hashlib.sha256(content).hexdigest(),
        )  # fmt: skip
        writer.add_bytes("annotations.json", b"[]")
    raw = out.getvalue() if seekable else bytes(out.buffer)
    members = _members(raw)
    assert members["data/manifest.jsonl"] == content
    assert members["task.json"] == b"{}" and members["annotations.json"] == b"[]"
    assert f"{digest}  data/manifest.jsonl" in members["checksums.sha256"].decode()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        info = archive.getinfo("data/manifest.jsonl")
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.compress_size == len(packed)


# Entries whose names split differently from the manifest's name + extension (the recorded line
# splits the object key, as an export of the rows does), in a folder or at the bucket's root.
TRICKY_ENTRIES = [  # in key order: the task is created in one pass
    {"name": "x/.hidden", "extension": ".png", "width": 2, "height": 3},
    {"name": "x/img.v2", "extension": ".jpg", "width": 2, "height": 3},
    {"name": "x/plain.JPG", "extension": "", "width": 2, "height": 3},
    {
        "name": 'x/ünï "q"',
        "extension": ".jpeg",
        "width": 2,
        "height": 3,
        "meta": {"related_images": ["ctx/ä.jpg"]},
        "checksum": "0123456789ABCDEF0123456789abcdef",
    },
]


@pytest.mark.parametrize("folder", ["", "deep/er/"])
def test_recorded_names_split_as_an_export_splits_them(api, user, s3_cloud, drain, folder):
    s3_cloud.put(f"{folder}manifest.jsonl", manifest_bytes(TRICKY_ENTRIES))
    storage = storage_row(user, s3_cloud.config)
    task = make_labelled_task(api)
    body = {"server_files": [f"{folder}manifest.jsonl"], "cloud_storage_id": storage.id}
    request = create_data(api, task, body, drain)
    assert request["status"] == "finished", request["message"]
    task.refresh_from_db()
    assert stored_manifest(task.data) is not None

    copied = _export(api, task.id, drain)
    forget(task.data.id)
    rendered = _export(api, task.id, drain)

    _same_archive(copied, rendered)
    manifest = _members(copied)["data/manifest.jsonl"].decode()
    assert '{"name":"x/plain","extension":".JPG","width":2,"height":3}' in manifest
