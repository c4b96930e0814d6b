"""After a login in a real browser, ``?next=`` spellings that Chromium reads as another host
(``/\\host``, ``/<tab>/host``) keep the browser on this site. See docs/security.md."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.helpers import ApiSession, ready


@pytest.mark.parametrize("next_value", ["/%5Cexample.com", "/%09/example.com", "/cloudstorages"])
def test_login_next_stays_on_the_site(browser: BrowserContext, web: ApiSession, next_value):
    page = browser.pages[0] if browser.pages else browser.new_page()
    host = urlsplit(web.base_url).hostname
    left: list[str] = []
    page.on("request", lambda r: left.append(r.url) if urlsplit(r.url).hostname != host else None)
    page.goto(web.url(f"/login?next={next_value}"))
    ready(page)
    page.get_by_label("Username").fill(web.username)
    page.get_by_label("Password").fill(web.password)
    page.get_by_role("button", name="Log in").click()
    expected = "/cloudstorages" if next_value == "/cloudstorages" else "/"
    expect(page).to_have_url(web.url(expected))
    assert left == []
