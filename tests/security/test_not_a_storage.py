"""An endpoint that answers, but not as a storage, is a storage failure.

A local server answers every request 200 with an empty body, or with an HTML page (a web
site where a storage was expected); its downloads carry no ``Content-Range``. Before, the SDKs'
parsing errors (``AttributeError`` in Azure's and GCS's paging, ``ValueError`` for the missing
Content-Range, Azure's ``DeserializationError``) went through as 500s. Now: storage creation is
a 400 naming the cause, the status is ``NOT_FOUND``, reads are 409 and background requests fail
with the storage's message.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cvat_lite.cloud.registry import get_provider
from cvat_lite.engine.models import CloudStorage
from cvat_lite.errors import CloudStorageError
from tests.backup.relink_helpers import cloud_task
from tests.security.servers import NotAStorage
from tests.security.test_outbound import OBJECTS, storage_body, storage_row
from tests.security.test_outbound_guard import configs

pytestmark = pytest.mark.django_db(transaction=True)

BODIES = {
    "empty": (b"", "application/octet-stream"),
    "html": (b"<!doctype html><html><body><h1>Index of /</h1></body></html>", "text/html"),
}


@pytest.fixture(params=list(BODIES))
def not_a_storage(request, settings) -> Iterator[NotAStorage]:
    server = NotAStorage(*BODIES[request.param])
    settings.CLOUD_ENDPOINT_ALLOWLIST = [f"127.0.0.1:{server.port}"]
    yield server
    server.close()


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["code"] == code, body
    return body


@pytest.mark.parametrize("provider", ["azure", "azure_sas", "gcs"])
def test_an_endpoint_that_is_not_a_storage_is_never_a_500(
    provider, not_a_storage, api, user, drain
):
    created = api.post(
        "/api/cloudstorages", storage_body(provider, not_a_storage.url), format="json"
    )
    body = _error(created, 400, "cloud_storage_not_available")
    assert body["message"] == "The cloud storage is not available."
    assert not CloudStorage.objects.exists()

    storage = storage_row(user, provider, not_a_storage.url)
    sid = storage.pk
    assert api.get(f"/api/cloudstorages/{sid}/status").json() == "NOT_FOUND"
    _error(api.get(f"/api/cloudstorages/{sid}/content-v2"), 409, "cloud_storage_unavailable")
    task = cloud_task(user, OBJECTS, storage=storage)
    for query in ("type=frame&number=0&quality=original", "type=chunk&number=0&quality=original"):
        response = api.get(f"/api/tasks/{task.id}/data?{query}")
        if provider == "gcs":
            # a GCS media download (alt=media) answered 200 is, by the protocol, the object's
            # bytes whatever they are: an original frame serves them as they came
            assert response.status_code == 200, response.content[:300]
        else:
            _error(response, 409, "cloud_storage_unavailable")

    imported = api.post(
        f"/api/tasks/backup?location=cloud_storage&cloud_storage_id={sid}&filename=b.zip"
    )
    assert imported.status_code == 202, imported.content[:300]
    drain("import")
    request = api.get(f"/api/requests/{imported.json()['rq_id']}").json()
    assert request["status"] == "failed", request
    assert "cloud storage" in request["message"], request
    assert not_a_storage.hits, "the endpoint was asked"


@pytest.mark.parametrize("provider", ["azure_sas", "gcs"])
def test_a_range_answered_with_the_whole_body_is_refused(provider):
    """A server that ignores Range (no Content-Range, the whole body) gives no wrong bytes."""
    server = NotAStorage(b"0123456789" * 10, "application/octet-stream")
    try:
        config = configs(server.port)[provider]
        storage = get_provider(config, allowlist=[f"127.0.0.1:{server.port}"])
        with pytest.raises(CloudStorageError):
            storage.download_range("a.bin", 10, 5)
        assert server.hits
    finally:
        server.close()
