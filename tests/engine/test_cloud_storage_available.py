"""The one availability check of a storage named in a request
(``engine.services.cloud_storages.cloud_storage_require_available``): a listing of one item,
refused with CloudStorageNotAvailable (400) naming the provider status."""

from __future__ import annotations

import pytest

from cvat_lite import errors
from cvat_lite.engine.services.cloud_storages import (
    CODE_NOT_AVAILABLE,
    cloud_storage_require_available,
)
from tests.api.media_helpers import storage_row
from tests.fixtures.emulators import unique_name

pytestmark = pytest.mark.django_db

RELINK_MESSAGE = "Cloud storage #{id} is not available ({status})."


def test_an_available_storage_gives_its_provider(user, s3_emulator):
    config = s3_emulator.create_bucket()
    storage = storage_row(user, config)
    provider = cloud_storage_require_available(storage=storage)
    assert provider.config.resource == config.resource
    assert provider.list_page("", page_size=1) is not None


def test_a_missing_bucket_is_400_not_found(user, s3_emulator):
    storage = storage_row(user, s3_emulator.config(unique_name("gone")))
    with pytest.raises(errors.CloudStorageNotAvailable) as caught:
        cloud_storage_require_available(storage=storage)
    error = caught.value
    assert (error.status, error.code, error.extra) == (
        400,
        CODE_NOT_AVAILABLE,
        {"status": "NOT_FOUND"},
    )
    assert error.message == errors.CloudStorageNotFound.default_message


def test_wrong_credentials_are_400_forbidden_with_the_callers_message(user, s3_emulator):
    config = s3_emulator.forbidden_config(s3_emulator.create_bucket().resource)
    storage = storage_row(user, config)
    with pytest.raises(errors.CloudStorageNotAvailable) as caught:
        cloud_storage_require_available(storage=storage, message=RELINK_MESSAGE)
    error = caught.value
    assert error.extra == {"status": "FORBIDDEN"}
    assert error.message == f"Cloud storage #{storage.id} is not available (FORBIDDEN)."
