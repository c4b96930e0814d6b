"""POST /api/auth/password/change: CVAT's route and body; the old password is checked, the new
one validated; the session that changed it stays signed in, the user's other sessions end."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
NEW = "a-much-better-passphrase-42"


def _session(username="alice") -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        "/api/auth/login", {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return client


def _change(client: APIClient, old=PASSWORD, new1=NEW, new2=NEW, **headers):
    body = {"old_password": old, "new_password1": new1, "new_password2": new2}
    csrf = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    return client.post(
        "/api/auth/password/change", body, format="json", HTTP_X_CSRFTOKEN=csrf, **headers
    )


@pytest.mark.parametrize("path", ["/api/auth/password/change", "/api/auth/password/change/"])
def test_change_keeps_this_session_and_ends_the_others(user, path):
    mine, other = _session(), _session()
    body = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    csrf = mine.cookies["csrftoken"].value
    response = mine.post(path, body, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200, response.content
    assert response.json() == {"detail": "New password has been saved."}
    user.refresh_from_db()
    assert user.check_password(NEW) and not user.check_password(PASSWORD)
    assert mine.get("/api/users/self").status_code == 200
    assert other.get("/api/users/self").status_code == 401
    login = APIClient().post(
        "/api/auth/login", {"username": "alice", "password": NEW}, format="json"
    )
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("old", "new1", "new2", "code", "field"),
    [
        ("not-my-password", NEW, NEW, "wrong_password", "old_password"),
        (PASSWORD, NEW, NEW + "x", "password_mismatch", "new_password2"),
        (PASSWORD, "12345678901", "12345678901", "weak_password", "new_password1"),
        (PASSWORD, "alice", "alice", "weak_password", "new_password1"),
    ],
)
def test_refused_changes_keep_the_password(user, old, new1, new2, code, field):
    response = _change(_session(), old, new1, new2)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code
    assert field in body["extra"]["fields"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_anonymous_and_missing_fields(user):
    assert _change(APIClient()).status_code == 401
    client = _session()
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        "/api/auth/password/change",
        {"old_password": PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 400


def test_a_session_without_the_csrf_header_is_refused(user):
    client = _session()
    body = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    assert client.post("/api/auth/password/change", body, format="json").status_code == 403
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.django_db(transaction=True)
def test_the_official_sdk_changes_the_password(live_server, user):
    from cvat_sdk import make_client
    from cvat_sdk.api_client import models

    host, port = live_server.url.rsplit(":", 1)
    with make_client(host, port=int(port), credentials=("alice", PASSWORD)) as client:
        request = models.PasswordChangeRequest(
            old_password=PASSWORD, new_password1=NEW, new_password2=NEW
        )
        detail, _ = client.api_client.auth_api.create_password_change(request)
        assert detail.detail == "New password has been saved."
    user.refresh_from_db()
    assert user.check_password(NEW)
