"""``cvat-lite demo``: the service on embedded defaults, with a local S3-compatible endpoint
(moto's server, the optional ``demo`` extra), a bucket of generated images with their
manifest, a cloud storage and a task made through the public API — then what to click or run
to export a lightweight backup, restore it, see it "not connected" and connect it again.

Everything lives in a fresh data directory (``var/demo`` by default, emptied at start: the
in-memory bucket of a previous demo is gone, so storages pointing at it would be dead). Ctrl-C
stops the service and the S3 endpoint.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from PIL import Image, ImageDraw

from cvat_lite.media.images import pixel_md5
from cvat_lite.media.manifest import entry_from_key, write_manifest

BUCKET = "cvat-lite-demo"
PREFIX = "street/"
KEY, SECRET = "demo-key", "demo-secret"  # moto accepts any credentials
GUEST = "guest"
START_TIMEOUT_S = 120.0
TASK_TIMEOUT_S = 120.0
COLORS = [(200, 60, 60), (60, 160, 80), (60, 90, 200), (210, 170, 40), (140, 70, 170)]


def demo_images(count: int) -> list[tuple[str, bytes]]:
    """``count`` numbered 320x240 JPEGs: ``(key under PREFIX, bytes)``."""
    images = []
    for index in range(count):
        image = Image.new("RGB", (320, 240), COLORS[index % len(COLORS)])
        draw = ImageDraw.Draw(image)
        draw.rectangle((20, 20, 300, 220), outline=(255, 255, 255), width=4)
        draw.text((40, 40), f"cvat_lite demo frame {index}", fill=(255, 255, 255))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        images.append((f"frame_{index:04d}.jpg", out.getvalue()))
    return images


def demo_manifest(images: list[tuple[str, bytes]]) -> bytes:
    """A CVAT manifest of ``images``, with CVAT's pixel checksums."""
    out = io.BytesIO()
    entries = (entry_from_key(key, 320, 240, pixel_md5(data)) for key, data in images)
    write_manifest(entries, out)
    return out.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Command(BaseCommand):
    help = "Try the cloud features locally: the service, an S3 emulator with images, a task."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8080, help="port of the web service")
        parser.add_argument(
            "--images", type=int, default=36, help="how many images to put in the demo bucket"
        )
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=Path(settings.BASE_DIR) / "var" / "demo",
            help="the demo's own data directory, emptied at start (default: var/demo)",
        )

    def handle(self, *args: Any, port: int, images: int, data_dir: Path, **options: Any) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            raise CommandError(
                "The demo needs moto's S3 server: pip install 'cvat-lite[demo]' (./dev demo "
                "installs it)."
            ) from None
        if images < 1:
            raise CommandError("--images must be at least 1.")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
        s3.start()
        host, s3_port = s3.get_host_and_port()
        endpoint = f"http://{host}:{s3_port}"
        self._fill_bucket(endpoint, images)
        self.stdout.write(f"S3 emulator (moto) at {endpoint}, bucket {BUCKET}: {images} images")

        if data_dir.exists():
            shutil.rmtree(data_dir)
        data_dir.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if k != "CVAT_LITE_DATABASE_URL"}
        env["CVAT_LITE_DATA_DIR"] = str(data_dir)
        allowlist = env.get("CVAT_LITE_CLOUD_ENDPOINT_ALLOWLIST")
        if allowlist is not None or env.get("CVAT_LITE_SECRET_KEY"):
            env["CVAT_LITE_CLOUD_ENDPOINT_ALLOWLIST"] = ",".join(
                filter(None, [allowlist, f"127.0.0.1:{s3_port}"])
            )
        server = subprocess.Popen(
            [sys.executable, "-m", "cvat_lite.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            self._relay_until_running(server)
            url = f"http://127.0.0.1:{port}"
            self._wait_until_answering(url, server)
            username, password = (data_dir / "first-login.txt").read_text().split()
            storage, task = self._populate(url, username, password, endpoint, images)
            guest_password = self._guest(url)
            self._instructions(
                url,
                (username, password),
                (GUEST, guest_password),
                endpoint,
                storage,
                task,
                data_dir,
            )
            assert server.stdout is not None
            for line in server.stdout:  # the service's log, until it stops
                self.stdout.write(line.rstrip("\n"))
            server.wait()
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
            s3.stop()
        if server.returncode not in (0, -signal.SIGTERM) and not stopping:
            raise CommandError(f"The service stopped with status {server.returncode}.")

    def _fill_bucket(self, endpoint: str, count: int) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)
        images = demo_images(count)
        for key, data in images:
            client.put_object(Bucket=BUCKET, Key=PREFIX + key, Body=data, ContentType="image/jpeg")
        client.put_object(Bucket=BUCKET, Key=PREFIX + "manifest.jsonl", Body=demo_manifest(images))

    def _relay_until_running(self, server: subprocess.Popen) -> None:
        assert server.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                raise CommandError(f"The service did not start (status {server.wait()}).")
            if line.startswith("Login:") or "first login" in line:
                continue  # the demo prints its own instructions with the login
            self.stdout.write(line.rstrip("\n"))
            if "Press Ctrl-C" in line:
                return
        raise CommandError("The service did not start in time.")

    def _wait_until_answering(self, url: str, server: subprocess.Popen) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"The service stopped (status {server.returncode}).")
            try:
                if requests.get(f"{url}/api/server/about", timeout=30).ok:
                    return
            except requests.RequestException:  # not listening yet, or still starting
                pass
            time.sleep(0.2)
        raise CommandError(f"The service did not answer at {url} in time.")

    def _guest(self, url: str) -> str:
        """A second, ordinary user (registered through the API), who cannot see the admin's
        storage: restoring the backup as them shows a task that is not connected."""
        password = secrets.token_urlsafe(12)
        body = {
            "username": GUEST,
            "email": f"{GUEST}@localhost",
            "password1": password,
            "password2": password,
        }
        answer = requests.post(f"{url}/api/auth/register", json=body, timeout=60)
        if answer.status_code >= 400:
            raise CommandError(f"Registering the demo's second user failed: {answer.text}")
        return password

    def _populate(
        self, url: str, username: str, password: str, endpoint: str, count: int
    ) -> tuple[dict, dict]:
        http = requests.Session()
        response = http.post(
            f"{url}/api/auth/login", json={"username": username, "password": password}, timeout=30
        )
        response.raise_for_status()
        http.headers["Authorization"] = f"Token {response.json()['key']}"
        http.cookies.clear()

        def call(method: str, path: str, **kwargs: Any) -> dict:
            answer = http.request(method, url + path, timeout=60, **kwargs)
            if answer.status_code >= 400:
                raise CommandError(f"{method} {path}: {answer.status_code} {answer.text}")
            return answer.json()

        storage = call(
            "POST",
            "/api/cloudstorages",
            json={
                "provider_type": "AWS_S3_BUCKET",
                "resource": BUCKET,
                "display_name": "Demo bucket",
                "credentials_type": "KEY_SECRET_KEY_PAIR",
                "key": KEY,
                "secret_key": SECRET,
                "specific_attributes": f"endpoint_url={endpoint}&region=us-east-1",
            },
        )
        task = call(
            "POST",
            "/api/tasks",
            json={"name": "Demo street", "labels": [{"name": "car"}, {"name": "person"}]},
        )
        started = call(
            "POST",
            f"/api/tasks/{task['id']}/data",
            json={
                "cloud_storage_id": storage["id"],
                "server_files": [PREFIX + "manifest.jsonl"],
                "image_quality": 70,
            },
        )
        deadline = time.monotonic() + TASK_TIMEOUT_S
        while time.monotonic() < deadline:
            request = call("GET", f"/api/requests/{started['rq_id']}")
            if request["status"] == "finished":
                return storage, task
            if request["status"] == "failed":
                raise CommandError(f"Creating the demo task failed: {request['message']}")
            time.sleep(0.2)
        raise CommandError("Creating the demo task took too long.")

    def _instructions(
        self,
        url: str,
        admin: tuple[str, str],
        guest: tuple[str, str],
        endpoint: str,
        storage: dict,
        task: dict,
        data_dir: Path,
    ) -> None:
        task_id = task["id"]
        port = url.rsplit(":", 1)[1]
        lines = [
            "",
            self.style.SUCCESS(f"The demo is ready at {url}/  (log in as {admin[0]} / {admin[1]})"),
            f'  Cloud storage #{storage["id"]} "Demo bucket" and task #{task_id} "Demo street";',
            f"  a second user, {guest[0]} / {guest[1]}, owns nothing yet.",
            "",
            "In the browser:",
            f"  1. Open {url}/tasks/{task_id}: its frames come from the bucket.",
            '  2. Export it with "Lightweight backup" on and download the archive (a few KB:',
            "     the manifest, not the images).",
            f'  3. Restore it on {url}/restore: the new task is connected to "Demo bucket" at',
            "     once (the backup names its storage, and the service checked the bucket first).",
            f"  4. Log out, log in as {guest[0]} and restore the same file: {guest[0]} cannot see",
            '     "Demo bucket", so the task says "not connected". On Cloud storages add an',
            f"     Amazon S3 storage: bucket {BUCKET}, key {KEY}, secret {SECRET}, endpoint",
            f"     {endpoint}. Choose it on the task: the service checks that every image is",
            "     there before it accepts, and the frames show again.",
            "",
            "From a shell:",
            f"  export PASS={admin[1]}",
            f"  cvat-cli --server-host http://127.0.0.1 --server-port {port} --auth {admin[0]} \\",
            "    task ls",
            f"  cvat-cli --server-host http://127.0.0.1 --server-port {port} --auth {admin[0]} \\",
            f"    task backup {task_id} demo-full-backup.zip",
            f"  CVAT_LITE_DATA_DIR={data_dir} cvat-lite backup export --task {task_id} \\",
            "    --lightweight --output .",
            "",
            "Ctrl-C stops the service and the S3 emulator (the bucket lives in memory).",
        ]
        self.stdout.write("\n".join(lines))
