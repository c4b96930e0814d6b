"""The API reference pages render in a browser that can reach nothing but this server."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Route, expect

from tests.e2e.helpers import ApiSession, screenshot


def offline(browser: BrowserContext, web: ApiSession) -> list[str]:
    """Refuse every request that leaves the live server; return the list of those refused."""
    refused: list[str] = []

    def handle(route: Route) -> None:
        if route.request.url.startswith(web.base_url) or route.request.url.startswith("blob:"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    browser.route("**/*", handle)
    return refused


def test_swagger_ui_works_offline(browser: BrowserContext, web: ApiSession):
    refused = offline(browser, web)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(web.url("/api/docs"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("cvat_lite REST API")
    section = page.locator(".opblock-tag-section", has_text="tasks").first
    expect(section).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/api/tasks/{id}/data/meta").first
    ).to_be_attached()
    screenshot(page, "api-docs-swagger")
    assert refused == []
    assert errors == []


def test_redoc_works_offline(browser: BrowserContext, web: ApiSession):
    refused = offline(browser, web)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(web.url("/api/redoc"))
    expect(page.locator("h1", has_text="cvat_lite REST API")).to_be_visible()
    expect(page.get_by_text("/api/tasks/{id}/data/meta").first).to_be_attached()
    screenshot(page, "api-docs-redoc")
    assert refused == []
    # Redoc's sidebar always shows Redocly's logo from their CDN (it hides it when it fails to
    # load); the page's policy stops the browser from fetching it at all.
    blocked_logo = [e for e in errors if "cdn.redoc.ly" in e and "Content Security Policy" in e]
    assert [e for e in errors if e not in blocked_logo] == []
