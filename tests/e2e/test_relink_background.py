"""A large task's relink in the browser (docs/relink.md): the server answers the dry run and the
connect with 202 and a request, and the task page follows the request to the same report and
the same result as an inline relink. "Large" is anything over 2 images here."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import ApiSession, choose, open_page, put_images

IMAGES = 4


def test_a_background_relink_is_checked_then_connected(
    page: Page, web: ApiSession, s3_emulator, settings
):
    settings.RELINK_SYNC_MAX_IMAGES = 2
    bucket = s3_emulator.create_bucket()
    keys = put_images(s3_emulator, bucket, IMAGES)
    origin = web.s3_storage(s3_emulator, bucket, "origin")
    empty = s3_emulator.create_bucket()
    web.s3_storage(s3_emulator, empty, "empty")
    task = web.cloud_task("big", origin["id"])
    web.call("PATCH", f"/api/tasks/{task['id']}/data/meta", 200, json={"cloud_storage_id": None})

    open_page(page, web, f"/tasks/{task['id']}")
    field = page.locator("#cloud-storage-field")
    expect(field).to_have_attribute("data-state", "unlinked")

    # A storage without the images: the request fails, the page shows the server's reason.
    choose(page.get_by_label("Cloud storage"), "empty")
    error = page.locator("#relink-error")
    expect(error).to_contain_text(f"Missing ({IMAGES})")
    expect(error.locator("ul.keys li").first).to_have_text(keys[0])
    expect(field).to_have_attribute("data-state", "unlinked")

    # The right one: checked in the background, then connected in the background.
    choose(page.get_by_label("Cloud storage"), "origin")
    preview = page.locator("#relink-preview")
    expect(preview).to_contain_text("origin holds this task's images")
    expect(preview).to_contain_text(f"{IMAGES} of {IMAGES} images found in one listing")
    expect(field).to_have_attribute("data-state", "unlinked")
    preview.get_by_role("button", name="Connect to origin").click()
    expect(field).to_have_attribute("data-state", "cloud")
    expect(page.locator("#cloud-storage-state")).to_contain_text("Linked to origin")
    expect(page.locator("#frame")).to_have_attribute("data-frame", "0")

    relinks = web.call("GET", "/api/requests?action=update", 200)["results"]
    assert [(r["operation"]["type"], r["status"]) for r in relinks] == [
        ("update:data_meta", "finished")  # one id per task: the connect replaced the dry run
    ]
    assert relinks[0]["result"]["dry_run"] is False
    assert relinks[0]["result"]["verification"]["present"] == IMAGES
