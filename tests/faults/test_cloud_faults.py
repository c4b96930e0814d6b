"""The cloud storage failing in the middle of an operation (faults): the bucket deleted,
its objects deleted, or the credentials revoked (the proxy switches to the auth-enforcing
emulator, which refuses them) — after a full export has written some media, while the result
of an export is uploaded, between a relink's availability check and its listing, and between two
tasks of a project relink. Each fails with a clear message and leaves nothing half-written."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cvat_lite.engine.models import Project
from tests.backup.export_helpers import make_cloud_task
from tests.backup.relink_helpers import bucket_storage, cloud_task, link_of, objects_for
from tests.backup.restore_helpers import snapshot
from tests.faults.helpers import (
    api_request,
    assert_unchanged,
    delete_s3_bucket,
    listing,
    object_get,
    post_export,
)
from tests.faults.proxy import GatedProxy, Match
from tests.fixtures.emulators import EmulatedBucket, MotoS3

pytestmark = pytest.mark.django_db(transaction=True)

Fault = Callable[[MotoS3, GatedProxy, str], None]


def bucket_deleted(emulator: MotoS3, proxy: GatedProxy, resource: str) -> None:
    delete_s3_bucket(emulator, resource)


def objects_deleted(emulator: MotoS3, proxy: GatedProxy, resource: str) -> None:
    client = emulator.client()
    for item in client.list_objects_v2(Bucket=resource).get("Contents", []):
        client.delete_object(Bucket=resource, Key=item["Key"])


def credentials_revoked(emulator: MotoS3, proxy: GatedProxy, resource: str) -> None:
    proxy.upstream = emulator.forbidden_config(resource).attributes["endpoint_url"]


# fault -> (export message, relink code, relink status)
FAULTS: dict[str, tuple[Fault, str, str, str | None]] = {
    "bucket deleted": (
        bucket_deleted,
        "The cloud storage resource was not found.",
        "cloud_storage_not_available",
        "NOT_FOUND",
    ),
    "objects deleted": (
        objects_deleted,
        "The object 'ds/b.png' was not found in the cloud storage.",
        "relink_verification_failed",
        None,
    ),
    "credentials revoked": (
        credentials_revoked,
        "Access to the cloud storage is forbidden.",
        "cloud_storage_not_available",
        "FORBIDDEN",
    ),
}


def _inject(fault: Fault, emulator: MotoS3, proxy: GatedProxy, resource: str) -> Callable[[], None]:
    return lambda: fault(emulator, proxy, resource)


def nth(match: Match, n: int) -> Match:
    """Matches the ``n``-th request that ``match`` matches."""
    seen = 0

    def matches(method: str, path: str) -> bool:
        nonlocal seen
        if match(method, path):
            seen += 1
        return seen == n

    return matches


@pytest.fixture
def forbidden_ready(s3_emulator: MotoS3) -> None:
    """Start the auth-enforcing emulator before the test (it takes a few seconds)."""
    s3_emulator.forbidden_config("warm-up")


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_full_export_when_the_storage_fails_mid_way(
    name, api, user, proxied_bucket, s3_proxy, s3_emulator, drain, settings, forbidden_ready
):
    fault, message, _, _ = FAULTS[name]
    cloud = make_cloud_task(api, user, proxied_bucket, drain)
    settings.BACKUP_FETCH_CONCURRENCY = 1  # a.jpg is written before b.png is asked for
    resource = proxied_bucket.config.resource
    gate = s3_proxy.before(object_get("ds/b.png"), _inject(fault, s3_emulator, s3_proxy, resource))
    before = snapshot()

    rq_id = post_export(api, cloud.task.id)
    drain("export")

    assert gate.reached.is_set()
    request = api_request(api, rq_id)
    assert (request["status"], request["message"]) == ("failed", message)
    assert 0 < request["progress"] < 1  # it was mid-way
    assert request["result_url"] is None
    response = api.get(f"/api/tasks/{cloud.task.id}/backup/download?rq_id={rq_id}")
    assert (response.status_code, response.json()["code"]) == (409, "export_failed")
    assert_unchanged(before)  # no partial or final file


def test_an_export_whose_upload_is_refused_mid_way(
    api, user, proxied_bucket, s3_proxy, s3_emulator, drain, forbidden_ready
):
    cloud = make_cloud_task(api, user, proxied_bucket, drain)
    resource = proxied_bucket.config.resource
    objects = {
        item["Key"] for item in s3_emulator.client().list_objects_v2(Bucket=resource)["Contents"]
    }
    gate = s3_proxy.before(
        lambda method, path: method == "PUT" and path.split("?")[0].endswith("/out/backup.zip"),
        _inject(credentials_revoked, s3_emulator, s3_proxy, resource),
    )
    before = snapshot()

    query = f"location=cloud_storage&cloud_storage_id={cloud.storage.id}&filename=out/backup.zip"
    rq_id = post_export(api, cloud.task.id, query)
    drain("export")

    assert gate.reached.is_set()
    request = api_request(api, rq_id)
    assert (request["status"], request["message"]) == (
        "failed",
        "Access to the cloud storage is forbidden.",
    )
    assert_unchanged(before)  # the written archive was removed
    listed = s3_emulator.client().list_objects_v2(Bucket=resource)["Contents"]
    assert {item["Key"] for item in listed} == objects  # nothing uploaded


@pytest.fixture
def linked_elsewhere(user, s3_emulator: MotoS3) -> tuple:
    """A cloud task of 3 frames linked to a first storage, and its objects."""
    objects = objects_for(3)
    first = bucket_storage(user, EmulatedBucket(s3_emulator, s3_emulator.create_bucket()), objects)
    return cloud_task(user, objects, storage=first), objects


def _relink(api, task, storage_id: int):
    return api.patch(
        f"/api/tasks/{task.id}/data/meta", {"cloud_storage_id": storage_id}, format="json"
    )


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_relink_when_the_storage_fails_between_availability_check_and_listing(
    name, api, user, linked_elsewhere, proxied_bucket, s3_proxy, s3_emulator, forbidden_ready
):
    fault, _, code, status = FAULTS[name]
    task, objects = linked_elsewhere
    target = bucket_storage(user, proxied_bucket, objects)
    resource = proxied_bucket.config.resource
    # The availability check is the first listing (one item); the fault comes before the second.
    gate = s3_proxy.before(nth(listing, 2), _inject(fault, s3_emulator, s3_proxy, resource))
    before, link = snapshot(), link_of(task)

    response = _relink(api, task, target.id)

    assert gate.reached.is_set()
    seen = [(method, "max-keys=1&" in path) for method, path in s3_proxy.seen]
    assert seen == [("GET", True), ("GET", False)]  # the check's listing of one, then the listing
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code
    if status is None:
        assert body["message"] == (
            f"Cloud storage #{target.id} does not hold the task's media: 3 missing, "
            "0 with other content (of 3 objects). Checked: one listing under 'ds/' (0 objects "
            "listed), 0 of 3 present; 0 compared by size/fingerprint (0 matched); 0 of 0 known "
            "only by CVAT's pixel checksum downloaded and compared (0 matched); 0 present but "
            "not compared."
        )
    else:
        assert body["message"] == f"Cloud storage #{target.id} is not available ({status})."
    assert link_of(task) == link  # the link, chunks date and task date are unchanged
    assert_unchanged(before)  # no cache entry dropped or added


def test_a_project_relink_when_the_credentials_are_revoked_between_tasks(
    api, user, proxied_bucket, s3_proxy, s3_emulator, forbidden_ready
):
    project = Project.objects.create(owner=user, name="p")
    first, second = objects_for(2, "a/"), objects_for(2, "b/")
    storage = bucket_storage(user, proxied_bucket, {**first, **second})
    a = cloud_task(user, first, project=project, name="a")
    b = cloud_task(user, second, project=project, name="b")
    resource = proxied_bucket.config.resource
    # Listings: the storage's availability check (one item), task a's, then task b's.
    gate = s3_proxy.before(
        nth(listing, 3), _inject(credentials_revoked, s3_emulator, s3_proxy, resource)
    )
    link_b = link_of(b)

    response = api.patch(
        f"/api/projects/{project.id}/cloud_storage", {"cloud_storage_id": storage.id}, format="json"
    )

    assert gate.reached.is_set()
    assert response.status_code == 200, response.content
    body = response.json()
    verifications = body.pop("verifications")
    assert body == {
        "relinked": [a.id],
        "failed": [
            {
                "task_id": b.id,
                "code": "cloud_storage_not_available",
                "message": f"Cloud storage #{storage.id} is not available (FORBIDDEN).",
                "extra": {"status": "FORBIDDEN"},
            }
        ],
        "dry_run": False,
    }
    assert [v["task_id"] for v in verifications] == [a.id]  # b's listing failed: no report
    assert link_of(a)[0] == storage.id
    assert link_of(b) == link_b
