"""What only one provider has: S3 multipart ETags and anonymous access, Azure SAS tokens and
public containers, GCS key files."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from cvat_lite.cloud.base import (
    STATUS_TIMEOUTS,
    Credentials,
    CredentialsType,
    ProviderType,
    Status,
    StorageConfig,
)
from cvat_lite.cloud.registry import get_provider
from cvat_lite.errors import CloudStorageForbidden
from tests.fixtures.emulators import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    LOOPBACK_ALLOWLIST,
    Azurite,
    MotoS3,
    free_port,
    unique_name,
)


def _provider(config, timeouts=STATUS_TIMEOUTS):
    return get_provider(config, allowlist=LOOPBACK_ALLOWLIST, timeouts=timeouts)


# --- S3 -------------------------------------------------------------------------------------


def test_s3_multipart_etag_is_not_an_md5(s3_emulator: MotoS3, s3_bucket: StorageConfig):
    s3_emulator.put_multipart(s3_bucket, "big.bin", b"part" * 100)
    provider = _provider(s3_bucket)
    info = provider.head("big.bin")
    assert info.size == 400
    assert info.etag and "-" in info.etag
    assert info.md5 is None
    assert [o.md5 for o in provider.iter_objects()] == [None]


def test_s3_large_upload_goes_multipart(s3_bucket: StorageConfig):
    data = b"0123456789abcdef" * (9 * 1024 * 1024 // 16)  # over boto3's 8 MiB threshold
    provider = _provider(s3_bucket)
    provider.upload("large.bin", io.BytesIO(data))
    assert provider.head("large.bin").md5 is None  # multipart ETag
    assert hashlib.sha256(provider.download("large.bin")).digest() == hashlib.sha256(data).digest()


def test_s3_anonymous_access(s3_emulator: MotoS3, s3_bucket: StorageConfig):
    s3_emulator.client().put_object(  # moto checks object ACLs for unsigned requests
        Bucket=s3_bucket.resource, Key="public.txt", Body=b"hello", ACL="public-read"
    )
    config = StorageConfig(
        ProviderType.AWS_S3_BUCKET,
        s3_bucket.resource,
        CredentialsType.ANONYMOUS_ACCESS,
        attributes={"endpoint_url": s3_emulator.endpoint_url},
    )
    provider = _provider(config)
    assert provider.status() is Status.AVAILABLE
    assert provider.download("public.txt") == b"hello"


# --- Azure ----------------------------------------------------------------------------------


def _sas_config(azurite: Azurite, container: str, key: str = AZURITE_KEY) -> StorageConfig:
    sas = generate_container_sas(
        AZURITE_ACCOUNT,
        container,
        account_key=key,
        permission=ContainerSasPermissions(read=True, list=True, write=True, delete=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    return StorageConfig(
        ProviderType.AZURE_CONTAINER,
        container,
        CredentialsType.ACCOUNT_NAME_TOKEN_PAIR,
        Credentials(account_name=AZURITE_ACCOUNT, session_token=sas),
        {"endpoint_url": azurite.endpoint_url},
    )


def test_azure_account_name_and_sas_token(azurite: Azurite, azure_container: StorageConfig):
    azurite.put(azure_container, "a/b.txt", b"via sas")
    provider = _provider(_sas_config(azurite, azure_container.resource))
    assert provider.status() is Status.AVAILABLE
    assert provider.download("a/b.txt") == b"via sas"
    provider.upload("c.txt", io.BytesIO(b"up"), size=2)
    assert sorted(o.key for o in provider.iter_objects()) == ["a/b.txt", "c.txt"]


def test_azure_sas_signed_with_another_key_is_forbidden(
    azurite: Azurite, azure_container: StorageConfig, caplog
):
    config = _sas_config(azurite, azure_container.resource, key="d3Jvbmcta2V5LVMzY3IzdA==")
    sig = config.credentials.session_token.split("sig=")[1]
    provider = _provider(config)
    with caplog.at_level(logging.WARNING, logger="cvat_lite.cloud"):
        assert provider.status() is Status.FORBIDDEN
        with pytest.raises(CloudStorageForbidden) as raised:
            provider.download("anything")
    for text in (str(raised.value), caplog.text, repr(config)):
        assert sig not in text


def test_azure_anonymous_public_container(azurite: Azurite):
    container = unique_name()
    azurite.service().create_container(container, public_access="container")
    config = StorageConfig(
        ProviderType.AZURE_CONTAINER,
        container,
        CredentialsType.ANONYMOUS_ACCESS,
        Credentials(account_name=AZURITE_ACCOUNT),
        {"endpoint_url": azurite.endpoint_url},
    )
    azurite.put(config, "public.txt", b"hello")
    provider = _provider(config)
    assert provider.status() is Status.AVAILABLE
    assert provider.download("public.txt") == b"hello"


# --- GCS ------------------------------------------------------------------------------------
# Only key files that fail before any request: a usable one would fetch a token from Google.


def _key_file_config(path, endpoint_url: str) -> StorageConfig:
    return StorageConfig(
        ProviderType.GOOGLE_CLOUD_STORAGE,
        "bucket",
        CredentialsType.KEY_FILE_PATH,
        Credentials(key_file_path=str(path)),
        {"endpoint_url": endpoint_url},
    )


@pytest.mark.parametrize(
    "content",
    [
        None,  # missing file
        "not json",
        {"type": "service_account", "token_uri": "http://127.0.0.1:1/token"},  # not Google's
        {"type": "service_account", "token_uri": "https://oauth2.googleapis.com/token"},  # no key
        {"token_uri": "https://oauth2.googleapis.com/token", "universe_domain": "evil.com"},
    ],
)
def test_gcs_unusable_key_file_is_forbidden_without_a_request(tmp_path, content, caplog):
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    # a closed port: any request would log "unreachable" instead
    provider = _provider(_key_file_config(path, f"http://127.0.0.1:{free_port()}"))
    with caplog.at_level(logging.WARNING, logger="cvat_lite.cloud"):
        assert provider.status() is Status.FORBIDDEN
    assert "key file" in caplog.text
    assert str(tmp_path) not in caplog.text
