"""contract 3: server information, and the live schema and docs."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from packaging.version import Version
from rest_framework.test import APIClient

from cvat_lite.api import server

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in() -> APIClient:
    # No password: hashing one is the slowest thing these tests would do.
    client = APIClient()
    client.force_authenticate(get_user_model().objects.create(username="alice"))
    return client


@pytest.mark.parametrize("path", ["/api/server/about", "/api/server/about/"])
def test_about_is_anonymous_and_complete(anon_api, path):
    response = anon_api.get(path)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"name", "description", "version", "logo_url", "subtitle"}
    assert all(isinstance(value, str) for value in body.values())
    assert body["version"] == server.SERVER_VERSION
    assert Version(body["version"]).release[:2] == (2, 80)


def test_about_for_authenticated_users(signed_in):
    assert signed_in.get("/api/server/about").json()["version"] == "2.80.0"


def test_plugins(signed_in, anon_api):
    assert signed_in.get("/api/server/plugins").json() == {"analytics": False, "models": False}
    response = anon_api.get("/api/server/plugins/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "path", ["/api/schema", "/api/schema/", "/api/docs", "/api/docs/", "/api/redoc", "/api/redoc/"]
)
def test_schema_and_docs_are_served_to_anyone(path):
    # As in CVAT: the API description is public, it holds no data.
    response = APIClient().get(path)
    assert response.status_code == 200


def test_schema_names_the_api_version():
    response = APIClient().get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/server/about/" in response.json()["paths"]


@pytest.mark.django_db(transaction=True)
def test_sdk_accepts_the_server_version(live_server):
    from cvat_sdk import Client, Config

    # Raises IncompatibleVersionException unless /about answers a 2.80-series version.
    with Client(live_server.url, config=Config(allow_unsupported_server=False)) as client:
        assert client.get_server_version() == Version(server.SERVER_VERSION)
        _close_connections(client, live_server)


def _close_connections(client, live_server) -> None:
    # The SDK keeps its HTTP connections open, and each one holds a live-server thread.
    client.api_client.rest_client.pool_manager.connection_from_url(live_server.url).close()


@pytest.mark.parametrize("path", ["/api/docs", "/api/redoc", "/api/docs?script="])
def test_docs_pages_load_nothing_from_elsewhere(path):
    """The reference pages name only this server's files (no CDN, no web fonts), each of which
    the server serves, and forbid the browser anything else (Content-Security-Policy)."""
    client = APIClient()
    response = client.get(path)
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    body = response.content.decode()
    assert re.findall(r"https?://", body) == []
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", body)
    if path != "/api/docs?script=":
        assert any(asset.startswith("/static/drf_spectacular_sidecar/") for asset in assets)
    for asset in assets:
        if asset.startswith("/static/"):
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert b"".join(served.streaming_content)


@pytest.mark.parametrize("path", ["/static/../settings.py", "/static/drf_spectacular_sidecar/x.js"])
def test_static_route_serves_only_existing_static_files(path):
    response = APIClient().get(path)
    assert response.status_code == 404
