"""Login throttling (docs/security.md): failures per account and per client address, 429 with
Retry-After, no password hash for a refused attempt, the admin login too."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    """Counts every password hash computed (checks and the dummy hash for unknown users)."""

    algorithm = "counting_md5"
    hashes = 0

    def encode(self, password, salt):
        type(self).hashes += 1
        return super().encode(password, salt)


@pytest.fixture(autouse=True)
def _counting_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    settings.LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_FAILURES_PER_ADDRESS = 12
    CountingHasher.hashes = 0


def _login(username: str, password: str, address: str = "10.0.0.1", **headers):
    return APIClient().post(
        "/api/auth/login",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
        **headers,
    )


def _assert_throttled(response, window: int):
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= window


def test_wrong_passwords_then_the_right_one_is_throttled_per_account(user, settings):
    for _ in range(5):
        assert _login("alice", "wrong").status_code == 400
    hashes = CountingHasher.hashes

    _assert_throttled(_login("alice", PASSWORD), settings.LOGIN_FAILURE_WINDOW)
    _assert_throttled(_login("ALICE", "wrong", address="10.9.9.9"), settings.LOGIN_FAILURE_WINDOW)
    _assert_throttled(
        APIClient().post(
            "/api/auth/login",
            {"email": "alice@example.com", "password": PASSWORD},
            format="json",
            REMOTE_ADDR="10.8.8.8",
        ),
        settings.LOGIN_FAILURE_WINDOW,
    )
    assert CountingHasher.hashes == hashes  # a refused attempt costs no password hash
    assert _login("mallory", "wrong").status_code == 400  # other accounts are not affected


def test_failures_are_counted_per_address(make_user, settings):
    for name in ("alice", "bob01", "carol"):
        make_user(name)
    for i in range(12):
        assert _login(f"nobody{i}", "wrong").status_code == 400
    hashes = CountingHasher.hashes

    _assert_throttled(_login("alice", PASSWORD), settings.LOGIN_FAILURE_WINDOW)
    # X-Forwarded-For is not trusted without a proxy (NUM_PROXIES = 0).
    _assert_throttled(
        _login("bob01", PASSWORD, HTTP_X_FORWARDED_FOR="10.7.7.7"), settings.LOGIN_FAILURE_WINDOW
    )
    assert CountingHasher.hashes == hashes
    assert _login("carol", PASSWORD, address="10.0.0.2").status_code == 200


def test_a_successful_login_clears_the_account_but_not_the_address(user, make_user):
    make_user("bob01")
    for _ in range(2):
        for _ in range(4):
            assert _login("alice", "wrong").status_code == 400
        assert _login("alice", PASSWORD).status_code == 200
    # The address holds 8 failures (of 12): logging in to one's own account did not reset them.
    for _ in range(4):
        assert _login("bob01", "wrong").status_code == 400
    _assert_throttled(_login("bob01", "wrong"), 900)


def test_the_window_is_counted_from_the_first_failure(user, settings):
    settings.LOGIN_FAILURE_WINDOW = 1000
    for _ in range(5):
        _login("alice", "wrong")
    response = _login("alice", PASSWORD)
    _assert_throttled(response, 1000)
    assert int(response["Retry-After"]) > 900


def test_admin_login_is_throttled_too(admin_user, settings):
    client = Client(REMOTE_ADDR="10.0.0.3")
    for _ in range(5):
        response = client.post("/admin/login/", {"username": "root", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
        assert not response.wsgi_request.user.is_authenticated
    hashes = CountingHasher.hashes

    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= settings.LOGIN_FAILURE_WINDOW
    assert CountingHasher.hashes == hashes
    assert _login("root", PASSWORD, address="10.0.0.4").status_code == 429  # the same account


def test_admin_login_success_does_not_count(admin_user):
    client = Client(REMOTE_ADDR="10.0.0.5")
    for _ in range(4):
        client.post("/admin/login/", {"username": "root", "password": "wrong"})
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
    assert _login("root", "wrong", address="10.0.0.6").status_code == 400
