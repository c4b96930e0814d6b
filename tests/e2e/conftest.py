"""End-to-end tests of the web UI: Debian's headless Chromium, driven by Playwright, against a
live server (pytest-django's ``live_server``), a real RQ worker and the cloud emulators.

Chromium is the system's ``/usr/bin/chromium`` (``./dev test`` installs it); Playwright's own
browser download is never used. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from tests.conftest import PASSWORD
from tests.e2e.helpers import DESKTOP, SCREENSHOTS, ApiSession, ready, screenshot

CHROMIUM = Path("/usr/bin/chromium")
# Exactly these flags (README); Playwright adds no headless flags of its own (headless=False).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
def web(live_server, transactional_db, make_user, background_worker) -> Iterator[ApiSession]:
    """The live service with a user, and an API session of that user for test setup."""
    user = make_user("webuser")
    session = ApiSession(live_server.url, user.username, PASSWORD)
    yield session
    session.http.close()  # each kept-alive connection holds a live-server thread


@pytest.fixture
def playwright(web: ApiSession) -> Iterator[Playwright]:
    """Playwright for one test, started after the database and the user are set up (``web``)
    and stopped before they are torn down: its sync API runs an event loop and greenlets in
    this thread, in whose context Django would refuse ORM calls (async-unsafe) or keep
    connections that its teardown cannot see. Test bodies use the API, never the ORM."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium package "
            "(`apt-get install -y --no-install-recommends chromium`; ./dev test does it when "
            "run as root).",
            pytrace=False,
        )
    with sync_playwright() as instance:
        yield instance


@pytest.fixture
def browser(playwright: Playwright) -> Iterator[BrowserContext]:
    """A fresh Chromium with a fresh user-data-dir (no cookies, no cache) per test."""
    profile = tempfile.mkdtemp(prefix="cvat-lite-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=str(CHROMIUM),
        headless=False,
        args=CHROMIUM_ARGS,
        viewport=DESKTOP,
        accept_downloads=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


# What a page may load: the API, the UI's static files, the pages, and object URLs (frames).
_ALLOWED = re.compile(
    r"^(/api/|/static/web/|blob:|data:|/(login|tasks/\d+|cloudstorages|requests|restore|account|backup-policies)?(\?|$))"
)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: BrowserContext, web: ApiSession
) -> Iterator[Page]:
    """A page logged in through the login form. A failed test leaves a screenshot and the
    page's HTML in artifacts/screenshots/failed-<test>.*."""
    page = browser.pages[0] if browser.pages else browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(web.url("/"))
    expect(page).to_have_url(web.url("/login?next=%2F"))
    ready(page)
    page.get_by_label("Username").fill(web.username)
    page.get_by_label("Password").fill(web.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(web.url("/"))
    ready(page)
    expect(page.locator("#whoami")).to_have_text(web.username)
    yield page
    if request.node.stash.get(_FAILED, False):
        name = "failed-" + re.sub(r"[^\w.-]+", "_", request.node.name)
        screenshot(page, name)
        (SCREENSHOTS / f"{name}.html").write_text(page.content())
    assert errors == [], f"JavaScript errors on the page: {errors}"
    # Everything the pages did went through the public API (or loaded a page or its files).
    others = [url for url in requested if not _ALLOWED.match(url.removeprefix(web.base_url))]
    assert others == [], f"requests outside the API: {others}"
