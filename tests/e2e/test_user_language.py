"""The pages speak the user's language: names rather than ids, "not found" states instead of an
endless "Loading…" or a JSON body, and an Owner column for superusers, who see everyone's."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import PASSWORD
from tests.e2e.helpers import ApiSession, open_page, put_images, ready, screenshot


@pytest.fixture
def admin(make_user, web: ApiSession):
    """A superuser, created before the browser starts (test bodies use the API, not the ORM)."""
    return make_user("root", superuser=True)


def test_missing_task_and_unknown_page(page: Page, browser: BrowserContext, web: ApiSession):
    open_page(page, web, "/tasks/999999")
    expect(page.locator("#task-title")).to_have_text("Task not found")
    expect(page.locator("#load-error")).to_contain_text("does not exist")
    expect(page.locator("#frame-message")).to_be_hidden()
    expect(page.locator("main")).not_to_contain_text("Loading", use_inner_text=True)
    expect(page.get_by_role("link", name="Back to projects and tasks")).to_be_visible()

    lost = browser.new_page()  # same session; the `page` fixture checks its own requests
    lost.goto(web.url("/no/such/page"))
    ready(lost)
    expect(lost.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(lost.locator("#missing-path")).to_have_text("/no/such/page")
    expect(lost.locator("#whoami")).to_have_text(web.username)
    screenshot(lost, "not-found")


def test_owner_column_for_superusers_only(
    admin, page: Page, browser: BrowserContext, web: ApiSession, s3_emulator
):
    bucket = s3_emulator.create_bucket()
    put_images(s3_emulator, bucket, 2)
    storage = web.s3_storage(s3_emulator, bucket, "images")
    task = web.cloud_task("street", storage["id"])
    web.call("POST", f"/api/tasks/{task['id']}/backup/export?lightweight=true", 202)

    for path in ("/", "/cloudstorages", "/requests"):  # an ordinary user: no Owner column
        open_page(page, web, path)
        expect(page.locator("th.owner-col")).to_have_count(0)

    other = browser.new_page()
    other.goto(web.url("/login"))
    ready(other)
    other.get_by_label("Username").fill("root")
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name="Log in").click()
    expect(other).to_have_url(web.url("/"))
    ready(other)
    row = other.locator(f"#tasks-table tr[data-task-id='{task['id']}']")
    expect(other.locator("#tasks-table th.owner-col")).to_have_text("Owner")
    expect(row.locator(".owner-cell")).to_have_text(web.username)
    for path, selector in (
        ("/cloudstorages", f"tr[data-storage-id='{storage['id']}']"),
        ("/requests", "#requests-table tbody tr[data-rq-id]"),
    ):
        other.goto(web.url(path))
        ready(other)
        expect(other.locator("th.owner-col")).to_have_text("Owner")
        expect(other.locator(selector).first.locator(".owner-cell")).to_have_text(web.username)
    screenshot(other, "owner-column")


def test_password_change_page(page: Page, web: ApiSession):
    page.get_by_role("link", name=web.username).click()
    expect(page).to_have_url(web.url("/account"))
    ready(page)
    form = page.locator("#password-form")
    form.get_by_label("Current password").fill("not my password")
    form.get_by_label("New password", exact=True).fill("brand-new-passphrase-7")
    form.get_by_label("New password again").fill("brand-new-passphrase-7")
    form.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-error")).to_contain_text("Current password:")

    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password", exact=True).fill("12345678901")
    form.get_by_label("New password again").fill("12345678901")
    form.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-error")).to_contain_text("New password: ")

    form.get_by_label("New password", exact=True).fill("brand-new-passphrase-7")
    form.get_by_label("New password again").fill("brand-new-passphrase-7")
    form.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-done")).to_be_visible()
    expect(page.locator("#password-error")).to_be_hidden()
    screenshot(page, "password-changed")
    # This browser stays signed in; the new password logs in elsewhere.
    page.goto(web.url("/"))
    ready(page)
    expect(page.locator("#whoami")).to_have_text(web.username)
    ApiSession(web.base_url, web.username, "brand-new-passphrase-7").http.close()
