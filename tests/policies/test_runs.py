"""What a policy run does: writes one archive per item, skips unchanged items, prunes exactly
what the retention says among the archives it wrote, never anything else, and makes a failed
run visible in the API, the requests API and ``cvat-lite backup policies --check``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from cvat_lite.backup.naming import archive_name, parse_archive_name
from cvat_lite.policies import services
from cvat_lite.policies.models import PolicyArchive, PolicyRun
from cvat_lite.policies.store import backups_dir
from cvat_lite.policies.verify import archive_verify
from tests.backup.export_helpers import annotate, make_cloud_task, make_local_task
from tests.policies.helpers import create_policy, policy, run_cli

pytestmark = pytest.mark.django_db(transaction=True)


def _run(api, drain, policy_id: int) -> PolicyRun:
    response = api.post(f"/api/backup/policies/{policy_id}/run")
    assert response.status_code == 202, response.content
    drain("export")
    return PolicyRun.objects.get(pk=response.json()["id"])


def _t(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def _earlier_archive(policy_id, task, when: datetime, *, prefix: str, put) -> PolicyArchive:
    """An archive as an earlier run of the policy wrote it: the object and its record."""
    name = str(archive_name(kind="task", id=task.id, name=task.name, lightweight=False, now=when))
    key = f"{prefix}/{name}"
    content = f"earlier {when}".encode()
    put(key, content)
    return PolicyArchive.objects.create(
        policy_id=policy_id, kind="task", object_id=task.id, mode="full", name=name,
        location=policy(policy_id).location, cloud_storage_id=policy(policy_id).cloud_storage_id,
        key=key, bytes=len(content), sha256=hashlib.sha256(content).hexdigest(),
        fingerprint="0" * 64, created_date=when,
    )  # fmt: skip


def _local_put(key: str, content: bytes) -> None:
    path = backups_dir() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _local_files(prefix: str) -> set[str]:
    return {p.name for p in (backups_dir() / prefix).iterdir()}


def test_unchanged_tasks_are_not_written_again(admin_api, drain):
    task, _ = make_local_task(admin_api, drain, name="street")
    created = create_policy(admin_api, scope="task", task_id=task.id, prefix="t")

    first = _run(admin_api, drain, created["id"])
    assert (first.status, first.written, first.unchanged) == ("succeeded", 1, 0)
    assert len(_local_files("t")) == 1

    second = _run(admin_api, drain, created["id"])
    assert (second.status, second.written, second.unchanged) == ("succeeded", 0, 1)
    assert second.report[0]["status"] == "unchanged"
    assert second.report[0]["archive"] == first.report[0]["archive"]
    assert len(_local_files("t")) == 1

    # Annotations change: written again.
    annotate(admin_api, task)
    third = _run(admin_api, drain, created["id"])
    assert (third.written, third.unchanged) == (1, 0)

    # Metadata change: written again.
    admin_api.patch(f"/api/tasks/{task.id}", {"name": "avenue"}, format="json")
    fourth = _run(admin_api, drain, created["id"])
    assert (fourth.written, fourth.unchanged) == (1, 0)
    assert "_avenue_" in fourth.report[0]["archive"]
    assert _run(admin_api, drain, created["id"]).unchanged == 1

    # The last archive removed behind the policy's back: written again.
    (backups_dir() / fourth.report[0]["archive"]).unlink()
    assert _run(admin_api, drain, created["id"]).written == 1

    # The policy now writes elsewhere: a first archive there.
    admin_api.patch(f"/api/backup/policies/{created['id']}", {"prefix": "moved"}, format="json")
    moved = _run(admin_api, drain, created["id"])
    assert moved.written == 1
    assert moved.report[0]["archive"].startswith("moved/task-")
    assert _run(admin_api, drain, created["id"]).unchanged == 1


def test_pruning_removes_exactly_what_the_retention_says_and_nothing_else(admin_api, drain):
    task, _ = make_local_task(admin_api, drain, name="street")
    created = create_policy(
        admin_api, scope="task", task_id=task.id, prefix="nightly", keep_last=1, keep_daily=2
    )
    earlier = {
        text: _earlier_archive(created["id"], task, _t(text), prefix="nightly", put=_local_put)
        for text in ("2026-01-10 12:00", "2026-01-10 18:00", "2026-01-11 09:00",
                     "2026-01-12 08:00")
    }  # fmt: skip
    # Objects that look like the policy's but that it did not write (no record), and others.
    foreign = [
        str(archive_name(kind="task", id=task.id, name="street", lightweight=False,
                         now=_t("2026-01-09 12:00"))),
        str(archive_name(kind="task", id=task.id, name="street", lightweight=False,
                         now=_t("2026-01-11 09:00"))).replace(".zip", "-2.zip"),
        earlier["2026-01-10 12:00"].name + ".bak",
        "notes.txt",
    ]  # fmt: skip
    for name in foreign:
        _local_put(f"nightly/{name}", b"not the policy's")
    _local_put(f"elsewhere/{earlier['2026-01-10 18:00'].name}", b"same name, other folder")

    run = _run(admin_api, drain, created["id"])
    assert run.status == "succeeded", run.error
    assert (run.written, run.pruned) == (1, 3)
    new = PolicyArchive.objects.get(run=run)
    # keep-last 1: the new archive; keep-daily 2: the new one (today) and 2026-01-12.
    assert set(PolicyArchive.objects.values_list("name", flat=True)) == {
        new.name,
        earlier["2026-01-12 08:00"].name,
    }
    assert _local_files("nightly") == {new.name, earlier["2026-01-12 08:00"].name, *foreign}
    assert _local_files("elsewhere") == {earlier["2026-01-10 18:00"].name}


def test_a_record_whose_name_is_not_the_policys_is_never_deleted(admin_api, drain):
    task, _ = make_local_task(admin_api, drain, name="street")
    created = create_policy(admin_api, scope="task", task_id=task.id, prefix="p", keep_last=1)
    odd = _earlier_archive(created["id"], task, _t("2026-01-01 00:00"), prefix="p",
                           put=_local_put)  # fmt: skip
    # The record says another file (a hand-edited row, a name of another object).
    other = str(archive_name(kind="task", id=task.id + 1, name="street", lightweight=False,
                             now=_t("2026-01-01 00:00")))  # fmt: skip
    _local_put(f"p/{other}", b"another task's archive")
    PolicyArchive.objects.filter(pk=odd.pk).update(key=f"p/{other}", name=other)

    run = _run(admin_api, drain, created["id"])
    assert run.status == "failed"
    assert run.pruned == 0
    assert f"p/{other}: not a name this policy writes; left in place" in run.error
    assert (backups_dir() / "p" / other).read_bytes() == b"another task's archive"


def test_cloud_policy_same_names_and_foreign_objects(admin_api, admin_user, drain, cloud_bucket):
    """On each provider: writing never replaces, pruning deletes only the record's object."""
    bucket = cloud_bucket
    first = make_cloud_task(admin_api, admin_user, bucket, drain, name="street")
    second = make_cloud_task(admin_api, admin_user, bucket, drain, name="street")
    created = create_policy(
        admin_api, location="cloud_storage", cloud_storage_id=first.storage.id,
        prefix="backups/nightly", mode="whenever_possible", keep_last=1,
    )  # fmt: skip
    provider = bucket.provider()
    earlier = _earlier_archive(
        created["id"], first.task, _t("2026-01-05 00:00"), prefix="backups/nightly",
        put=lambda key, content: bucket.put(key, content),
    )  # fmt: skip
    lookalike = str(archive_name(kind="task", id=first.task.id, name="street",
                                 lightweight=True, now=_t("2026-01-04 00:00")))  # fmt: skip
    bucket.put(f"backups/nightly/{lookalike}", b"somebody else's")
    bucket.put(f"backups/{earlier.name}", b"same name, other prefix")
    before = {o.key for o in provider.iter_objects("")}

    run = _run(admin_api, drain, created["id"])
    assert run.status == "succeeded", run.error
    assert (run.written, run.pruned) == (2, 1)
    written = {entry["archive"] for entry in run.report}
    assert len(written) == 2  # two tasks named "street": two archives
    for key in written:
        parsed = parse_archive_name(key)
        assert parsed is not None and parsed.mode == "lightweight"
        assert key.startswith("backups/nightly/task-")
    after = {o.key for o in provider.iter_objects("")}
    assert after == (before - {earlier.key}) | written
    assert {(e["id"], e["status"]) for e in run.report} == {
        (first.task.id, "written"),
        (second.task.id, "written"),
    }


