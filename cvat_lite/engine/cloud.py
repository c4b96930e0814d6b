"""The bridge from the ``CloudStorage`` model to the cloud package (``cvat_lite.cloud``).

Everything that talks to a user's bucket gets its provider here, so the endpoint allowlist
(``settings.CLOUD_ENDPOINT_ALLOWLIST``, read at call time) is checked before any connection.
"""

from __future__ import annotations

from dataclasses import fields

from django.conf import settings

from cvat_lite.cloud.base import (
    DATA_TIMEOUTS,
    CloudProvider,
    Credentials,
    CredentialsType,
    ProviderType,
    StorageConfig,
    Timeouts,
    parse_specific_attributes,
)
from cvat_lite.cloud.registry import get_provider
from cvat_lite.engine.models import CloudStorage

CREDENTIAL_FIELDS = tuple(f.name for f in fields(Credentials))


def storage_config(storage: CloudStorage) -> StorageConfig:
    """The provider configuration of ``storage``. BadRequest for malformed
    ``specific_attributes``; no network."""
    stored = storage.credentials or {}
    credentials = Credentials(
        **{name: stored[name] for name in CREDENTIAL_FIELDS if stored.get(name)}
    )
    return StorageConfig(
        provider_type=ProviderType(storage.provider_type),
        resource=storage.resource,
        credentials_type=CredentialsType(storage.credentials_type),
        credentials=credentials,
        attributes=parse_specific_attributes(storage.specific_attributes),
    )


def provider_for(storage: CloudStorage, *, timeouts: Timeouts = DATA_TIMEOUTS) -> CloudProvider:
    """The provider of ``storage`` (no network call yet). EndpointNotAllowed for a custom
    endpoint outside the allowlist, BadRequest for an invalid configuration."""
    return get_provider(
        storage_config(storage),
        allowlist=settings.CLOUD_ENDPOINT_ALLOWLIST,
        timeouts=timeouts,
    )


def storage_prefix(storage: CloudStorage) -> str:
    """The storage's ``prefix`` attribute ("" when none): where its media live in the bucket."""
    return storage_config(storage).attributes.get("prefix", "")
