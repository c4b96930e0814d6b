"""Restoring a project backup lands on the project; its unlinked cloud tasks are offered a
storage right there (PATCH /api/projects/{id}/cloud_storage)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import ApiSession, open_page, put_images, ready


def test_restore_project_and_connect_its_tasks(page: Page, web: ApiSession, s3_emulator, tmp_path):
    bucket = s3_emulator.create_bucket()
    put_images(s3_emulator, bucket, 2)
    storage = web.s3_storage(s3_emulator, bucket, "images")
    project = web.project("mixed")
    web.cloud_task("in the cloud", storage["id"], project_id=project["id"])
    web.local_task("on the server", project_id=project["id"])
    started = web.call("POST", f"/api/projects/{project['id']}/backup/export?lightweight=true", 202)
    result_url = web.wait(started["rq_id"])["result_url"]
    backup = tmp_path / "mixed.zip"
    backup.write_bytes(web.http.get(result_url, timeout=30).content)
    web.call("DELETE", f"/api/cloudstorages/{storage['id']}", 204)  # nothing to auto-link to

    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    open_page(page, web, "/restore")
    page.get_by_label("Project").check()
    page.get_by_label("Backup file (.zip)").set_input_files(backup)
    page.get_by_role("button", name="Restore").click()
    expect(page).to_have_url(re.compile(r"/\?project=\d+&restored="))
    ready(page)
    expect(page.locator("#restored-banner")).to_contain_text("Restored from a backup")
    tasks = page.locator("#tasks-table tbody tr[data-task-id]")
    expect(tasks).to_have_count(2)
    expect(tasks.locator("[data-state='unlinked']")).to_have_count(1)
    # The local task is "on the server" (its preview answers), the cloud one "not connected"
    # (its preview is a 409): the list reads no data/meta, which lists every frame.
    expect(tasks.locator("[data-state='server']")).to_have_text("on the server")
    assert [url for url in requested if url.endswith("/data/meta")] == []
    offer = page.locator("#project-relink")
    expect(offer).to_contain_text("1 task of “mixed” is not connected")

    again = web.s3_storage(s3_emulator, bucket, "images-again")
    page.reload()
    ready(page)
    offer.get_by_label("Cloud storage").select_option(str(again["id"]))
    offer.get_by_role("button", name="Connect").click()
    result = page.locator("#project-relink-result")
    expect(result).to_contain_text("images-again holds the images of “in the cloud”.")
    expect(tasks.locator("[data-state='unlinked']")).to_have_count(1)  # checked, not saved
    result.get_by_role("button", name="Connect 1 task").click()
    expect(result).to_contain_text("Connected: “in the cloud”.")
    expect(offer).to_be_hidden()
    expect(tasks.locator("[data-state='cloud']")).to_have_text("cloud · images-again")
