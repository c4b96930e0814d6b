"""Every page is usable at 1280x800 and in a ~400 px window: nothing wider than the window
(no sideways scrolling of the page), the main controls on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import DESKTOP, ApiSession, open_page, put_images, screenshot

NARROW = {"width": 400, "height": 800}
# Elements reaching past the window's right edge (outside scrolling tables), for the message.
WIDE_ELEMENTS = """() => [...document.querySelectorAll("body *")]
  .filter((el) => !el.closest(".table-wrap") && el.getBoundingClientRect().right > innerWidth)
  .map((el) => el.tagName + (el.id ? "#" + el.id : "") + "." + el.className)
  .slice(0, 10)"""


def assert_fits(page: Page, path: str) -> None:
    expect(page.locator("main")).to_have_attribute("aria-busy", "false")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    wide = page.evaluate(WIDE_ELEMENTS)
    assert overflow <= 0, f"{path} is {overflow}px wider than the window: {wide}"


@pytest.mark.parametrize("size", [DESKTOP, NARROW], ids=["1280x800", "400x800"])
def test_pages_fit_the_window(page: Page, web: ApiSession, s3_emulator, size):
    bucket = s3_emulator.create_bucket()
    put_images(s3_emulator, bucket, 2)
    storage = web.s3_storage(s3_emulator, bucket, "a-storage-with-a-rather-long-name")
    task = web.cloud_task("a task whose name is long enough to wrap on a phone", storage["id"])
    web.call("POST", f"/api/tasks/{task['id']}/backup/export?lightweight=true", 202)
    page.set_viewport_size(size)

    for path in (
        "/",
        f"/tasks/{task['id']}",
        "/cloudstorages",
        "/requests",
        "/restore",
        "/account",
        "/login",
        "/backup-policies",
    ):
        open_page(page, web, path)
        assert_fits(page, path)

    open_page(page, web, f"/tasks/{task['id']}")
    expect(page.locator("#frame")).to_have_attribute("data-frame", "0")
    select = page.get_by_label("Cloud storage")
    box = select.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size["width"]
    if size == NARROW:
        screenshot(page, "task-narrow")
    page.get_by_role("button", name="Export backup").click()
    dialog = page.get_by_role("dialog").bounding_box()
    assert (
        dialog is not None and dialog["x"] >= 0 and dialog["x"] + dialog["width"] <= size["width"]
    )
    expect(page.get_by_role("switch", name="Lightweight backup")).to_be_visible()
    if size == NARROW:
        screenshot(page, "export-dialog-narrow")
