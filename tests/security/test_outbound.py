"""contract 4.4: a user-supplied endpoint is a server-side request.

- An endpoint outside ``CLOUD_ENDPOINT_ALLOWLIST`` is refused before any connection: on
  create, on PATCH, and for a storage saved earlier whose endpoint the allowlist no longer
  allows (status, content, data creation, frames, exports, imports, relinks). "Before any
  connection" is checked with a TCP listener at that endpoint that counts connections.
- A redirect from an allowed endpoint to another host is not followed: the redirect target
  (a counting listener on a port outside the allowlist) never sees a connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from cvat_lite.engine.models import CloudStorage, Project, Task
from cvat_lite.requests.models import Request
from tests.api.media_helpers import make_image
from tests.backup.relink_helpers import cloud_task
from tests.fixtures.emulators import AZURITE_ACCOUNT, AZURITE_KEY, MOTO_KEY, MOTO_SECRET
from tests.security.servers import ConnectionCounter, Redirector

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDERS = ["s3", "azure", "azure_sas", "gcs"]
ELSEWHERE = "127.0.0.1:1"  # the only allowed endpoint when none of ours may be
OBJECTS = {"ds/a.jpg": make_image(4, 3), "ds/b.jpg": make_image(5, 3)}


def storage_body(provider: str, endpoint: str, resource: str = "bucket-x") -> dict:
    """A create body for ``provider`` whose requests go to ``endpoint``."""
    common = {"resource": resource, "display_name": f"{provider} storage"}
    attribute = f"endpoint_url={quote(endpoint, safe='')}"
    if provider == "s3":
        return {
            **common,
            "provider_type": "AWS_S3_BUCKET",
            "credentials_type": "KEY_SECRET_KEY_PAIR",
            "key": MOTO_KEY,
            "secret_key": MOTO_SECRET,
            "specific_attributes": f"{attribute}&region=us-east-1",
        }
    if provider == "azure":
        return {
            **common,
            "provider_type": "AZURE_CONTAINER",
            "credentials_type": "CONNECTION_STRING",
            "connection_string": (
                f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint}/{AZURITE_ACCOUNT};"
            ),
        }
    if provider == "azure_sas":
        return {
            **common,
            "provider_type": "AZURE_CONTAINER",
            "credentials_type": "ACCOUNT_NAME_TOKEN_PAIR",
            "account_name": AZURITE_ACCOUNT,
            "session_token": "sv=2021-08-06&sr=c&sp=rl&sig=bm90LWEtc2lnbmF0dXJl",
            "specific_attributes": f"endpoint_url={quote(f'{endpoint}/{AZURITE_ACCOUNT}')}",
        }
    return {
        **common,
        "provider_type": "GOOGLE_CLOUD_STORAGE",
        "credentials_type": "ANONYMOUS_ACCESS",
        "specific_attributes": f"{attribute}&project=test",
    }


def storage_row(owner, provider: str, endpoint: str) -> CloudStorage:
    """A storage saved earlier (no check now) whose requests go to ``endpoint``."""
    body = storage_body(provider, endpoint)
    fields = ("key", "secret_key", "session_token", "account_name", "connection_string")
    return CloudStorage.objects.create(
        owner=owner,
        provider_type=body["provider_type"],
        resource=body["resource"],
        display_name=body["display_name"],
        credentials_type=body["credentials_type"],
        credentials={name: body[name] for name in fields if name in body},
        specific_attributes=body.get("specific_attributes", ""),
    )


@pytest.fixture
def counter() -> Iterator[ConnectionCounter]:
    listener = ConnectionCounter()
    yield listener
    listener.close()


def _error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    if code is not None:
        assert body["code"] == code, body
    return body


def _failed(api, drain, response, queue: str) -> dict:
    """A request accepted (202) that fails in the worker."""
    assert response.status_code == 202, response.content[:300]
    drain(queue)
    request = api.get(f"/api/requests/{response.json()['rq_id']}").json()
    assert request["status"] == "failed", request
    return request


# --- outside the allowlist ---------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_create_outside_the_allowlist_is_refused_before_any_connection(
    provider, api, counter, settings
):
    settings.CLOUD_ENDPOINT_ALLOWLIST = [ELSEWHERE]
    response = api.post("/api/cloudstorages", storage_body(provider, counter.url), format="json")
    body = _error(response, 400, "endpoint_not_allowed")
    assert f"127.0.0.1:{counter.port}" in body["message"]
    assert not CloudStorage.objects.exists()
    assert counter.accepted == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_patch_to_outside_the_allowlist_is_refused_before_any_connection(
    provider, api, user, counter, settings
):
    allowed = ConnectionCounter()  # where the storage points now: allowed, yet never asked
    try:
        settings.CLOUD_ENDPOINT_ALLOWLIST = [f"127.0.0.1:{allowed.port}"]
        storage = storage_row(user, provider, allowed.url)
        before = CloudStorage.objects.values().get(pk=storage.pk)
        moved = storage_body(provider, counter.url)
        change = {k: v for k, v in moved.items() if k not in ("resource", "display_name")}
        response = api.patch(f"/api/cloudstorages/{storage.pk}", change, format="json")
        _error(response, 400, "endpoint_not_allowed")
        assert CloudStorage.objects.values().get(pk=storage.pk) == before
        assert (counter.accepted, allowed.accepted) == (0, 0)
    finally:
        allowed.close()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_storage_whose_endpoint_is_no_longer_allowed_is_never_contacted(
    provider, api, user, counter, settings, drain
):
    storage = storage_row(user, provider, counter.url)
    linked = cloud_task(user, OBJECTS, storage=storage, name="linked")
    unlinked = cloud_task(user, OBJECTS, name="unlinked")
    project = Project.objects.create(owner=user, name="p")
    cloud_task(user, OBJECTS, project=project, name="in project")
    empty = Task.objects.create(owner=user, name="empty")
    settings.CLOUD_ENDPOINT_ALLOWLIST = [ELSEWHERE]  # the setting changed since it was saved
    sid, base = storage.pk, f"/api/tasks/{linked.id}"

    _error(api.get(f"/api/cloudstorages/{sid}/status"), 400, "endpoint_not_allowed")
    _error(api.get(f"/api/cloudstorages/{sid}/content-v2"), 400, "endpoint_not_allowed")
    moved = api.patch(f"/api/cloudstorages/{sid}", {"resource": "bucket-y"}, format="json")
    _error(moved, 400, "endpoint_not_allowed")  # a connection change is re-checked first
    for query in (
        "type=frame&number=0&quality=original",
        "type=frame&number=1&quality=compressed",
        "type=chunk&number=0&quality=original",
        "type=context_image&number=0",
    ):
        _error(api.get(f"{base}/data?{query}"), 409, "cloud_storage_unavailable")
    _error(api.get(f"{base}/preview"), 409, "cloud_storage_unavailable")
    data = {"server_files": ["ds/a.jpg"], "cloud_storage_id": sid}
    created = api.post(f"/api/tasks/{empty.id}/data", data, format="json")
    _error(created, 400, "endpoint_not_allowed")
    _error(api.post(f"{base}/backup/export"), 400, "endpoint_not_allowed")
    to_storage = f"location=cloud_storage&cloud_storage_id={sid}"
    exported = api.post(f"{base}/backup/export?lightweight=true&{to_storage}")
    _error(exported, 400, "endpoint_not_allowed")
    project_export = api.post(f"/api/projects/{project.id}/backup/export?{to_storage}")
    _error(project_export, 400, "endpoint_not_allowed")
    imported = api.post(f"/api/tasks/backup?{to_storage}&filename=b.zip")
    _error(imported, 400, "endpoint_not_allowed")
    relink = {"cloud_storage_id": sid}
    meta = f"/api/tasks/{unlinked.id}/data/meta"
    _error(api.patch(meta, relink, format="json"), 400, "endpoint_not_allowed")
    project_relink = api.patch(f"/api/projects/{project.id}/cloud_storage", relink, format="json")
    _error(project_relink, 400, "endpoint_not_allowed")

    assert counter.accepted == 0
    assert Task.objects.get(pk=unlinked.id).data.cloud_storage_id is None
    assert Task.objects.get(pk=empty.id).data is None
    assert not Request.objects.exists()  # refused before anything was queued


# --- redirects ---------------------------------------------------------------------------------


@pytest.fixture
def redirect(counter) -> Iterator[tuple[Redirector, ConnectionCounter]]:
    """An allowed endpoint that redirects every request to ``counter`` (not allowed)."""
    redirector = Redirector(counter.url)
    yield redirector, counter
    redirector.close()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_redirects_to_a_host_outside_the_allowlist_are_not_followed(
    provider, api, user, redirect, settings, drain
):
    redirector, target = redirect
    settings.CLOUD_ENDPOINT_ALLOWLIST = [f"127.0.0.1:{redirector.port}"]

    response = api.post("/api/cloudstorages", storage_body(provider, redirector.url), format="json")
    _error(response, 400, "cloud_storage_not_available")
    assert redirector.hits, "the allowed endpoint was asked"

    storage = storage_row(user, provider, redirector.url)
    linked = cloud_task(user, OBJECTS, storage=storage, name="linked")
    unlinked = cloud_task(user, OBJECTS, name="unlinked")
    assert api.get(f"/api/cloudstorages/{storage.pk}/status").json() == "NOT_FOUND"
    frame = api.get(f"/api/tasks/{linked.id}/data?type=frame&number=0&quality=original")
    _error(frame, 409, "cloud_storage_unavailable")
    relink = {"cloud_storage_id": storage.pk}
    meta = f"/api/tasks/{unlinked.id}/data/meta"
    _error(api.patch(meta, relink, format="json"), 400, "cloud_storage_not_available")
    _failed(api, drain, api.post(f"/api/tasks/{linked.id}/backup/export"), "export")
    empty = Task.objects.create(owner=user, name="empty")
    data = {"server_files": ["ds/a.jpg"], "cloud_storage_id": storage.pk}
    _failed(api, drain, api.post(f"/api/tasks/{empty.id}/data", data, format="json"), "create")
    imported = api.post(
        f"/api/tasks/backup?location=cloud_storage&cloud_storage_id={storage.pk}&filename=b.zip"
    )
    _failed(api, drain, imported, "import")

    assert target.accepted == 0
