"""contract 10: the unmodified cvat-sdk drives a cloud-storage task end to end."""

from __future__ import annotations

import io
import zipfile

import pytest
from cvat_sdk.api_client import models
from cvat_sdk.core.proxies.tasks import ResourceType
from PIL import Image

from tests.compat.conftest import put_images_with_manifest

pytestmark = pytest.mark.django_db(transaction=True)


def _create_storage(client, emulator, config) -> int:
    storage, _ = client.api_client.cloudstorages_api.create(
        models.CloudStorageWriteRequest(
            provider_type=models.ProviderTypeEnum("AWS_S3_BUCKET"),
            resource=config.resource,
            display_name="bucket",
            credentials_type=models.CredentialsTypeEnum("KEY_SECRET_KEY_PAIR"),
            key=config.credentials.key,
            secret_key=config.credentials.secret_key,
            specific_attributes=f"endpoint_url={emulator.endpoint_url}&region=us-east-1",
        )
    )
    return storage.id


def test_password_login_cloud_task_frames_chunk_preview(live, s3_emulator, s3_bucket):
    objects = put_images_with_manifest(s3_emulator, s3_bucket, "set1/", 5)
    with live.client(credentials=(live.username, live.password)) as client:
        storage_id = _create_storage(client, s3_emulator, s3_bucket)
        task = client.tasks.create_from_data(
            spec={"name": "sdk task", "labels": [{"name": "car"}], "segment_size": 3},
            resource_type=ResourceType.SHARE,
            resources=["set1/manifest.jsonl"],
            data_params={"cloud_storage_id": storage_id, "chunk_size": 2},
        )
        assert task.size == 5

        meta = task.get_meta()
        assert meta.size == 5
        assert meta.chunk_size == 2
        assert [f.name for f in meta.frames] == [f"set1/img{i}.jpg" for i in range(5)]
        assert [(f.width, f.height) for f in meta.frames] == [(40 + i, 30 + i) for i in range(5)]
        assert meta["storage"] == "cloud_storage"
        assert meta["cloud_storage_id"] == storage_id

        for i in range(5):
            assert task.get_frame(i, quality="original").read() == objects[f"set1/img{i}.jpg"]
        compressed = Image.open(task.get_frame(1, quality="compressed"))
        assert compressed.format == "JPEG"
        assert compressed.size == (41, 31)

        chunk = io.BytesIO()
        task.download_chunk(1, chunk, quality="original")
        with zipfile.ZipFile(chunk) as archive:
            members = [archive.read(name) for name in sorted(archive.namelist())]
        assert members == [objects["set1/img2.jpg"], objects["set1/img3.jpg"]]

        preview = Image.open(task.get_preview())
        assert preview.format == "JPEG"

        assert len(task.get_jobs()) == 2
        assert [label.name for label in task.get_labels()] == ["car"]


def test_personal_access_token(live):
    with live.client(credentials=(live.username, live.password)) as client:
        token, _ = client.api_client.auth_api.create_access_tokens(
            models.AccessTokenWriteRequest(name="ci", read_only=False)
        )
    with live.client(access_token=token.value) as client:
        me, _ = client.api_client.users_api.retrieve_self()
        assert me.username == live.username
        task = client.tasks.create({"name": "via token", "labels": [{"name": "a"}]})
        assert client.tasks.retrieve(task.id).name == "via token"