def test_a_failed_run_is_visible_everywhere(admin_api, drain):
    task, _ = make_local_task(admin_api, drain, name="street")
    good = create_policy(admin_api, name="good", scope="task", task_id=task.id)
    assert _run(admin_api, drain, good["id"]).status == "succeeded"
    assert run_cli("--check")[0] == 0

    # A lightweight backup of a local task is not possible: the item fails.
    bad = create_policy(admin_api, name="bad", scope="task", task_id=task.id, mode="lightweight")
    run = _run(admin_api, drain, bad["id"])
    assert run.status == "failed"
    assert run.failed == 1
    message = "A lightweight backup is only possible for a task whose media are in a cloud storage."
    assert run.error == f"task #{task.id}: {message}"

    body = admin_api.get(f"/api/backup/policies/{bad['id']}").json()
    assert body["last_status"] == "failed"
    assert body["last_error"] == run.error
    assert body["last_run"]["id"] == run.id
    request = admin_api.get(f"/api/requests/{run.request_id}").json()
    assert request["status"] == "failed"
    assert message in request["message"]
    runs = admin_api.get(f"/api/backup/policies/{bad['id']}/runs").json()
    assert [r["status"] for r in runs["results"]] == ["failed"]

    code, out, err = run_cli("--check")
    assert code == 1
    assert "1 of 2 policies failing" in out
    assert f"Policy #{bad['id']} bad: last run failed: {run.error}" in err
    assert run_cli()[0] == 0  # listing alone does not fail

    admin_api.patch(f"/api/backup/policies/{bad['id']}", {"mode": "full"}, format="json")
    assert _run(admin_api, drain, bad["id"]).status == "succeeded"
    code, out, _ = run_cli("--check")
    assert code == 0
    assert "All policies OK" in out


