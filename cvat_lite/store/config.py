"""``CVAT_LITE_SHARED_STORE``: one URL naming the bucket of the shared store.

``s3://<bucket>[/<prefix>]``, ``azure://<container>[/<prefix>]`` or ``gs://<bucket>[/<prefix>]``,
with the provider's attributes as the query (``endpoint_url``, ``region``, ``project``). Secrets
never go in the URL: they come from ``CVAT_LITE_SHARED_STORE_<FIELD>`` variables (``KEY``,
``SECRET_KEY``, ``SESSION_TOKEN``, ``ACCOUNT_NAME``, ``CONNECTION_STRING``, ``KEY_FILE_PATH``),
read by settings and passed in here. Django-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from cvat_lite.cloud.base import (
    SPECIFIC_ATTRIBUTES,
    Credentials,
    CredentialsType,
    ProviderType,
    StorageConfig,
)

SCHEMES = {
    "s3": ProviderType.AWS_S3_BUCKET,
    "azure": ProviderType.AZURE_CONTAINER,
    "gs": ProviderType.GOOGLE_CLOUD_STORAGE,
}
MSG_BAD_URL = (
    "CVAT_LITE_SHARED_STORE must look like s3://bucket/prefix, azure://container/prefix or "
    "gs://bucket/prefix (optional ?endpoint_url=…&region=…): {why}"
)


@dataclass(frozen=True)
class StoreLocation:
    config: StorageConfig
    prefix: str


def _credentials_type(provider: ProviderType, creds: Credentials) -> CredentialsType:
    if provider == ProviderType.AWS_S3_BUCKET and creds.key:
        return CredentialsType.KEY_SECRET_KEY_PAIR
    if provider == ProviderType.AZURE_CONTAINER and creds.connection_string:
        return CredentialsType.CONNECTION_STRING
    if provider == ProviderType.AZURE_CONTAINER and creds.session_token:
        return CredentialsType.ACCOUNT_NAME_TOKEN_PAIR
    if provider == ProviderType.GOOGLE_CLOUD_STORAGE and creds.key_file_path:
        return CredentialsType.KEY_FILE_PATH
    return CredentialsType.ANONYMOUS_ACCESS


def parse_store_url(url: str, secrets: Mapping[str, str]) -> StoreLocation:
    """The provider configuration and key prefix of a shared-store URL; ValueError when it is
    malformed (the service refuses to start with it)."""
    parts = urlsplit(url)
    provider = SCHEMES.get(parts.scheme)
    if provider is None:
        raise ValueError(MSG_BAD_URL.format(why=f"unknown scheme {parts.scheme!r}"))
    if not parts.netloc or "@" in parts.netloc:
        raise ValueError(MSG_BAD_URL.format(why="no bucket, or credentials in the URL"))
    attributes = dict(parse_qsl(parts.query))
    unknown = set(attributes) - (SPECIFIC_ATTRIBUTES - {"prefix"})
    if unknown:
        raise ValueError(MSG_BAD_URL.format(why=f"unknown attribute {min(unknown)!r}"))
    creds = Credentials(**{name: value for name, value in secrets.items() if value})
    config = StorageConfig(
        provider_type=provider,
        resource=parts.netloc,
        credentials_type=_credentials_type(provider, creds),
        credentials=creds,
        attributes=attributes,
    )
    return StoreLocation(config, parts.path.strip("/"))
