"""The export dialog's lightweight switch: only for media in a cloud storage (tasks), or for
projects with at least one such task; its tooltip; the storage field's loading state."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import ApiSession, HeldRequest, open_page, put_images, screenshot

TASK_TOOLTIP = ("Media are not included", "must be attached to a cloud storage")


def open_dialog_on_task(page: Page, web: ApiSession, task_id: int) -> None:
    open_page(page, web, f"/tasks/{task_id}")
    page.get_by_role("button", name="Export backup").click()
    expect(page.get_by_role("dialog")).to_be_visible()


def test_switch_shown_for_cloud_media_only(page: Page, web: ApiSession, s3_emulator):
    bucket = s3_emulator.create_bucket()
    put_images(s3_emulator, bucket, 2)
    storage = web.s3_storage(s3_emulator, bucket, "images")
    mixed = web.project("mixed")
    local_only = web.project("local-only")
    cloud_task = web.cloud_task("in the cloud", storage["id"], project_id=mixed["id"])
    local_task = web.local_task("on the server", project_id=mixed["id"])
    web.local_task("also on the server", project_id=local_only["id"])

    # The storage field is in place, loading, until the storages are fetched.
    held = HeldRequest(page, "**/api/cloudstorages?*")
    page.goto(web.url(f"/tasks/{cloud_task['id']}"))  # not open_page: the page waits for us
    field = page.locator("#cloud-storage-field")
    expect(field).to_have_attribute("aria-busy", "true")
    expect(field.locator("#cloud-storage-loading")).to_have_text("Loading storage…")
    expect(page.locator("#cloud-storage-select")).to_have_count(0)
    held.release()
    expect(field).to_have_attribute("aria-busy", "false")
    expect(page.get_by_label("Cloud storage")).to_have_value(str(storage["id"]))

    # A cloud task: the switch, with its tooltip.
    page.get_by_role("button", name="Export backup").click()
    switch = page.get_by_role("switch", name="Lightweight backup")
    expect(switch).to_be_visible()
    expect(switch).not_to_be_checked()
    page.locator("#export-lightweight-info").hover()
    tooltip = page.get_by_role("tooltip")
    expect(tooltip).to_be_visible()
    for text in TASK_TOOLTIP:
        expect(tooltip).to_contain_text(text)
    screenshot(page, "export-dialog")
    page.get_by_role("button", name="Close").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    # A local task: no switch.
    open_dialog_on_task(page, web, local_task["id"])
    expect(page.locator("#export-lightweight-row")).to_be_hidden()
    expect(page.get_by_role("switch")).to_have_count(0)
    page.get_by_role("button", name="Close").click()

    # Projects: "whenever possible" when one task is cloud-based, nothing otherwise.
    open_page(page, web, "/")
    projects = page.locator("#projects-table")
    projects.locator(f"tr[data-project-id='{local_only['id']}']").get_by_role(
        "button", name="Export backup"
    ).click()
    expect(page.get_by_role("dialog")).to_contain_text("local-only")
    expect(page.get_by_role("switch")).to_have_count(0)
    page.get_by_role("button", name="Close").click()
    projects.locator(f"tr[data-project-id='{mixed['id']}']").get_by_role(
        "button", name="Export backup"
    ).click()
    switch = page.get_by_role("switch", name="Use lightweight backup whenever possible")
    expect(switch).to_be_visible()
    switch.check()
    page.get_by_role("button", name="Export", exact=True).click()
    expect(page.get_by_role("link", name="Download backup")).to_be_visible()
    request = web.call(
        "GET", f"/api/requests/{page.locator('#export-dialog').get_attribute('data-rq-id')}", 200
    )
    assert request["operation"]["lightweight"] is True
    assert request["operation"]["project_id"] == mixed["id"]
