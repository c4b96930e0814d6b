"""Test setup through the public API (what a script would do), cloud objects, and page
helpers."""

from __future__ import annotations

import io
import json
import re
import time

import requests
from PIL import Image
from playwright.sync_api import Locator, Page, Route, expect

from tests.fixtures.emulators import MOTO_KEY, MOTO_SECRET, REPO_ROOT, Emulator

REQUEST_TIMEOUT_S = 30
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}


def jpeg(width: int, height: int, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", quality=90)
    return out.getvalue()


def put_images(emulator: Emulator, config, count: int, prefix: str = "set/") -> list[str]:
    """``count`` images ``<prefix>img<i>.jpg`` (40+i by 30+i pixels) and a manifest naming them.
    Returns the image keys."""
    lines = ['{"version":"1.1"}', '{"type":"images"}']
    keys = []
    for i in range(count):
        emulator.put(config, f"{prefix}img{i}.jpg", jpeg(40 + i, 30 + i, (20 * i % 255, 90, 160)))
        keys.append(f"{prefix}img{i}.jpg")
        entry = {"name": f"img{i}", "extension": ".jpg", "width": 40 + i, "height": 30 + i}
        lines.append(json.dumps(entry, separators=(",", ":")))
    emulator.put(config, f"{prefix}manifest.jsonl", ("\n".join(lines) + "\n").encode())
    return keys


class ApiSession:
    """A user's token session on the live server."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url, self.username, self.password = base_url, username, password
        self.http = requests.Session()
        response = self.http.post(
            self.url("/api/auth/login"),
            json={"username": username, "password": password},
            timeout=REQUEST_TIMEOUT_S,
        )
        response.raise_for_status()
        self.http.headers["Authorization"] = f"Token {response.json()['key']}"
        self.http.cookies.clear()  # token only: no session or CSRF involved in setup

    def url(self, path: str) -> str:
        return self.base_url + path

    def call(self, method: str, path: str, expected: int, **kwargs) -> dict | None:
        response = self.http.request(method, self.url(path), timeout=REQUEST_TIMEOUT_S, **kwargs)
        assert response.status_code == expected, (method, path, response.text)
        return response.json() if response.content else None

    def wait(self, rq_id: str) -> dict:
        deadline = time.monotonic() + REQUEST_TIMEOUT_S
        while time.monotonic() < deadline:
            request = self.call("GET", f"/api/requests/{rq_id}", 200)
            if request["status"] in ("finished", "failed"):
                assert request["status"] == "finished", request["message"]
                return request
            time.sleep(0.1)
        raise AssertionError(f"request {rq_id} did not finish")

    def s3_storage(self, emulator: Emulator, config, name: str) -> dict:
        body = {
            "provider_type": "AWS_S3_BUCKET",
            "resource": config.resource,
            "display_name": name,
            "credentials_type": "KEY_SECRET_KEY_PAIR",
            "key": MOTO_KEY,
            "secret_key": MOTO_SECRET,
            "specific_attributes": f"endpoint_url={emulator.endpoint_url}&region=us-east-1",
        }
        return self.call("POST", "/api/cloudstorages", 201, json=body)

    def project(self, name: str) -> dict:
        return self.call(
            "POST", "/api/projects", 201, json={"name": name, "labels": [{"name": "car"}]}
        )

    def _task(self, name: str, project_id: int | None) -> dict:
        body: dict = {"name": name}
        if project_id is None:
            body["labels"] = [{"name": "car"}]
        else:
            body["project_id"] = project_id
        return self.call("POST", "/api/tasks", 201, json=body)

    def cloud_task(self, name: str, storage_id: int, project_id: int | None = None) -> dict:
        task = self._task(name, project_id)
        body = {"cloud_storage_id": storage_id, "server_files": ["set/manifest.jsonl"]}
        started = self.call("POST", f"/api/tasks/{task['id']}/data", 202, json=body)
        self.wait(started["rq_id"])
        return task

    def local_task(self, name: str, project_id: int | None = None, count: int = 2) -> dict:
        task = self._task(name, project_id)
        files = {f"client_files[{i}]": (f"l{i}.jpg", jpeg(50, 20)) for i in range(count)}
        started = self.call(
            "POST", f"/api/tasks/{task['id']}/data", 202, files=files, data={"image_quality": "70"}
        )
        self.wait(started["rq_id"])
        return task


# --- pages ---------------------------------------------------------------------------------


def ready(page: Page) -> None:
    """Wait until the page's script has loaded what it shows (it clears ``aria-busy`` on
    ``<main>``): before that, a click or a keystroke could race the script."""
    expect(page.locator("main")).to_have_attribute("aria-busy", "false")


def open_page(page: Page, web: ApiSession, path: str) -> None:
    page.goto(web.url(path))
    ready(page)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def choose(select: Locator, name: str) -> None:
    """Pick the option of ``select`` whose label starts with ``name`` (a storage's name)."""
    option = select.locator("option", has_text=re.compile(rf"^{re.escape(name)}\b"))
    select.select_option(option.get_attribute("value"))


def add_storage_in_form(page: Page, web: ApiSession, s3: Emulator, name: str, bucket: str) -> None:
    open_page(page, web, "/cloudstorages")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Provider").select_option("AWS_S3_BUCKET")
    page.get_by_label("Bucket / container").fill(bucket)
    page.get_by_label("Credentials", exact=True).select_option("KEY_SECRET_KEY_PAIR")
    page.get_by_label("Access key ID").fill(MOTO_KEY)
    page.get_by_label("Secret access key").fill(MOTO_SECRET)
    page.get_by_label("Endpoint URL").fill(s3.endpoint_url)
    page.get_by_label("Region").fill("us-east-1")
    page.get_by_role("button", name="Add storage").click()


class HeldRequest:
    """Holds the first request matching ``pattern`` until ``release()``; any later one goes
    through at once (a page that polls again before the route is removed must not hang)."""

    def __init__(self, page: Page, pattern: str):
        self.page, self.pattern = page, pattern
        self.routes: list[Route] = []
        page.route(pattern, self._handle)

    def _handle(self, route: Route) -> None:
        if self.routes:
            route.continue_()
        else:
            self.routes.append(route)

    def release(self) -> None:
        """Wait until the request was made, let it go, and stop holding."""
        while not self.routes:
            self.page.wait_for_timeout(20)
        self.routes[0].continue_()
        self.page.unroute(self.pattern, self._handle)
