"""The demo's printed steps in a browser: `cvat-lite demo` (its own service, S3 emulator, task),
driven in Chromium as its instructions say — export a lightweight backup, restore it (connected at
once), then as the second user restore it again ("not connected"), add a storage for the bucket
in the form, check it, connect, and see the frames."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.e2e.helpers import DESKTOP, choose, ready, screenshot
from tests.processes import embedded_env, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path):
    """The running demo and what it printed."""
    env = embedded_env()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "cvat-lite"),
            "demo", "--port", str(free_port()), "--images", "4",
            "--data-dir", str(tmp_path / "demo"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    output: list[str] = []
    try:
        while not any("Ctrl-C stops" in line for line in output):
            line = process.stdout.readline()
            assert line, "demo exited early:\n" + "".join(output)
            output.append(line)
        yield "".join(output)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _log_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    ready(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{url}/")
    ready(page)


def test_the_demo_steps_in_a_browser(demo: str, tmp_path):
    url, admin, admin_password = re.search(
        r"ready at (http://127\.0\.0\.1:\d+)/  \(log in as (\S+) / (\S+)\)", demo
    ).groups()
    guest, guest_password = re.search(r"second user, (\S+) / (\S+),", demo).groups()
    bucket, key, secret, endpoint = re.search(
        r"bucket (\S+), key (\S+), secret (\S+), endpoint\s+(\S+)\.", demo
    ).groups()
    task_id = re.search(r"task #(\d+)", demo).group(1)
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing (see tests/e2e/conftest.py).", pytrace=False)
    profile = tempfile.mkdtemp(prefix="cvat-lite-chromium-")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=False,
            args=CHROMIUM_ARGS,
            viewport=DESKTOP,
            accept_downloads=True,
        )
        browser.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            # 1-2: the task's frames come from the bucket; a lightweight export, downloaded.
            _log_in(page, url, admin, admin_password)
            page.goto(f"{url}/tasks/{task_id}")
            ready(page)
            expect(page.locator("#frame")).to_have_attribute("data-frame", "0")
            page.get_by_role("button", name="Export backup").click()
            page.get_by_role("switch", name="Lightweight backup").check()
            page.get_by_role("button", name="Export", exact=True).click()
            link = page.get_by_role("link", name="Download backup")
            expect(link).to_be_visible()
            with page.expect_download() as download:
                link.click()
            backup = tmp_path / "demo-light.zip"
            download.value.save_as(backup)
            page.get_by_role("button", name="Close").click()

            # 3: restored by its owner, connected at once.
            page.goto(f"{url}/restore")
            ready(page)
            page.get_by_label("Task").check()
            page.get_by_label("Backup file (.zip)").set_input_files(backup)
            page.get_by_role("button", name="Restore").click()
            expect(page).to_have_url(re.compile(r"/tasks/\d+\?restored="))
            ready(page)
            expect(page.locator("#cloud-storage-field")).to_have_attribute("data-state", "cloud")
            expect(page.locator("#frame")).to_have_attribute("data-frame", "0")

            # 4: the second user restores the same file: not connected.
            page.get_by_role("button", name="Log out").click()
            expect(page).to_have_url(re.compile(r"/login"))
            _log_in(page, url, guest, guest_password)
            page.goto(f"{url}/restore")
            ready(page)
            page.get_by_label("Task").check()
            page.get_by_label("Backup file (.zip)").set_input_files(backup)
            page.get_by_role("button", name="Restore").click()
            expect(page).to_have_url(re.compile(r"/tasks/\d+\?restored="))
            ready(page)
            restored = page.url.split("?")[0]
            field = page.locator("#cloud-storage-field")
            expect(field).to_have_attribute("data-state", "unlinked")
            screenshot(page, "demo-not-connected")

            # Their own storage for the bucket, in the form, as printed.
            page.goto(f"{url}/cloudstorages")
            ready(page)
            page.get_by_label("Name", exact=True).fill("my copy")
            page.get_by_label("Provider").select_option("AWS_S3_BUCKET")
            page.get_by_label("Bucket / container").fill(bucket)
            page.get_by_label("Credentials", exact=True).select_option("KEY_SECRET_KEY_PAIR")
            page.get_by_label("Access key ID").fill(key)
            page.get_by_label("Secret access key").fill(secret)
            page.get_by_label("Endpoint URL").fill(endpoint)
            page.get_by_label("Region").fill("us-east-1")
            page.get_by_role("button", name="Add storage").click()
            row = page.locator("#storages-table tbody tr", has_text="my copy")
            expect(row.locator("[data-status]")).to_have_text("AVAILABLE")

            # Choose it: checked first, connected on confirmation, frames back.
            page.goto(restored)
            ready(page)
            choose(page.get_by_label("Cloud storage"), "my copy")
            preview = page.locator("#relink-preview")
            expect(preview).to_contain_text("4 of 4 images found")
            preview.get_by_role("button", name="Connect to my copy").click()
            expect(field).to_have_attribute("data-state", "cloud")
            expect(page.locator("#frame")).to_have_attribute("data-frame", "0")
            screenshot(page, "demo-connected")
        finally:
            browser.close()
            shutil.rmtree(profile, ignore_errors=True)
