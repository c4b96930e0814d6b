"""TUS uploads with an object store as the shared store: the chunks are objects, a finished
upload is its parts (``cvat_lite.uploads.parts``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cvat_lite.store import ObjectStore
from cvat_lite.uploads import services
from cvat_lite.uploads.models import Upload
from cvat_lite.uploads.sources import StoredParts
from tests.uploads.tus import tus_create, tus_finish, tus_patch

pytestmark = [pytest.mark.urls("tests.uploads.urls"), pytest.mark.django_db]

DATA = bytes(range(256)) * 40


def _keys(store: ObjectStore, prefix: str = "uploads/") -> list[str]:
    return sorted(key for key, _ in store.list(prefix))


def test_chunks_become_parts_and_a_finished_upload_is_its_parts(api, received, object_store):
    created = tus_create(api, len(DATA))
    assert created.status_code == 201
    location = created["Location"]
    for offset in range(0, len(DATA), 4000):
        answer = tus_patch(api, location, offset, DATA[offset : offset + 4000])
        assert answer.status_code == 204, answer.content
    assert api.head(location, HTTP_TUS_RESUMABLE="1.0.0")["Upload-Offset"] == str(len(DATA))
    stale = tus_patch(api, location, 0, DATA[:10])
    assert stale.status_code == 409 and stale["Upload-Offset"] == str(len(DATA))
    upload_id = location.rstrip("/").rsplit("/", 1)[1]
    assert len(_keys(object_store, f"uploads/{upload_id}/")) == 3

    finished = tus_finish(api, created["Upload-Filename"])
    assert finished.status_code == 202, finished.content
    [source] = received
    assert isinstance(source, StoredParts) and source.prefix == f"uploads/{upload_id}/"
    assert b"".join(object_store.read_head(k, 4000) for k in _keys(object_store)) == DATA
    assert not Upload.objects.exists()


def test_abandoned_uploads_are_removed_from_the_store(api, object_store):
    created = tus_create(api, len(DATA))
    tus_patch(api, created["Location"], 0, DATA[:100])
    assert _keys(object_store) != []
    assert services.uploads_expire(older_than=timedelta(seconds=3600)) == 0
    assert services.uploads_expire(older_than=timedelta(seconds=-5)) == 1
    assert _keys(object_store) == [] and not Upload.objects.exists()
