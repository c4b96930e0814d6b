"""The whole lightweight path in the browser: export a cloud task lightweight, lose its
storage, restore the backup, see "not connected", fail a relink (missing objects), add the
right storage on the Cloud storages page, relink, see the frames."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    ApiSession,
    add_storage_in_form,
    choose,
    open_page,
    put_images,
    ready,
    screenshot,
)

IMAGES = 7  # more than the relink error lists (5)


def test_restore_not_connected_relink_frames(page: Page, web: ApiSession, s3_emulator, tmp_path):
    bucket = s3_emulator.create_bucket()
    keys = put_images(s3_emulator, bucket, IMAGES)
    origin = web.s3_storage(s3_emulator, bucket, "origin")
    web.s3_storage(s3_emulator, s3_emulator.create_bucket(), "empty")
    gone_bucket = s3_emulator.create_bucket()
    web.s3_storage(s3_emulator, gone_bucket, "gone")
    s3_emulator.client().delete_bucket(Bucket=gone_bucket.resource)
    task = web.cloud_task("street", origin["id"])

    # The cloud task: its storage in the field, its first frame.
    open_page(page, web, f"/tasks/{task['id']}")
    expect(page.locator("#task-title")).to_have_text("street")
    expect(page.get_by_label("Cloud storage")).to_have_value(str(origin["id"]))
    expect(page.locator("#frame")).to_have_attribute("data-frame", "0")

    # A lightweight export through the dialog, downloaded by the browser.
    page.get_by_role("button", name="Export backup").click()
    page.get_by_role("switch", name="Lightweight backup").check()
    page.get_by_role("button", name="Export", exact=True).click()
    download_link = page.get_by_role("link", name="Download backup")
    expect(download_link).to_be_visible()
    with page.expect_download() as download:
        download_link.click()
    backup = tmp_path / "street-light.zip"
    download.value.save_as(backup)
    assert "lightweight" in download.value.suggested_filename
    page.get_by_role("button", name="Close").click()

    # The storage goes away: the task is "not connected" everywhere.
    web.call("DELETE", f"/api/cloudstorages/{origin['id']}", 204)

    # Restore: upload, progress, land on the new task, which says it is not connected.
    open_page(page, web, "/restore")
    page.get_by_label("Task").check()
    page.get_by_label("Backup file (.zip)").set_input_files(backup)
    page.get_by_role("button", name="Restore").click()
    expect(page).to_have_url(re.compile(r"/tasks/(\d+)\?restored="))
    ready(page)
    restored_id = int(re.search(r"/tasks/(\d+)", page.url).group(1))
    assert restored_id != task["id"]
    expect(page.locator("#unlinked-banner")).to_be_visible()
    expect(page.locator("#restored-banner")).to_contain_text("Restored from a backup")
    field = page.locator("#cloud-storage-field")
    expect(field).to_have_attribute("data-state", "unlinked")
    expect(field.locator("#cloud-storage-warning")).to_have_text("not connected")
    expect(page.locator("#frame-message")).to_contain_text("not connected")
    screenshot(page, "task-not-connected")

    # Leaving the selector without choosing keeps things as they are: no PATCH, still unlinked.
    patches: list[str] = []
    page.on("request", lambda r: patches.append(r.url) if r.method == "PATCH" else None)
    select = page.get_by_label("Cloud storage")
    select.focus()
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(select).to_have_value("")
    expect(field).to_have_attribute("data-state", "unlinked")
    assert patches == []

    # A storage whose bucket is gone: refused, with the server's reason.
    choose(select, "gone")
    error = page.locator("#relink-error")
    expect(error).to_have_text("gone cannot be used right now (its status is NOT_FOUND).")
    expect(select).to_have_value("")
    expect(field).to_have_attribute("data-state", "unlinked")

    # The empty storage: refused, with the server's reason and the first missing keys.
    choose(select, "empty")
    expect(error).to_be_visible()
    expect(error).to_contain_text(f"Missing ({IMAGES})")
    expect(error.locator("ul.keys li")).to_have_count(5)
    expect(error.locator("ul.keys li").first).to_have_text(keys[0])
    expect(error).to_contain_text(f"and {IMAGES - 5} more")
    expect(select).to_have_value("")  # the current (no) storage stays
    expect(field).to_have_attribute("data-state", "unlinked")
    assert len(patches) == 2
    screenshot(page, "relink-refused")

    # The right bucket, added on the Cloud storages page; its status is AVAILABLE.
    add_storage_in_form(page, web, s3_emulator, "images-copy", bucket.resource)
    row = page.locator("#storages-table tbody tr", has_text="images-copy")
    expect(row.locator("[data-status]")).to_have_text("AVAILABLE")
    screenshot(page, "cloud-storages")

    # Relink to it: connected, and the frames come from the bucket.
    open_page(page, web, f"/tasks/{restored_id}")
    expect(field).to_have_attribute("data-state", "unlinked")
    # Choosing it checks it first (a dry run) and says what was verified; nothing is saved
    # until the user connects.
    choose(page.get_by_label("Cloud storage"), "images-copy")
    preview = page.locator("#relink-preview")
    expect(preview).to_contain_text("images-copy holds this task's images")
    expect(preview).to_contain_text(f"{IMAGES} of {IMAGES} images found in one listing")
    expect(field).to_have_attribute("data-state", "unlinked")
    preview.get_by_role("button", name="Cancel").click()
    expect(preview).to_be_hidden()
    expect(field).to_have_attribute("data-state", "unlinked")
    expect(page.get_by_label("Cloud storage")).to_have_value("")
    choose(page.get_by_label("Cloud storage"), "images-copy")
    screenshot(page, "relink-checked")
    preview.get_by_role("button", name="Connect to images-copy").click()
    expect(field).to_have_attribute("data-state", "cloud")
    expect(page.locator("#cloud-storage-state")).to_contain_text("Linked to images-copy")
    expect(page.locator("#unlinked-banner")).to_be_hidden()
    frame = page.locator("#frame")
    expect(frame).to_have_attribute("data-frame", "0")
    assert frame.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]
    page.get_by_role("button", name="Next frame").click()
    expect(frame).to_have_attribute("data-frame", "1")
    assert frame.evaluate("img => img.naturalWidth") == 41
    screenshot(page, "task-relinked")

    # The list: the original task lost its storage, the restored one is on images-copy.
    open_page(page, web, "/")
    tasks = page.locator("#tasks-table")
    original = tasks.locator(f"tr[data-task-id='{task['id']}'] .badge")
    expect(original).to_have_text("not connected")
    restored = tasks.locator(f"tr[data-task-id='{restored_id}'] .badge")
    expect(restored).to_have_text("cloud · images-copy")
    screenshot(page, "tasks")
