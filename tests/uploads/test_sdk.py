"""The real cvat-sdk 2.80 uploader (Upload-Start, TUS in 10 MiB chunks, Upload-Finish) against a
live server."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from cvat_sdk import make_client
from cvat_sdk.core.uploading import TUS_CHUNK_SIZE, Uploader
from django.core.signals import request_started

from cvat_lite.uploads.models import Upload
from cvat_lite.uploads.sources import LocalFile
from tests.conftest import PASSWORD
from tests.uploads.tus import uploads_area

pytestmark = [pytest.mark.urls("tests.uploads.urls"), pytest.mark.django_db(transaction=True)]


def test_sdk_uploads_a_backup_in_several_chunks(live_server, make_user, received, tmp_path):
    user = make_user("sdkuser")
    data = os.urandom(2 * TUS_CHUNK_SIZE + 12345)  # three PATCH requests
    path = tmp_path / "task backup.zip"
    path.write_bytes(data)

    methods: list[str] = []

    def record(sender, environ, **kwargs):
        if "/backup" in environ["PATH_INFO"]:
            methods.append(environ["REQUEST_METHOD"])

    request_started.connect(record)
    with make_client(live_server.url, credentials=(user.username, PASSWORD)) as client:
        try:
            response = Uploader(client).upload_file(
                f"{live_server.url}/api/tasks/backup/",
                path,
                meta={"filename": path.name},
                query_params={"filename": path.name},
            )
        finally:
            client.api_client.rest_client.pool_manager.connection_from_url(live_server.url).close()
            request_started.disconnect(record)

    # Upload-Start, TUS create, three chunks, Upload-Finish
    assert methods == ["POST", "POST", "PATCH", "PATCH", "PATCH", "POST"]
    assert response.status == 202
    assert json.loads(response.data) == {"rq_id": "x"}
    [source] = received
    assert isinstance(source, LocalFile)
    assert source.original_name == "task backup.zip"
    assert hashlib.sha256(source.path.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert not Upload.objects.exists()
    assert uploads_area() == []
