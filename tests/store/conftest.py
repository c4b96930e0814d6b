from __future__ import annotations

import pytest

from cvat_lite.store import ObjectStore, shared_store
from tests.fixtures.emulators import MotoS3


@pytest.fixture
def object_store(settings, s3_emulator: MotoS3) -> ObjectStore:
    """The shared store in a fresh bucket of the S3 emulator, under the prefix ``cvat``."""
    bucket = s3_emulator.create_bucket()
    endpoint = bucket.attributes["endpoint_url"]
    settings.SHARED_STORE = f"s3://{bucket.resource}/cvat?endpoint_url={endpoint}"
    settings.SHARED_STORE_CREDENTIALS = {"key": "k", "secret_key": "s"}
    store = shared_store()
    assert isinstance(store, ObjectStore)
    return store


@pytest.fixture
def received():
    """What the upload test endpoint's handler got (tests/uploads/urls.py), in order."""
    from tests.uploads import urls

    urls.RECEIVED.clear()
    yield urls.RECEIVED
    urls.RECEIVED.clear()
