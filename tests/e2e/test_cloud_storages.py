"""The Cloud storages page: add a storage, see its status, refresh it after the bucket is gone;
a refused storage shows the server's reason."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import ApiSession, add_storage_in_form, ready


def test_add_storage_and_refresh_status(page: Page, web: ApiSession, s3_emulator):
    bucket = s3_emulator.create_bucket()
    add_storage_in_form(page, web, s3_emulator, "scratch", bucket.resource)
    row = page.locator("#storages-table tbody tr", has_text="scratch")
    expect(row.locator("[data-status]")).to_have_text("AVAILABLE")
    expect(page.get_by_label("Name", exact=True)).to_have_value("")  # the form is reset

    s3_emulator.client().delete_bucket(Bucket=bucket.resource)
    row.get_by_role("button", name="Refresh status of scratch").click()
    expect(row.locator("[data-status]")).to_have_text("NOT_FOUND")

    # A bucket that does not exist is refused when added, with the server's reason.
    add_storage_in_form(page, web, s3_emulator, "nowhere", "no-such-bucket")
    error = page.locator("#storage-form-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("NOT_FOUND")
    expect(page.locator("#storages-table tbody tr", has_text="nowhere")).to_have_count(0)
    page.reload()
    ready(page)
    expect(page.locator("#storages-table tbody tr[data-storage-id]")).to_have_count(1)
