"""Bounds on unfinished TUS uploads, and their cleanup.

Before, one user could declare 100 uploads of 4 GiB on a disk with 72 GiB free and get 201
for each. Now a TUS create passes a per-user bound on declared bytes and on the number of
unfinished uploads (413), a bound on everyone's declared bytes (507), and the free space of
the data disk (507, also for each chunk). The disk is the real one: the reserve is set above
or below its real free space, as read here.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from cvat_lite.uploads import services
from cvat_lite.uploads.models import Upload
from tests.uploads.tus import tus_create, tus_patch, uploads_area

pytestmark = [pytest.mark.urls("tests.uploads.urls"), pytest.mark.django_db]

KIB = 1024


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code, body
    return body


def _created(api, length: int) -> str:
    response = tus_create(api, length)
    assert response.status_code == 201, response.content
    return response["Location"]


def _free() -> int:
    root = Path(django_settings.DATA_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(root).free


def test_a_users_declared_bytes_are_bounded(api, other_api, settings):
    settings.UPLOAD_USER_QUOTA = 10 * KIB
    _created(api, 6 * KIB)
    _created(api, 4 * KIB)
    body = _error(tus_create(api, 1), 413, "upload_quota_exceeded")
    assert body["message"] == services.MSG_USER_QUOTA.format(
        total=10 * KIB + 1, limit=10 * KIB, ttl=settings.UPLOAD_TTL
    )
    assert body["extra"] == {"limit": 10 * KIB, "declared": 10 * KIB}
    assert Upload.objects.count() == 2
    assert len(uploads_area()) == 2
    _created(other_api, 10 * KIB)  # the bound is per user


def test_a_users_count_of_unfinished_uploads_is_bounded(api, other_api, settings):
    settings.UPLOAD_USER_MAX_PENDING = 3
    for _ in range(3):
        _created(api, 0)
    body = _error(tus_create(api, 0), 413, "upload_quota_exceeded")
    assert body["message"] == services.MSG_USER_PENDING.format(count=3, ttl=settings.UPLOAD_TTL)
    assert Upload.objects.count() == 3
    _created(other_api, 0)


def test_a_finished_upload_frees_its_share(api, settings, received):
    settings.UPLOAD_USER_QUOTA = 10 * KIB
    location = _created(api, 10 * KIB)
    _error(tus_create(api, 1), 413, "upload_quota_exceeded")
    assert tus_patch(api, location, 0, b"x" * 10 * KIB).status_code == 204
    filename = Upload.objects.get().filename
    finished = api.post(f"/api/tasks/backup/?filename={filename}", HTTP_UPLOAD_FINISH="")
    assert finished.status_code == 202, finished.content
    _created(api, 10 * KIB)


def test_everyones_declared_bytes_are_bounded(api, other_api, settings):
    settings.UPLOAD_TOTAL_QUOTA = 10 * KIB
    _created(api, 7 * KIB)
    body = _error(tus_create(other_api, 4 * KIB), 507, "upload_space_full")
    assert body["message"] == services.MSG_TOTAL_QUOTA.format(total=11 * KIB, limit=10 * KIB)
    assert Upload.objects.count() == 1
    _created(other_api, 3 * KIB)


def test_the_reported_case_100_uploads_of_4_gib(api, settings):
    """The defaults refuse the report's 100 uploads of 4 GiB from one user at the third upload (the
    per-user bound is two uploads of the maximum size), whatever the disk."""
    settings.UPLOAD_DISK_RESERVE = -(10**15)  # judge the quotas alone, not this machine's disk
    statuses = [tus_create(api, 4 * 1024**3).status_code for _ in range(100)]
    assert statuses[:2] == [201, 201]
    assert set(statuses[2:]) == {413}
    assert Upload.objects.count() == 2


def test_a_create_must_leave_the_disk_reserve(api, settings):
    free = _free()
    settings.UPLOAD_DISK_RESERVE = free + 1024**3  # above what is free now
    body = _error(tus_create(api, 1), 507, "insufficient_storage")
    assert body["message"].startswith("The server's disk does not have room for this upload")
    assert not Upload.objects.exists()
    assert uploads_area() == []


def test_a_create_counts_what_other_uploads_will_still_write(api, other_api, settings):
    """The disk must hold every declared upload once complete: bytes not yet received count."""
    settings.UPLOAD_TOTAL_QUOTA = settings.UPLOAD_USER_QUOTA = settings.MAX_UPLOAD_SIZE = 10**15
    free = _free()
    reserve = free // 2
    settings.UPLOAD_DISK_RESERVE = reserve
    room = free - reserve
    _created(api, room // 2)  # fits: half the room, nothing written yet
    _error(tus_create(other_api, room // 2 + room // 4), 507, "insufficient_storage")
    assert Upload.objects.count() == 1


def test_a_chunk_must_leave_the_disk_reserve(api, settings):
    location = _created(api, 10)
    settings.UPLOAD_DISK_RESERVE = _free() + 1024**3
    body = _error(tus_patch(api, location, 0, b"0123456789"), 507, "insufficient_storage")
    assert body["extra"]["free"] > 0
    assert os.path.getsize(uploads_area()[0]) == 0  # nothing written


def test_cleanup_uploads_removes_abandoned_ones(api, settings):
    settings.UPLOAD_TTL = 3600
    old, fresh = _created(api, 10), _created(api, 10)
    old_upload = Upload.objects.get(pk=old.rsplit("/", 1)[1])
    aged = time.time() - 2 * 3600
    Upload.objects.filter(pk=old_upload.pk).update(
        created_date=old_upload.created_date - timedelta(hours=2)
    )
    path = Path(django_settings.DATA_DIR) / "uploads" / str(old_upload.pk)
    os.utime(path, (aged, aged))

    out = io.StringIO()
    call_command("cleanup_uploads", stdout=out)
    assert out.getvalue().strip() == "Removed 1 abandoned upload(s)."
    assert [str(u.pk) for u in Upload.objects.all()] == [fresh.rsplit("/", 1)[1]]
    assert not path.exists()
