"""No request leaves for a host outside the allowlist, whatever names it.

- A connection string is judged by the URL azure-storage-blob builds from it, so a
  ``DefaultEndpointsProtocol`` carrying a host, or an ``EndpointSuffix`` carrying user info
  next to a key the SDK does not recognise (" BlobEndpoint"), is refused, with the allowlist of
  the report and with the empty production allowlist.
- Every request an SDK sends passes the transport guard: a provider built without the
  registry's configuration check still never connects outside the allowlist, and a GCS upload
  session whose ``Location`` names another host is not followed (export > 8 MiB, the size
  where the client switches to a resumable upload).

"No connection" is counted by a TCP listener on the target port.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cvat_lite.cloud.base import (
    STATUS_TIMEOUTS,
    Credentials,
    CredentialsType,
    ProviderType,
    Status,
    StorageConfig,
)
from cvat_lite.cloud.registry import PROVIDERS, get_provider
from cvat_lite.engine.models import CloudStorage, Task
from cvat_lite.errors import CloudStorageError
from tests.fixtures.emulators import AZURITE_ACCOUNT, AZURITE_KEY
from tests.security.servers import ConnectionCounter, FakeGcs

pytestmark = pytest.mark.django_db(transaction=True)

REPORTED_ALLOWLIST = ["127.0.0.1:19000", "127.0.0.1:10000"]
ALLOWLISTS = {"reported": REPORTED_ALLOWLIST, "production": []}
RESUMABLE_THRESHOLD = 8 * 1024 * 1024  # google-cloud-storage's multipart limit


def tricks(port: int) -> dict[str, str]:
    key = f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY}"
    return {
        "protocol": (
            f"DefaultEndpointsProtocol=http://127.0.0.1:{port}/?x=;{key};"
            "EndpointSuffix=core.windows.net"
        ),
        "suffix": (
            f"DefaultEndpointsProtocol=http;{key};EndpointSuffix=x@127.0.0.1:{port};"
            f" BlobEndpoint=http://127.0.0.1:10000/{AZURITE_ACCOUNT}"
        ),
    }


@pytest.fixture
def counter() -> Iterator[ConnectionCounter]:
    listener = ConnectionCounter()
    yield listener
    listener.close()


# --- item 1: connection strings ------------------------------------------------------------


@pytest.mark.parametrize("allowlist", ALLOWLISTS)
@pytest.mark.parametrize("trick", ["protocol", "suffix"])
def test_connection_string_tricks_are_refused_before_any_connection(
    trick, allowlist, api, user, counter, settings
):
    settings.CLOUD_ENDPOINT_ALLOWLIST = ALLOWLISTS[allowlist]
    connection_string = tricks(counter.port)[trick]
    body = {
        "provider_type": "AZURE_CONTAINER",
        "credentials_type": "CONNECTION_STRING",
        "connection_string": connection_string,
        "resource": "container",
        "display_name": "tricky",
    }
    response = api.post("/api/cloudstorages", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "endpoint_not_allowed"
    assert not CloudStorage.objects.exists()

    # saved before this check existed: refused before any request too
    storage = CloudStorage.objects.create(
        owner=user,
        provider_type="AZURE_CONTAINER",
        resource="container",
        display_name="saved earlier",
        credentials_type="CONNECTION_STRING",
        credentials={"connection_string": connection_string},
    )
    response = api.get(f"/api/cloudstorages/{storage.pk}/status")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "endpoint_not_allowed"
    assert counter.accepted == 0


def test_the_protocol_trick_names_the_host_the_sdk_would_use(api, counter, settings):
    settings.CLOUD_ENDPOINT_ALLOWLIST = REPORTED_ALLOWLIST
    body = {
        "provider_type": "AZURE_CONTAINER",
        "credentials_type": "CONNECTION_STRING",
        "connection_string": tricks(counter.port)["protocol"],
        "resource": "container",
        "display_name": "tricky",
    }
    response = api.post("/api/cloudstorages", body, format="json")
    assert response.json()["message"] == (
        f"The cloud storage endpoint '127.0.0.1:{counter.port}' is not in the allowed list."
    )


# --- item 2: the transport guard -----------------------------------------------------------


def configs(port: int) -> dict[str, StorageConfig]:
    endpoint = {"endpoint_url": f"http://127.0.0.1:{port}"}
    return {
        "s3": StorageConfig(
            ProviderType.AWS_S3_BUCKET,
            "bucket",
            CredentialsType.KEY_SECRET_KEY_PAIR,
            Credentials(key="k", secret_key="s"),
            endpoint,
        ),
        "azure_protocol": StorageConfig(
            ProviderType.AZURE_CONTAINER,
            "container",
            CredentialsType.CONNECTION_STRING,
            Credentials(connection_string=tricks(port)["protocol"]),
        ),
        "azure_sas": StorageConfig(
            ProviderType.AZURE_CONTAINER,
            "container",
            CredentialsType.ACCOUNT_NAME_TOKEN_PAIR,
            Credentials(account_name=AZURITE_ACCOUNT, session_token="sv=1&sig=x"),
            endpoint,
        ),
        "gcs": StorageConfig(
            ProviderType.GOOGLE_CLOUD_STORAGE,
            "bucket",
            CredentialsType.ANONYMOUS_ACCESS,
            attributes={**endpoint, "project": "p"},
        ),
    }


@pytest.mark.parametrize("allowlist", ALLOWLISTS)
@pytest.mark.parametrize("name", ["s3", "azure_protocol", "azure_sas", "gcs"])
def test_a_provider_checks_each_request_not_only_its_configuration(name, allowlist, counter):
    config = configs(counter.port)[name]
    provider_class = PROVIDERS[config.provider_type]
    # built directly, without the registry's configuration check
    provider = provider_class(config, timeouts=STATUS_TIMEOUTS, allowlist=ALLOWLISTS[allowlist])

    assert provider.status() is Status.NOT_FOUND
    with pytest.raises(CloudStorageError):
        provider.head("a.jpg")
    with pytest.raises(CloudStorageError):
        provider.upload("a.jpg", io.BytesIO(b"data"), 4)
    assert counter.accepted == 0


@pytest.fixture
def gcs_sending_sessions_elsewhere(counter) -> Iterator[tuple[FakeGcs, ConnectionCounter]]:
    """An allowed GCS endpoint whose upload sessions live on ``counter`` (not allowed)."""
    fake = FakeGcs(f"{counter.url}/upload/session?upload_id=1")
    yield fake, counter
    fake.close()


def _gcs_config(endpoint: str) -> StorageConfig:
    return StorageConfig(
        ProviderType.GOOGLE_CLOUD_STORAGE,
        "bucket",
        CredentialsType.ANONYMOUS_ACCESS,
        attributes={"endpoint_url": endpoint, "project": "p"},
    )


def test_gcs_upload_session_on_another_host_is_not_followed(gcs_sending_sessions_elsewhere):
    fake, counter = gcs_sending_sessions_elsewhere
    provider = get_provider(_gcs_config(fake.url), allowlist=[f"127.0.0.1:{fake.port}"])
    size = RESUMABLE_THRESHOLD + 1
    with pytest.raises(CloudStorageError):
        provider.upload("big.bin", io.BytesIO(b"\0" * size), size)
    assert any(hit.startswith("POST /upload/") for hit in fake.hits), fake.hits
    assert counter.accepted == 0


def _noise_png(min_size: int) -> bytes:
    """A PNG of random pixels (incompressible) of at least ``min_size`` bytes."""
    side = int((min_size / 3) ** 0.5) + 64
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=0)
    assert buffer.tell() > min_size
    return buffer.getvalue()


def test_export_to_gcs_whose_upload_session_is_elsewhere_fails_cleanly(
    api, user, gcs_sending_sessions_elsewhere, settings, drain
):
    fake, counter = gcs_sending_sessions_elsewhere
    settings.CLOUD_ENDPOINT_ALLOWLIST = [f"127.0.0.1:{fake.port}"]
    storage = CloudStorage.objects.create(
        owner=user,
        provider_type="GOOGLE_CLOUD_STORAGE",
        resource="bucket",
        display_name="gcs",
        credentials_type="ANONYMOUS_ACCESS",
        specific_attributes=f"endpoint_url=http://127.0.0.1:{fake.port}&project=p",
    )
    task = Task.objects.create(owner=user, name="big")
    image = SimpleUploadedFile("noise.png", _noise_png(RESUMABLE_THRESHOLD + 1024))
    created = api.post(f"/api/tasks/{task.id}/data", {"client_files[0]": image}, format="multipart")
    assert created.status_code == 202, created.content
    drain("create")

    query = f"location=cloud_storage&cloud_storage_id={storage.pk}&filename=big.zip"
    response = api.post(f"/api/tasks/{task.id}/backup/export?{query}")
    assert response.status_code == 202, response.content
    drain("export")
    request = api.get(f"/api/requests/{response.json()['rq_id']}").json()

    assert request["status"] == "failed", request
    assert request["message"] == "The cloud storage is not available."
    assert any(hit.startswith("POST /upload/") for hit in fake.hits), fake.hits
    assert counter.accepted == 0
