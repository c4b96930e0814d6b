"""Upload services that have no HTTP form: names, expiry of abandoned uploads."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

import pytest

from cvat_lite import errors
from cvat_lite.uploads import services
from cvat_lite.uploads.models import Upload
from cvat_lite.uploads.selectors import upload_path, uploads_dir
from tests.uploads.tus import uploads_area

pytestmark = pytest.mark.django_db

DAY = 24 * 3600


def _upload(user, length: int = 10, data: bytes = b"") -> Upload:
    upload = services.upload_create(
        owner=user, endpoint="test", length=length, original_name="b.zip"
    )
    if data:
        services.upload_append(
            upload=upload, offset=0, stream=_Stream(data), content_length=len(data)
        )
    return upload


class _Stream:
    def __init__(self, data: bytes):
        self.data = data

    def read(self, size: int = -1) -> bytes:
        piece, self.data = self.data[:size], self.data[size:]
        return piece


def _age(upload: Upload, seconds: int) -> None:
    Upload.objects.filter(pk=upload.pk).update(
        created_date=upload.created_date - timedelta(seconds=seconds)
    )
    then = time.time() - seconds
    os.utime(upload_path(upload), (then, then))


def test_expire_removes_abandoned_uploads_and_their_files(user):
    old, fresh = _upload(user, data=b"abc"), _upload(user)
    _age(old, 2 * DAY)
    assert services.uploads_expire(older_than=timedelta(days=1)) == 1
    assert list(Upload.objects.all()) == [fresh]
    assert uploads_area() == [upload_path(fresh)]


def test_expire_everything(user):
    _upload(user, data=b"abc")
    assert services.uploads_expire(older_than=timedelta(0)) == 1
    assert not Upload.objects.exists()
    assert uploads_area() == []


def test_expire_keeps_an_old_upload_that_is_still_written(user):
    upload = _upload(user, length=100, data=b"abc")
    _age(upload, 2 * DAY)
    os.utime(upload_path(upload))  # a chunk just arrived
    assert services.uploads_expire(older_than=timedelta(days=1)) == 0
    assert Upload.objects.count() == 1


def test_expire_removes_rows_without_files_and_files_without_rows(user):
    lost = _upload(user)
    upload_path(lost).unlink()
    Upload.objects.filter(pk=lost.pk).update(created_date=lost.created_date - timedelta(days=2))
    orphan = uploads_dir() / str(uuid.uuid4())
    orphan.write_bytes(b"left by a crash")
    os.utime(orphan, (time.time() - 2 * DAY,) * 2)
    assert services.uploads_expire(older_than=timedelta(days=1)) == 1
    assert not Upload.objects.exists()
    assert uploads_area() == []


def test_create_expires_abandoned_uploads(user, settings):
    old = _upload(user)
    _age(old, 2 * DAY)
    settings.UPLOAD_TTL = DAY
    new = _upload(user)
    assert list(Upload.objects.all()) == [new]


def test_create_over_the_limit_saves_nothing(user, settings):
    settings.MAX_UPLOAD_SIZE = 5
    with pytest.raises(errors.TooLarge):
        _upload(user, length=6)
    assert not Upload.objects.exists()
    assert uploads_area() == []


def test_append_keeps_what_arrived_when_the_stream_ends_early(user):
    upload = _upload(user, length=10)
    offset = services.upload_append(
        upload=upload, offset=0, stream=_Stream(b"abcd"), content_length=10
    )
    assert offset == 4
    assert upload_path(upload).read_bytes() == b"abcd"


def test_append_copies_in_bounded_pieces(user, monkeypatch):
    reads: list[int] = []

    class Recording(_Stream):
        def read(self, size: int = -1) -> bytes:
            reads.append(size)
            return super().read(size)

    monkeypatch.setattr(services, "PIECE_SIZE", 4)
    upload = _upload(user, length=10)
    services.upload_append(
        upload=upload, offset=0, stream=Recording(b"0123456789"), content_length=10
    )
    assert reads == [4, 4, 2]
    assert upload_path(upload).read_bytes() == b"0123456789"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("backup.zip", "backup.zip"),
        ("a/b\\c.zip", "c.zip"),
        ("..", "upload"),
        (".hidden.zip", "hidden.zip"),
        ("", "upload"),
        ("tâche ü.zip", "t_che _.zip"),
        ("x" * 300 + ".zip", "x" * 251 + ".zip"),
    ],
)
def test_safe_filename(name, safe):
    assert services.safe_filename(name) == safe
