"""contract 3: login, logout, registration, API tokens, personal access tokens, /api/users/self."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cvat_lite.api import auth as auth_api
from cvat_lite.api.authentication import READ_ONLY_TOKEN
from cvat_lite.engine.models import AccessToken
from cvat_lite.engine.services import accounts
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

User = get_user_model()


def _login(client: APIClient, **credentials):
    return client.post("/api/auth/login", {"password": PASSWORD, **credentials}, format="json")


def _bearer(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    return client


def _make_pat(user, **kwargs) -> str:
    kwargs.setdefault("read_only", False)
    _, value = accounts.access_token_create(owner=user, name="ci", **kwargs)
    return value


def _assert_error(response, status: int, code: str, message: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code
    if message is not None:
        assert body["message"] == message


# --- login / logout ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/login/"])
def test_login_returns_token_and_sets_session_and_csrf_cookies(user, path):
    client = APIClient()
    response = client.post(path, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    key = response.json()["key"]
    assert response.json() == {"key": key}
    assert 0 < len(key) <= 40
    assert Token.objects.get(user=user).key == key
    for name in ("sessionid", "csrftoken"):
        assert name in response.cookies, name
        assert response.cookies[name]["path"] == "/"
    # The session works on its own, without the token.
    assert client.get("/api/users/self").json()["username"] == "alice"


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "alice@example.com"},
        {"email": "ALICE@example.com"},
        {"username": "alice@example.com"},
    ],
)
def test_login_by_email(user, credentials):
    response = _login(APIClient(), **credentials)
    assert response.status_code == 200
    assert Token.objects.get(user=user).key == response.json()["key"]


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "alice", "password": "wrong-password"},
        {"username": "nobody", "password": PASSWORD},
        {"email": "nobody@example.com", "password": PASSWORD},
    ],
)
def test_login_wrong_credentials_is_400_and_starts_nothing(user, credentials):
    response = APIClient().post("/api/auth/login", credentials, format="json")

    _assert_error(response, 400, "invalid_credentials", accounts.INVALID_CREDENTIALS)
    assert "sessionid" not in response.cookies
    assert not Token.objects.exists()


def test_login_of_inactive_user_is_refused(user):
    User.objects.filter(pk=user.pk).update(is_active=False)
    _assert_error(_login(APIClient(), username="alice"), 400, "invalid_credentials")


def test_login_without_username_or_email_is_400(user):
    response = APIClient().post("/api/auth/login", {"password": PASSWORD}, format="json")
    _assert_error(response, 400, "invalid", accounts.LOGIN_FIELDS_MISSING)


def test_login_ignores_stale_credentials(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert _login(client, username="alice").status_code == 200


def test_session_unsafe_requests_need_csrf_header(user):
    client = APIClient(enforce_csrf_checks=True)
    assert _login(client, username="alice").status_code == 200
    body = {"name": "from-session"}

    refused = client.post("/api/auth/access_tokens", body, format="json")
    assert refused.status_code == 403
    assert not AccessToken.objects.exists()
    assert client.get("/api/auth/access_tokens").status_code == 200  # safe methods need none

    csrf = client.cookies["csrftoken"].value
    created = client.post("/api/auth/access_tokens", body, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert created.status_code == 201
    assert AccessToken.objects.filter(owner=user).count() == 1


def test_token_auth_needs_no_csrf(user):
    key = _login(APIClient(), username="alice").json()["key"]
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get("/api/users/self").json()["id"] == user.id
    assert client.post("/api/auth/access_tokens", {"name": "t"}, format="json").status_code == 201


def test_logout_revokes_token_and_ends_session(user):
    session = APIClient()
    key = _login(session, username="alice").json()["key"]
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert token_client.get("/api/users/self").status_code == 200

    response = token_client.post("/api/auth/logout")

    assert response.status_code == 200
    assert response.json() == {"detail": auth_api.LOGGED_OUT}
    assert not Token.objects.exists()
    _assert_error(token_client.get("/api/users/self"), 401, "authentication_failed")
    assert session.post("/api/auth/logout").status_code == 200
    assert session.get("/api/users/self").status_code == 401


def test_logout_anonymous_is_harmless():
    assert APIClient().post("/api/auth/logout/").status_code == 200


# --- /api/users/self ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/users/self", "/api/users/self/"])
def test_users_self_anonymous_is_401_with_error_body(anon_api, path):
    response = anon_api.get(path)
    _assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"]


def test_users_self_describes_the_user(api, user, admin_api):
    body = api.get("/api/users/self").json()

    assert body["id"] == user.id
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert body["groups"] == ["user"]
    assert body["is_superuser"] is False
    assert {"first_name", "last_name", "is_staff", "is_active", "last_login", "date_joined"} <= set(
        body
    )
    assert "password" not in body
    assert admin_api.get("/api/users/self").json()["groups"] == ["admin"]


# --- cross-site requests (login CSRF) ----------------------------------------------------------

_REGISTRATION_FIELDS = {
    "username": "newcomer",
    "email": "newcomer@example.com",
    "password1": PASSWORD,
    "password2": PASSWORD,
    "first_name": "New",
    "last_name": "Comer",
}

_FORM_POSTS = [
    # What an HTML form on another site can send without a CORS preflight.
    ({"format": "multipart"}, None),
    ({"content_type": "application/x-www-form-urlencoded"}, "urlencoded"),
    ({"content_type": "text/plain"}, "json-text"),
]


def _form_body(kind: str | None, data: dict) -> dict | str:
    if kind == "urlencoded":
        return "&".join(f"{k}={v}" for k, v in data.items())
    if kind == "json-text":  # <form enctype="text/plain"> can spell a JSON document
        return json.dumps(data)
    return data


@pytest.mark.parametrize(("kwargs", "kind"), _FORM_POSTS)
@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/api/auth/login", {"username": "alice", "password": PASSWORD}),
        ("/api/auth/register", dict(_REGISTRATION_FIELDS)),
    ],
)
def test_login_and_register_refuse_form_posts(user, path, data, kwargs, kind):
    users_before = User.objects.count()

    response = APIClient().post(path, _form_body(kind, data), **kwargs)

    _assert_error(response, 415, "unsupported_media_type")
    assert "sessionid" not in response.cookies
    assert User.objects.count() == users_before
    assert not Token.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_SEC_FETCH_SITE": "cross-site"},
        {"HTTP_SEC_FETCH_SITE": "same-site"},
        {"HTTP_ORIGIN": "http://evil.example"},
        {"HTTP_ORIGIN": "null"},
        {"HTTP_ORIGIN": "https://testserver"},  # another scheme is another origin
        {"HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_ORIGIN": "http://evil.example"},
    ],
)
@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/api/auth/login", {"username": "alice", "password": PASSWORD}),
        ("/api/auth/register", dict(_REGISTRATION_FIELDS)),
    ],
)
def test_login_and_register_refuse_cross_site_browser_requests(user, path, data, headers):
    users_before = User.objects.count()

    response = APIClient().post(path, data, format="json", **headers)

    _assert_error(response, 403, "cross_site_refused", auth_api.CROSS_SITE_REFUSED)
    assert "sessionid" not in response.cookies
    assert User.objects.count() == users_before
    assert not Token.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {},  # the SDK, the CLI, curl
        {"HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_ORIGIN": "http://testserver"},
        {"HTTP_SEC_FETCH_SITE": "none"},
    ],
)
def test_login_accepts_json_from_this_site_and_from_clients(user, headers):
    response = APIClient().post(
        "/api/auth/login", {"username": "alice", "password": PASSWORD}, format="json", **headers
    )
    assert response.status_code == 200, response.content


def test_login_accepts_a_trusted_origin(user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://cvat.example"]
    response = APIClient().post(
        "/api/auth/login",
        {"username": "alice", "password": PASSWORD},
        format="json",
        HTTP_ORIGIN="https://cvat.example",
    )
    assert response.status_code == 200, response.content


# --- registration ------------------------------------------------------------------------------

_REGISTRATION = _REGISTRATION_FIELDS


def test_register_creates_an_ordinary_user(db):
    client = APIClient()
    response = client.post("/api/auth/register", _REGISTRATION, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    created = User.objects.get(username="newcomer")
    assert body == {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "first_name": "New",
        "last_name": "Comer",
        "email_verification_required": False,
        "key": Token.objects.get(user=created).key,
    }
    assert created.check_password(PASSWORD)
    assert not (created.is_staff or created.is_superuser)
    assert client.get("/api/users/self").json()["username"] == "newcomer"  # logged in
    assert _login(APIClient(), username="newcomer").status_code == 200


def test_register_with_only_required_fields(db):
    body = {k: _REGISTRATION[k] for k in ("username", "email", "password1", "password2")}
    assert APIClient().post("/api/auth/register/", body, format="json").status_code == 201


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"password2": PASSWORD + "x"}, "password_mismatch"),
        ({"password1": "12345678", "password2": "12345678"}, "weak_password"),
        ({"password1": "short", "password2": "short"}, "invalid"),
        ({"username": "ALICE"}, "username_taken"),
        ({"email": "Alice@Example.com"}, "email_taken"),
        ({"username": "bob"}, "invalid"),
        ({"username": "bad name!"}, "invalid"),
        ({"email": "not-an-email"}, "invalid"),
        ({"email": None}, "invalid"),
    ],
)
def test_register_refusals_create_nothing(user, change, code):
    body = {k: v for k, v in {**_REGISTRATION, **change}.items() if v is not None}
    users_before = User.objects.count()

    response = APIClient().post("/api/auth/register", body, format="json")

    _assert_error(response, 400, code)
    assert User.objects.count() == users_before
    assert not Token.objects.exists()
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("newcomernewcomer", "The password must not contain your username."),
        ("NewComer-2024!", "The password must not contain your username."),
        ("newcomer@example.com", "The password is too similar to the email address."),
        ("84729361052", "This password is entirely numeric."),
        ("Password123", "This password is too common."),
    ],
)
def test_register_refuses_weak_passwords_naming_the_reason(db, password, message):
    body = {**_REGISTRATION, "password1": password, "password2": password}

    response = APIClient().post("/api/auth/register", body, format="json")

    _assert_error(response, 400, "weak_password", accounts.WEAK_PASSWORD)
    assert message in response.json()["extra"]["fields"]["password1"]
    assert not User.objects.exists()


def test_password_min_length_is_a_setting(db, settings):
    settings.AUTH_PASSWORD_VALIDATORS = [
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 20},
        }
    ]
    response = APIClient().post("/api/auth/register", _REGISTRATION, format="json")
    _assert_error(response, 400, "weak_password")
    assert not User.objects.exists()


def test_register_mismatch_names_the_field(db):
    body = {**_REGISTRATION, "password2": "another-Passw0rd"}
    response = APIClient().post("/api/auth/register", body, format="json")
    assert response.json()["message"] == accounts.PASSWORD_MISMATCH
    assert response.json()["extra"] == {"fields": {"password2": [accounts.PASSWORD_MISMATCH]}}


def test_register_disabled(db, settings):
    settings.REGISTRATION_ENABLED = False
    response = APIClient().post("/api/auth/register", _REGISTRATION, format="json")

    _assert_error(response, 403, "registration_disabled", accounts.REGISTRATION_DISABLED)
    assert not User.objects.exists()


# --- personal access tokens --------------------------------------------------------------------


def test_pat_create_is_shown_once_and_stored_hashed(api, user):
    response = api.post(
        "/api/auth/access_tokens", {"name": "ci", "read_only": False}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    value = body["value"]
    assert value.startswith(accounts.ACCESS_TOKEN_PREFIX)
    assert len(value) > 40
    assert body["name"] == "ci"
    assert body["read_only"] is False
    assert body["expiry_date"] is None
    assert body["owner"]["id"] == user.id
    stored = AccessToken.objects.get(pk=body["id"])
    assert stored.digest == hashlib.sha256(value.encode()).hexdigest()
    assert value.startswith(stored.prefix)
    assert value not in {stored.name, stored.digest, stored.prefix}

    listed = api.get("/api/auth/access_tokens").json()
    assert listed["count"] == 1
    assert set(listed) == {"count", "next", "previous", "results"}
    assert "value" not in listed["results"][0]
    assert "value" not in api.get(f"/api/auth/access_tokens/{body['id']}").json()


def test_pat_authenticates_and_describes_itself(user):
    value = _make_pat(user)
    client = _bearer(value)

    assert client.get("/api/users/self").json()["username"] == "alice"
    me = client.get("/api/auth/access_tokens/self")
    assert me.status_code == 200
    assert me.json()["name"] == "ci"
    assert "value" not in me.json()
    assert AccessToken.objects.get().last_used_date is not None


def test_pat_self_needs_a_pat(api, user):
    _make_pat(user)
    key = accounts.auth_token_issue(user=user)
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    for client in (api, token_client, APIClient()):
        response = client.get("/api/auth/access_tokens/self")
        _assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Bearer"


def test_pat_read_only_is_the_default(api):
    response = api.post("/api/auth/access_tokens/", {"name": "ro"}, format="json")
    assert response.json()["read_only"] is True


def test_read_only_pat_refuses_unsafe_methods(user):
    value = _make_pat(user, read_only=True)
    client = _bearer(value)

    assert client.get("/api/users/self").status_code == 200
    response = client.post("/api/auth/logout")
    _assert_error(response, 403, "read_only_token", READ_ONLY_TOKEN)
    response = client.post("/api/auth/access_tokens", {"name": "more"}, format="json")
    _assert_error(response, 403, "read_only_token")
    assert AccessToken.objects.count() == 1


def test_pat_cannot_manage_tokens(user):
    value = _make_pat(user)
    token = AccessToken.objects.get()
    client = _bearer(value)

    response = client.post("/api/auth/access_tokens", {"name": "more"}, format="json")
    _assert_error(response, 403, "access_token_forbidden", auth_api.TOKEN_MANAGEMENT_FORBIDDEN)
    response = client.patch(f"/api/auth/access_tokens/{token.id}", {"name": "x"}, format="json")
    _assert_error(response, 403, "access_token_forbidden")
    response = client.delete(f"/api/auth/access_tokens/{token.id}")
    _assert_error(response, 403, "access_token_forbidden")
    assert list(AccessToken.objects.values_list("name", flat=True)) == ["ci"]
    # Read-write tokens may do other writes.
    assert client.post("/api/auth/logout").status_code == 200


def test_expired_pat_is_401_and_not_listed(api, user):
    value = _make_pat(user, expiry_date=timezone.now() + timedelta(days=1))
    AccessToken.objects.update(expiry_date=timezone.now() - timedelta(seconds=1))

    response = _bearer(value).get("/api/users/self")

    _assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"]
    assert api.get("/api/auth/access_tokens").json()["count"] == 0


@pytest.mark.parametrize("header", ["Bearer cvl_unknown", "Bearer", "Bearer a b"])
def test_bad_bearer_is_401(user, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    _assert_error(client.get("/api/users/self"), 401, "authentication_failed")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": ""}, "invalid"),
        ({}, "invalid"),
        ({"name": "x" * 51}, "invalid"),
        ({"name": "late", "expiry_date": "2001-01-01T00:00:00Z"}, "invalid_expiry_date"),
    ],
)
def test_pat_create_refusals_create_nothing(api, body, code):
    _assert_error(api.post("/api/auth/access_tokens", body, format="json"), 400, code)
    assert not AccessToken.objects.exists()


def test_pat_limit(api, user, settings):
    settings.MAX_ACCESS_TOKENS_PER_USER = 1
    _make_pat(user)
    response = api.post("/api/auth/access_tokens", {"name": "second"}, format="json")
    _assert_error(response, 400, "access_token_limit", accounts.TOKEN_LIMIT_REACHED)
    assert AccessToken.objects.count() == 1


def test_pat_update_and_revoke(api, user):
    value = _make_pat(user)
    token = AccessToken.objects.get()
    url = f"/api/auth/access_tokens/{token.id}"
    expiry = (timezone.now() + timedelta(days=7)).isoformat()

    response = api.patch(url, {"name": "renamed", "expiry_date": expiry, "read_only": True})
    assert response.status_code == 200
    assert response.json()["name"] == "renamed"
    assert response.json()["read_only"] is True
    assert response.json()["expiry_date"] is not None
    assert api.patch(url, {"expiry_date": None}, format="json").json()["expiry_date"] is None

    refused = api.patch(url, {"expiry_date": "2001-01-01T00:00:00Z"}, format="json")
    _assert_error(refused, 400, "invalid_expiry_date")
    token.refresh_from_db()
    assert (token.name, token.expiry_date) == ("renamed", None)

    assert api.delete(url + "/").status_code == 204
    assert not AccessToken.objects.exists()
    _assert_error(_bearer(value).get("/api/users/self"), 401, "authentication_failed")


def test_another_users_pat_is_404(user, other_api, admin_api):
    _make_pat(user)
    token = AccessToken.objects.get()
    url = f"/api/auth/access_tokens/{token.id}"

    for client in (other_api, admin_api):
        _assert_error(client.get(url), 404, "not_found")
        _assert_error(client.patch(url, {"name": "mine"}, format="json"), 404, "not_found")
        _assert_error(client.delete(url), 404, "not_found")
        assert client.get("/api/auth/access_tokens").json()["count"] == 0
    assert AccessToken.objects.get().name == "ci"


def test_access_tokens_anonymous_is_401(anon_api):
    _assert_error(anon_api.get("/api/auth/access_tokens"), 401, "not_authenticated")
    _assert_error(anon_api.post("/api/auth/access_tokens", {"name": "x"}), 401, "not_authenticated")
    assert not AccessToken.objects.exists()


# --- the official SDK against a live server (contract 10) --------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sdk_password_login_and_logout(live_server, user):
    from cvat_sdk import make_client

    with make_client(live_server.url, credentials=("alice", PASSWORD)) as client:
        assert client.users.retrieve_current_user().username == "alice"
        client.logout()  # a session POST: the SDK sends X-CSRFToken
        assert not client.has_credentials()
        _close_connections(client, live_server)
    assert not Token.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sdk_personal_access_token(live_server, user):
    from cvat_sdk import make_client

    value = _make_pat(user)
    with make_client(live_server.url, access_token=value) as client:
        assert client.users.retrieve_current_user().id == user.id
        token, _ = client.api_client.auth_api.retrieve_access_tokens_self()
        assert token.name == "ci"
        _close_connections(client, live_server)


def _close_connections(client, live_server) -> None:
    # The SDK keeps its HTTP connections open, and each one holds a live-server thread.
    client.api_client.rest_client.pool_manager.connection_from_url(live_server.url).close()
