"""``cvat-lite serve``: migrations, the web server and N RQ workers in one foreground process
group. Without ``CVAT_LITE_REDIS_URL`` it runs an embedded Redis for its own lifetime. Ctrl-C
(SIGINT) or SIGTERM stops everything it started.

A worker that exits is started again after a pause that doubles each time (1, 2, 4 … seconds);
one that exits more than ``--worker-restarts`` times within ``RESTART_WINDOW_S`` stops the
service (something is wrong that restarting will not fix). The web server (gunicorn) restarts
its own processes; if it exits, everything stops. gunicorn runs threaded workers (``gthread``),
so a slow client or a slow synchronous request holds one thread, not a whole process."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from cvat_lite.embedded_redis import EmbeddedRedis

FIRST_USER = "admin"
STOP_TIMEOUT_S = 10.0
RESTART_WINDOW_S = 600.0
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0


@dataclass
class _WorkerSlot:
    """One RQ worker process and its recent restarts."""

    number: int
    process: subprocess.Popen | None
    restarts: list[float] = field(default_factory=list)
    start_at: float | None = None  # when a pending restart is due

    def recent_restarts(self, now: float) -> int:
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S]
        return len(self.restarts)


class Command(BaseCommand):
    help = "Run migrations, the web server and RQ workers (and an embedded Redis if needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8080, help="port to listen on")
        parser.add_argument("--workers", type=int, default=2, help="RQ worker processes")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")
        parser.add_argument(
            "--web-threads", type=int, default=8, help="threads per gunicorn process"
        )
        parser.add_argument(
            "--worker-restarts",
            type=int,
            default=5,
            help=f"restarts of one RQ worker within {RESTART_WINDOW_S:.0f} s before stopping",
        )

    def handle(
        self,
        *args,
        host: str,
        port: int,
        workers: int,
        web_workers: int,
        web_threads: int,
        worker_restarts: int,
        **options,
    ):
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        redis = None
        if not os.environ.get("CVAT_LITE_REDIS_URL"):
            redis = EmbeddedRedis().start()
            env["CVAT_LITE_REDIS_URL"] = redis.url
            self.stdout.write(f"Embedded Redis on {redis.url}")
        web: subprocess.Popen | None = None
        slots: list[_WorkerSlot] = []
        stopping = False
        status = 0

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            call_command("migrate", interactive=False, verbosity=0)
            login = self._first_user()
            web = self._web(env, host, port, web_workers, web_threads)
            slots = [_WorkerSlot(n, self._worker(env)) for n in range(1, workers + 1)]
            url = f"http://{host}:{port}/"
            self.stdout.write(self.style.SUCCESS(f"cvat_lite is running at {url}"))
            self.stdout.write(f"API docs: {url}api/docs")
            self.stdout.write(login)
            self.stdout.write("Press Ctrl-C to stop.")
            self.stdout.flush()
            while not stopping:
                if web.poll() is not None:
                    self.stderr.write(f"The web server exited ({web.returncode}); stopping.")
                    status = 1
                    break
                if not self._tend_workers(env, slots, worker_restarts):
                    status = 1
                    break
                time.sleep(0.2)
        finally:
            children = [web] if web else []
            children += [slot.process for slot in slots if slot.process]
            self._stop(children)
            if redis:
                redis.stop()
            self.stdout.write("Stopped.")
        if status:
            sys.exit(status)

    def _tend_workers(self, env: dict, slots: list[_WorkerSlot], limit: int) -> bool:
        """Restart workers that exited, with a growing pause; False when one exits too often."""
        now = time.monotonic()
        for slot in slots:
            if slot.process is not None and slot.process.poll() is not None:
                code, pid = slot.process.returncode, slot.process.pid
                slot.process = None
                restarts = slot.recent_restarts(now)
                if restarts >= limit:
                    self.stderr.write(
                        f"Worker {slot.number} (pid {pid}) exited ({code}) after {restarts} "
                        f"restarts within {RESTART_WINDOW_S:.0f} s; stopping."
                    )
                    return False
                pause = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2**restarts)
                slot.start_at = now + pause
                self.stderr.write(
                    f"Worker {slot.number} (pid {pid}) exited ({code}); restarting in "
                    f"{pause:.0f} s (restart {restarts + 1} of {limit})."
                )
            if slot.process is None and slot.start_at is not None and now >= slot.start_at:
                slot.restarts.append(now)
                slot.start_at = None
                slot.process = self._worker(env)
                self.stdout.write(f"Worker {slot.number} started again (pid {slot.process.pid}).")
                self.stdout.flush()
        return True

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
            user = users.filter(username=name).first()
            if user is not None and user.check_password(password):
                return f"Login: {name} / {password}  (stored in {password_file})"
            # The first password was changed (or the user removed): never print a stale one.
            password_file.unlink()
            return (
                f"The generated password of '{name}' was changed and {password_file} removed. "
                f"Log in with your account (cvat-lite changepassword {name} resets it)."
            )
        return "Log in with an existing account (cvat-lite createsuperuser makes one)."

    def _web(
        self, env: dict, host: str, port: int, web_workers: int, web_threads: int
    ) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "cvat_lite.wsgi:application",
                "--bind", f"{host}:{port}",
                "--workers", str(web_workers),
                "--worker-class", "gthread",
                "--threads", str(web_threads),
                "--timeout", "300",
                "--access-logfile", "-",
                "--no-control-socket",
            ],
            env=env,
        )  # fmt: skip

    def _worker(self, env: dict) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "cvat_lite.cli", "rqworker", "export", "import", "create"],
            env=env,
        )

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
