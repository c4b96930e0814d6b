"""``/api/backup/policies``: validation with exact messages, owner/admin access, nothing saved
on refusal."""

from __future__ import annotations

import pytest

from cvat_lite.policies import schedule, services
from cvat_lite.policies.models import BackupPolicy
from tests.api.media_helpers import make_task, storage_row
from tests.policies.helpers import create_policy

pytestmark = pytest.mark.django_db(transaction=True)

BASE = {"name": "n", "scope": "all", "location": "local", "cron": "0 2 * * *"}


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"cron": "61 2 * * *"}, "invalid_cron", schedule.MSG_BAD_CRON.format(
            cron="61 2 * * *", macros=", ".join(schedule.MACROS))),
        ({"cron": "* * * * * *"}, "invalid_cron", schedule.MSG_BAD_CRON.format(
            cron="* * * * * *", macros=", ".join(schedule.MACROS))),
        ({"timezone": "Mars/Olympus"}, "invalid_timezone",
         schedule.MSG_BAD_TIMEZONE.format(tz="Mars/Olympus")),
        ({"timezone": "../etc/passwd"}, "invalid_timezone",
         schedule.MSG_BAD_TIMEZONE.format(tz="../etc/passwd")),
        ({"scope": "task"}, "invalid", services.MSG_SCOPE_NEEDS.format(
            scope="task", field="task_id")),
        ({"scope": "task", "task_id": 999}, "task_not_found",
         services.MSG_NOT_FOUND.format(what="Task", id=999)),
        ({"location": "cloud_storage"}, "cloud_storage_id_required",
         "'cloud_storage_id' is required with location=cloud_storage."),
        ({"prefix": "a/../b"}, "invalid_prefix",
         "The prefix must be a relative path without '.' or '..' segments."),
    ],
)  # fmt: skip
def test_invalid_policies_are_refused_and_nothing_is_saved(admin_api, fields, code, message):
    response = admin_api.post("/api/backup/policies", {**BASE, **fields}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert response.json()["message"] == message
    assert not BackupPolicy.objects.exists()
    assert schedule._registry().get_job_ids() == []


def test_negative_retention_is_refused(admin_api):
    response = admin_api.post("/api/backup/policies", {**BASE, "keep_last": -1}, format="json")
    assert response.status_code == 400
    assert not BackupPolicy.objects.exists()


def test_a_user_manages_own_policies_only(api, user, other_api, other_user, admin_api):
    task = make_task(user, "mine")
    # Everything, or another user's objects: administrators only.
    response = api.post("/api/backup/policies", BASE, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == services.MSG_ADMIN_ONLY
    response = api.post(
        "/api/backup/policies",
        {**BASE, "scope": "owner", "target_owner_id": other_user.id},
        format="json",
    )
    assert response.status_code == 403
    # Another user's task is not visible: as if it did not exist.
    response = other_api.post(
        "/api/backup/policies", {**BASE, "scope": "task", "task_id": task.id}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "task_not_found"

    mine = create_policy(api, scope="task", task_id=task.id)
    assert mine["owner"]["username"] == user.username
    own = create_policy(api, scope="owner", target_owner_id=user.id)
    assert [p["id"] for p in api.get("/api/backup/policies").json()["results"]] == [
        mine["id"], own["id"],
    ]  # fmt: skip
    assert other_api.get("/api/backup/policies").json()["count"] == 0
    for path in ("", "/runs", "/archives"):
        assert other_api.get(f"/api/backup/policies/{mine['id']}{path}").status_code == 404
    assert other_api.post(f"/api/backup/policies/{mine['id']}/run").status_code == 404
    assert other_api.delete(f"/api/backup/policies/{mine['id']}").status_code == 404
    assert admin_api.get("/api/backup/policies").json()["count"] == 2
    assert admin_api.get(f"/api/backup/policies/{mine['id']}").status_code == 200


def test_policy_body_and_updates(admin_api, admin_user, s3_bucket):
    storage = storage_row(admin_user, s3_bucket)
    created = create_policy(
        admin_api,
        location="cloud_storage",
        cloud_storage_id=storage.id,
        prefix="/backups/nightly/",
        cron="30 1 * * 1-5",
        timezone="Europe/Berlin",
        keep_last=2,
        keep_daily=7,
        keep_weekly=4,
        keep_monthly=12,
        mode="whenever_possible",
    )
    assert created["prefix"] == "backups/nightly"
    assert created["last_run"] is None and created["last_status"] is None
    assert created["last_error"] == ""
    assert created["next_run"] is not None
    assert (created["keep_last"], created["keep_daily"], created["keep_weekly"],
            created["keep_monthly"]) == (2, 7, 4, 12)  # fmt: skip

    response = admin_api.patch(
        f"/api/backup/policies/{created['id']}", {"location": "local"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["cloud_storage_id"] is None
    # Only what the PATCH names changes.
    assert response.json()["mode"] == "whenever_possible"
    assert response.json()["keep_daily"] == 7
    assert response.json()["timezone"] == "Europe/Berlin"
    response = admin_api.patch(
        f"/api/backup/policies/{created['id']}", {"cron": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert BackupPolicy.objects.get().cron == "30 1 * * 1-5"  # unchanged

    assert admin_api.delete(f"/api/backup/policies/{created['id']}").status_code == 204
    assert not BackupPolicy.objects.exists()