def test_verify_after_writing(admin_api, drain):
    task, _ = make_local_task(admin_api, drain, name="street")
    created = create_policy(admin_api, scope="task", task_id=task.id, verify_after_write=True)
    run = _run(admin_api, drain, created["id"])
    assert run.status == "succeeded", run.error
    archive = PolicyArchive.objects.get()
    assert archive.verified is True
    path = backups_dir() / archive.key
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    assert archive_verify(policy=policy(created["id"]), archive=archive) is not None
    path.unlink()
    assert archive_verify(policy=policy(created["id"]), archive=archive) == (
        "the archive is missing"
    )


def test_policy_items_all_takes_projects_and_loose_tasks(admin_api, drain):
    project = admin_api.post(
        "/api/projects", {"name": "p", "labels": [{"name": "cat"}]}, format="json"
    ).json()
    in_project, _ = make_local_task(admin_api, drain, name="inside", project_id=project["id"])
    loose, _ = make_local_task(admin_api, drain, name="loose")
    created = create_policy(admin_api)
    items = services.policy_items(policy(created["id"]))
    assert [(item.kind, item.obj.id) for item in items] == [
        ("project", project["id"]),
        ("task", loose.id),
    ]
    assert in_project.id not in {item.obj.id for item in items if item.kind == "task"}
