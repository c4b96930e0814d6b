"""The Backup policies page shows each policy's last run, a failed one with its error, and
queues a run with "Run now"."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from tests.e2e.helpers import ApiSession, open_page, screenshot


def _policy(web: ApiSession, name: str, task_id: int, mode: str) -> dict:
    body = {"name": name, "scope": "task", "task_id": task_id, "mode": mode,
            "location": "local", "cron": "0 2 * * *", "keep_last": 3}  # fmt: skip
    policy = web.call("POST", "/api/backup/policies", 201, json=body)
    assert policy is not None
    return policy


def _until_done(web: ApiSession, rq_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        request = web.call("GET", f"/api/requests/{rq_id}", 200)
        if request is not None and request["status"] in ("finished", "failed"):
            return
        time.sleep(0.1)
    raise AssertionError(f"request {rq_id} did not end")


def test_a_failed_policy_shows_its_error(page: Page, web: ApiSession):
    task = web.local_task("street")
    good = _policy(web, "nightly full", task["id"], "full")
    bad = _policy(web, "nightly light", task["id"], "lightweight")  # a local task: fails
    for policy in (good, bad):
        run = web.call("POST", f"/api/backup/policies/{policy['id']}/run", 202)
        assert run is not None
        _until_done(web, run["request_id"])

    open_page(page, web, "/backup-policies")
    good_row = page.locator(f"tr[data-policy-id='{good['id']}']")
    bad_row = page.locator(f"tr[data-policy-id='{bad['id']}']")
    expect(good_row).to_have_attribute("data-last-status", "succeeded")
    expect(good_row).to_contain_text("1 written, 0 unchanged, 0 failed, 0 pruned")
    expect(bad_row).to_have_attribute("data-last-status", "failed")
    expect(bad_row.locator("[data-last-error]")).to_contain_text(
        "A lightweight backup is only possible for a task whose media are in a cloud storage."
    )
    expect(bad_row).to_contain_text("3 last")
    screenshot(page, "backup-policies")

    good_row.get_by_role("button", name="Run now").click()
    expect(page.locator("#live-state")).to_contain_text('Run of "nightly full" queued')
