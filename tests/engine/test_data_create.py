"""The data creation service (``cvat_lite.engine.services.data``), run in-process."""

from __future__ import annotations

import dataclasses
import io

import pytest
from django.conf import settings
from PIL import Image as PILImage

from cvat_lite import errors
from cvat_lite.engine.frames import local_media_root
from cvat_lite.engine.models import Data, Image, Segment, StorageChoice
from cvat_lite.engine.services.data import (
    HEADER_READS,
    MSG_STORAGE_GONE,
    MSG_TASK_GONE,
    DataOptions,
    task_data_create_job,
)
from cvat_lite.media.sources import DirectorySource
from tests.api.media_helpers import make_image, make_task, storage_row

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _run(task_id: int, storage: str = StorageChoice.SHARE, **options):
    progress: list[float] = []
    result = task_data_create_job(
        progress=progress.append,
        task_id=task_id,
        storage=storage,
        options=dataclasses.asdict(DataOptions(**options)),
    )
    return result, progress


def _share(name: str, content: bytes) -> None:
    path = settings.SHARE_ROOT / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def test_a_jpeg_with_a_long_header_is_read_in_steps(user, monkeypatch):
    buffer = io.BytesIO()  # a 100 KB ICC profile before the frame header
    PILImage.new("RGB", (33, 22)).save(buffer, "JPEG", icc_profile=b"\0" * 100_000)
    assert len(buffer.getvalue()) > HEADER_READS[0]
    _share("big.jpg", buffer.getvalue())
    heads: list[int] = []
    real_head = DirectorySource.read_head

    def counting_head(self, path, length):
        heads.append(length)
        return real_head(self, path, length)

    def no_full_read(self, path):
        raise AssertionError("the whole file was read")

    monkeypatch.setattr(DirectorySource, "read_head", counting_head)
    monkeypatch.setattr(DirectorySource, "read", no_full_read)
    task = make_task(user)

    result, _ = _run(task.id, server_files=["big.jpg"])

    assert result.result_id == task.id
    assert heads == list(HEADER_READS)
    assert list(Image.objects.values_list("width", "height")) == [(33, 22)]


def test_progress_filters_and_frame_range(user):
    for name in ("a/1.jpg", "a/2.jpg", "a/skip/3.jpg", "a/4.png", "a/5.jpg"):
        _share(name, make_image(2, 2, "PNG" if name.endswith(".png") else "JPEG"))
    task = make_task(user)

    result, progress = _run(
        task.id,
        server_files=["a/"],
        filename_pattern="*.jpg",
        server_files_exclude=["a/skip/", "a/5.jpg"],
        start_frame=1,
        stop_frame=None,
    )

    task.refresh_from_db()
    assert list(task.data.images.values_list("path", flat=True)) == ["a/1.jpg", "a/2.jpg"]
    assert (task.data.size, task.data.start_frame, task.data.stop_frame) == (1, 1, 1)
    assert result.message == "The task data were created: 1 frames."
    assert progress == sorted(progress)
    assert all(0 <= value <= 1 for value in progress)


def test_a_task_deleted_before_the_job_runs(user):
    _share("a.jpg", make_image(2, 2))
    task = make_task(user)
    task_id = task.id
    task.delete()
    with pytest.raises(errors.BadRequest) as raised:
        _run(task_id, server_files=["a.jpg"])
    assert raised.value.message == MSG_TASK_GONE
    assert Data.objects.count() == 0


def test_a_storage_deleted_before_the_job_runs(user, tmp_path):
    from cvat_lite.cloud.base import CredentialsType, ProviderType, StorageConfig

    config = StorageConfig(
        ProviderType.AWS_S3_BUCKET, "b", CredentialsType.ANONYMOUS_ACCESS, attributes={}
    )
    storage = storage_row(user, config)
    storage_id = storage.id
    storage.delete()
    task = make_task(user)
    with pytest.raises(errors.BadRequest) as raised:
        _run(
            task.id,
            StorageChoice.CLOUD_STORAGE,
            server_files=["a.jpg"],
            cloud_storage_id=storage_id,
        )
    assert raised.value.message == MSG_STORAGE_GONE


def test_a_failure_while_saving_leaves_no_row_and_no_file(user):
    """Everything is written in one transaction: here the jobs cannot be created."""
    task = make_task(user)
    Segment.objects.create(task=task, start_frame=0, stop_frame=0)
    root = local_media_root(task.id)
    root.mkdir(parents=True)
    (root / "a.jpg").write_bytes(make_image(3, 3))

    with pytest.raises(errors.Conflict):
        _run(task.id, StorageChoice.LOCAL, server_files=["a.jpg"])

    task.refresh_from_db()
    assert task.data_id is None
    assert (Data.objects.count(), Image.objects.count()) == (0, 0)
    assert not root.exists()


def test_a_share_symlink_out_of_the_share_is_not_followed(user, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(make_image(2, 2))
    (settings.SHARE_ROOT / "dir").mkdir()
    (settings.SHARE_ROOT / "dir" / "ok.jpg").write_bytes(make_image(2, 2))
    (settings.SHARE_ROOT / "dir" / "link.jpg").symlink_to(outside / "secret.jpg")
    task = make_task(user)

    _run(task.id, server_files=["dir/"])

    assert list(Image.objects.values_list("path", flat=True)) == ["dir/ok.jpg"]
