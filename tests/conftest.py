from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.fixtures.interop import check_interop_mark

pytest_plugins = ["tests.fixtures.backends", "tests.fixtures.emulators"]

PASSWORD = "a-Strong-passw0rd"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # The default hasher costs about a second per user; the suite creates hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    settings.SHARE_ROOT = tmp_path / "share"
    settings.DATA_DIR.mkdir()
    settings.SHARE_ROOT.mkdir()


@pytest.fixture
def make_user(db):
    def make(username: str = "alice", *, superuser: bool = False):
        model = get_user_model()
        create = model.objects.create_superuser if superuser else model.objects.create_user
        return create(username=username, email=f"{username}@example.com", password=PASSWORD)

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def other_user(make_user):
    return make_user("mallory")


@pytest.fixture
def admin_user(make_user):
    return make_user("root", superuser=True)


def _client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api(user) -> APIClient:
    """An API client authenticated as ``user``."""
    return _client_for(user)


@pytest.fixture
def other_api(other_user) -> APIClient:
    return _client_for(other_user)


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    return _client_for(admin_user)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


def pytest_runtest_setup(item: pytest.Item) -> None:
    check_interop_mark(item)
