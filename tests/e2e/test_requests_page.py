"""The export dialog's progress, and the Requests page: a full and a lightweight export of the
same task are two rows, the lightweight one tagged."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import ApiSession, HeldRequest, open_page, put_images, screenshot


def test_full_and_lightweight_exports_are_two_requests(page: Page, web: ApiSession, s3_emulator):
    bucket = s3_emulator.create_bucket()
    put_images(s3_emulator, bucket, 3)
    storage = web.s3_storage(s3_emulator, bucket, "images")
    task = web.cloud_task("street", storage["id"])

    open_page(page, web, f"/tasks/{task['id']}")
    expect(page.get_by_label("Cloud storage")).to_have_value(str(storage["id"]))
    page.get_by_role("button", name="Export backup").click()

    # A full export; the dialog shows progress while the request is followed.
    held = HeldRequest(page, "**/api/requests/*")
    page.get_by_role("button", name="Export", exact=True).click()
    expect(page.locator("#export-progress")).to_be_visible()
    expect(page.locator("#export-status")).not_to_be_empty()
    held.release()
    expect(page.get_by_role("link", name="Download backup")).to_be_visible()
    expect(page.locator("#export-status")).to_have_text("Done.")

    # Then a lightweight one from the same dialog.
    page.get_by_role("switch", name="Lightweight backup").check()
    page.get_by_role("button", name="Export again").click()
    expect(page.get_by_role("link", name="Download backup")).to_be_visible()
    expect(page.locator("#export-status")).to_have_text("Done.")
    page.get_by_role("button", name="Close").click()

    open_page(page, web, "/requests")
    rows = page.locator("#requests-table tbody tr[data-rq-id]")
    expect(rows).to_have_count(3)  # the task's data, and the two exports
    exports = rows.filter(has_text="Backup export")
    expect(exports).to_have_count(2)
    light = exports.filter(has=page.locator("[data-kind='lightweight']"))
    full = exports.filter(has=page.locator("[data-kind='full']"))
    for row in (light, full):
        expect(row).to_have_count(1)
        expect(row).to_have_attribute("data-status", "finished")
        expect(row.get_by_role("link", name="task “street”")).to_be_visible()
        expect(row.get_by_role("link", name="Download")).to_be_visible()
    assert light.get_attribute("data-rq-id") != full.get_attribute("data-rq-id")
    screenshot(page, "requests")
