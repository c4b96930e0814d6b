"""From a StorageConfig to its provider, after the checks that need no network."""

from __future__ import annotations

from collections.abc import Sequence

from cvat_lite.cloud.azure import AzureProvider
from cvat_lite.cloud.base import (
    DATA_TIMEOUTS,
    CloudProvider,
    ProviderType,
    StorageConfig,
    Timeouts,
)
from cvat_lite.cloud.endpoints import check_endpoint
from cvat_lite.cloud.gcs import GcsProvider
from cvat_lite.cloud.s3 import S3Provider
from cvat_lite.errors import BadRequest

MSG_UNSUPPORTED_CREDENTIALS = (
    "{provider_type} does not support credentials type {credentials_type}."
)
MSG_MISSING_FIELD = "Credentials of type {credentials_type} require '{field}'."
MSG_MISSING_RESOURCE = "The cloud storage resource (bucket or container name) is required."

PROVIDERS: dict[ProviderType, type[CloudProvider]] = {
    ProviderType.AWS_S3_BUCKET: S3Provider,
    ProviderType.AZURE_CONTAINER: AzureProvider,
    ProviderType.GOOGLE_CLOUD_STORAGE: GcsProvider,
}


def custom_endpoint(config: StorageConfig) -> str | None:
    """The URL a storage will connect to when it is not one of its provider's public hosts,
    else None. Read from the SDK client the provider would build (for Azure, from the client a
    connection string makes), not from a parse of our own: what the SDK connects to is what
    the allowlist must judge. Raises BadRequest for a configuration the SDK refuses."""
    provider = PROVIDERS[config.provider_type]
    return provider.endpoint_url(config)


def validate_config(config: StorageConfig, *, allowlist: Sequence[str]) -> None:
    """BadRequest for an unsupported credentials type or a missing field, EndpointNotAllowed
    for a custom endpoint outside ``allowlist``. No network."""
    provider = PROVIDERS[config.provider_type]
    if not config.resource:
        raise BadRequest(MSG_MISSING_RESOURCE)
    required = provider.required_fields.get(config.credentials_type)
    if required is None:
        raise BadRequest(
            MSG_UNSUPPORTED_CREDENTIALS.format(
                provider_type=config.provider_type, credentials_type=config.credentials_type
            )
        )
    for name in required:
        if not getattr(config.credentials, name):
            raise BadRequest(
                MSG_MISSING_FIELD.format(credentials_type=config.credentials_type, field=name)
            )
    provider.validate(config)
    endpoint = custom_endpoint(config)
    if endpoint is not None:
        check_endpoint(endpoint, allowlist)


def get_provider(
    config: StorageConfig, *, allowlist: Sequence[str], timeouts: Timeouts = DATA_TIMEOUTS
) -> CloudProvider:
    """The provider for ``config`` (no network call), once ``validate_config`` passes."""
    validate_config(config, allowlist=allowlist)
    return PROVIDERS[config.provider_type](config, timeouts=timeouts, allowlist=allowlist)
