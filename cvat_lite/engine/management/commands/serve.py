"""``cvat-lite serve``: migrations, the web server and N RQ workers in one foreground process
group. Without ``CVAT_LITE_REDIS_URL`` it runs an embedded Redis for its own lifetime. Ctrl-C
(SIGINT) or SIGTERM stops everything it started."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from cvat_lite.embedded_redis import EmbeddedRedis

FIRST_USER = "admin"
STOP_TIMEOUT_S = 10.0


class Command(BaseCommand):
    help = "Run migrations, the web server and RQ workers (and an embedded Redis if needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8080)
        parser.add_argument("--workers", type=int, default=2, help="RQ worker processes")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")

    def handle(self, *args, host: str, port: int, workers: int, web_workers: int, **options):
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        redis = None
        if not os.environ.get("CVAT_LITE_REDIS_URL"):
            redis = EmbeddedRedis().start()
            env["CVAT_LITE_REDIS_URL"] = redis.url
            self.stdout.write(f"Embedded Redis on {redis.url}")
        children: list[subprocess.Popen] = []
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            call_command("migrate", interactive=False, verbosity=0)
            login = self._first_user()
            children.append(self._web(env, host, port, web_workers))
            children.extend(self._worker(env) for _ in range(workers))
            url = f"http://{host}:{port}/"
            self.stdout.write(self.style.SUCCESS(f"cvat_lite is running at {url}"))
            self.stdout.write(f"API docs: {url}api/docs")
            self.stdout.write(login)
            self.stdout.write("Press Ctrl-C to stop.")
            while not stopping:
                if any(child.poll() is not None for child in children):
                    self.stderr.write("A child process exited; stopping.")
                    break
                time.sleep(0.2)
        finally:
            self._stop(children)
            if redis:
                redis.stop()
            self.stdout.write("Stopped.")

    def _first_user(self) -> str:
        users = get_user_model().objects
        password_file = Path(settings.DATA_DIR) / "first-login.txt"
        if not users.exists():
            password = secrets.token_urlsafe(12)
            users.create_superuser(FIRST_USER, f"{FIRST_USER}@localhost", password)
            password_file.write_text(f"{FIRST_USER} {password}\n")
            password_file.chmod(0o600)
        if password_file.exists():
            name, password = password_file.read_text().split()
            return f"Login: {name} / {password}  (stored in {password_file})"
        return "Log in with an existing account (cvat-lite createsuperuser makes one)."

    def _web(self, env: dict, host: str, port: int, web_workers: int) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "cvat_lite.wsgi:application",
                "--bind", f"{host}:{port}",
                "--workers", str(web_workers),
                "--timeout", "300",
                "--access-logfile", "-",
                "--no-control-socket",
            ],
            env=env,
        )  # fmt: skip

    def _worker(self, env: dict) -> subprocess.Popen:
        # RQ's scheduler (one of the workers holds its lock) fires backup policies.
        queues = ["export", "import", "create"]
        command = [sys.executable, "-m", "cvat_lite.cli", "rqworker", *queues, "--with-scheduler"]
        return subprocess.Popen(command, env=env)

    def _stop(self, children: list[subprocess.Popen]) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
