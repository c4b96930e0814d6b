"""contract 7.5 / 10: the unmodified cvat-sdk relinks a cloud task with
``tasks_api.partial_update_data_meta(id, patched_data_meta_write_request={"cloud_storage_id": N})``
against a live server."""

from __future__ import annotations

import pytest
from cvat_sdk.api_client.exceptions import ApiException
from django.contrib.auth import get_user_model

from tests.api.media_helpers import storage_row
from tests.backup.relink_helpers import bucket_storage, cloud_task, link_of
from tests.compat.conftest import jpeg
from tests.fixtures.emulators import EmulatedBucket

pytestmark = pytest.mark.django_db(transaction=True)


def test_sdk_relinks_an_unlinked_task(live, s3_emulator, s3_bucket):
    owner = get_user_model().objects.get(username=live.username)
    objects = {f"set/img{i}.jpg": jpeg(20 + i, 10 + i) for i in range(3)}
    bucket = EmulatedBucket(s3_emulator, s3_bucket)
    storage = bucket_storage(owner, bucket, objects)
    empty = storage_row(owner, s3_emulator.create_bucket())
    task = cloud_task(owner, objects)  # unlinked, as restored from a lightweight backup

    with live.client(credentials=(live.username, live.password)) as client:
        tasks_api = client.api_client.tasks_api
        with pytest.raises(ApiException) as refused:
            tasks_api.partial_update_data_meta(
                task.id, patched_data_meta_write_request={"cloud_storage_id": empty.id}
            )
        assert refused.value.status == 400
        assert link_of(task)[0] is None

        meta, response = tasks_api.partial_update_data_meta(
            task.id, patched_data_meta_write_request={"cloud_storage_id": storage.id}
        )
        assert response.status == 200
        assert meta["cloud_storage_id"] == storage.id
        assert [frame.name for frame in meta.frames] == list(objects)

        sdk_task = client.tasks.retrieve(task.id)
        assert sdk_task.get_meta()["cloud_storage_id"] == storage.id
        for number, key in enumerate(objects):
            assert sdk_task.get_frame(number, quality="original").read() == objects[key]

        meta, _ = tasks_api.partial_update_data_meta(
            task.id, patched_data_meta_write_request={"cloud_storage_id": None}
        )
        assert meta["cloud_storage_id"] is None
    assert link_of(task)[0] is None
