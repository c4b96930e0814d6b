"""The shared store (``base.SharedStore``): the data directory by default, or the bucket named
by ``CVAT_LITE_SHARED_STORE`` when nodes share no disk."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from cvat_lite.cloud.endpoints import allowlist_entry
from cvat_lite.cloud.registry import custom_endpoint, get_provider
from cvat_lite.store.base import SharedStore
from cvat_lite.store.config import parse_store_url
from cvat_lite.store.local import LocalStore
from cvat_lite.store.remote import ObjectStore

_stores: dict[tuple[str, str], SharedStore] = {}


def _allowlist(endpoint_url: str | None) -> list[str]:
    """The operator chose the store's endpoint: it is allowed, and only it."""
    entry = allowlist_entry(endpoint_url) if endpoint_url else None
    return [entry] if entry else []


def shared_store() -> SharedStore:
    """The store of this configuration (one instance per setting, built without network)."""
    url, root = settings.SHARED_STORE, str(settings.DATA_DIR)
    store = _stores.get((url, root))
    if store is None:
        if not url:
            store = LocalStore(Path(root))
        else:
            location = parse_store_url(url, settings.SHARED_STORE_CREDENTIALS)
            # what the SDK will connect to (an Azure connection string names its own endpoint)
            endpoint = custom_endpoint(location.config)
            provider = get_provider(location.config, allowlist=_allowlist(endpoint))
            store = ObjectStore(provider, location.prefix)
        _stores[(url, root)] = store
    return store


def result_key(result_file: str) -> str:
    """The store key of a request's ``result_file``: rows written before the shared store hold
    an absolute path under ``DATA_DIR`` (ValueError for one elsewhere)."""
    path = Path(result_file)
    if path.is_absolute():
        return path.relative_to(Path(settings.DATA_DIR)).as_posix()
    return result_file


__all__ = ["LocalStore", "ObjectStore", "SharedStore", "result_key", "shared_store"]
