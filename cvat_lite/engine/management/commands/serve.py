"""``cvat-lite serve``: migrations, the web server and N RQ workers in one foreground process
group. Without ``CVAT_LITE_REDIS_URL`` it runs an embedded Redis for its own lifetime. Ctrl-C
(SIGINT) or SIGTERM stops everything it started.

A worker that exits is started again after a pause that doubles each time (1, 2, 4 … seconds);
one that exits more than ``--worker-restarts`` times within ``RESTART_WINDOW_S`` stops the
service (something is wrong that restarting will not fix). The web server (gunicorn) restarts
its own processes; if it exits, everything stops. gunicorn runs threaded workers (``gthread``),
so a slow client or a slow synchronous request holds one thread, not a whole process."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cvat_lite.embedded_redis import EmbeddedRedis

FIRST_USER = "admin"
STOP_TIMEOUT_S = 10.0
RESTART_WINDOW_S = 600.0
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
WEB_START_TIMEOUT_S = 120.0
ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 (recognised, not bound to)
PORT_IN_USE = (
    "Port {port} on {host} is already in use (another cvat-lite serve, or another program). "
    "Stop it, or choose another port with --port."
)
ALREADY_SERVING = (
    "Another cvat-lite serve{pid} is already using the data directory {data_dir}. Stop it "
    "first, or give this one its own directory with CVAT_LITE_DATA_DIR."
)


def port_is_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be listened on now (as gunicorn will, with SO_REUSEADDR: a
    socket left in TIME_WAIT does not count, a listening one does)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host or "0.0.0.0", port))  # noqa: S104 (the address serve was given)
        except OSError:
            return False
    return True


def lock_data_dir(data_dir: Path) -> int:
    """Hold ``serve.lock`` in the data directory for the life of this process (the kernel
    releases it when the process ends, however it ends); ``CommandError`` when another serve
    holds it. Two services on one SQLite database and one first-login file would corrupt each
    other's view (and their embedded Redis instances would split the queues)."""
    path = data_dir / "serve.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        pid = f" (pid {holder})" if holder.isdigit() else ""
        raise CommandError(ALREADY_SERVING.format(pid=pid, data_dir=data_dir)) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def reachable_addresses(host: str) -> list[str]:
    """The machine's non-loopback addresses a client can use when serving on every interface
    (``0.0.0.0``: IPv4 only; ``::``: both families)."""
    found: set[str] = set()
    families = (socket.AF_INET, socket.AF_INET6) if host == "::" else (socket.AF_INET,)
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP):
            if info[0] in families:
                found.add(str(info[4][0]))
    except OSError:
        pass
    try:  # the address of the default route (no packet is sent)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            found.add(probe.getsockname()[0])
    except OSError:
        pass
    return sorted(a for a in found if not a.startswith("127.") and a != "::1" and "%" not in a)


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


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
        lock = lock_data_dir(Path(settings.DATA_DIR))  # noqa: F841 (held until exit)
        if not port_is_free(host, port):
            raise CommandError(PORT_IN_USE.format(port=port, host=host or "every address"))
        env = dict(os.environ)
        urls = [f"http://{_url_host(host)}:{port}/"]
        if host in ANY_ADDRESS:
            addresses = reachable_addresses(host)
            hostname = socket.gethostname()
            extra_hosts = [hostname, *map(_url_host, addresses)]
            env["CVAT_LITE_ALLOWED_HOSTS"] = ",".join([*settings.ALLOWED_HOSTS, *extra_hosts])
            urls = [f"http://{name}:{port}/" for name in ["127.0.0.1", *extra_hosts]]
        elif host not in settings.ALLOWED_HOSTS and _url_host(host) not in settings.ALLOWED_HOSTS:
            env["CVAT_LITE_ALLOWED_HOSTS"] = ",".join([*settings.ALLOWED_HOSTS, _url_host(host)])
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
            if not self._listening(web, host, port):
                raise CommandError(f"The web server did not start ({web.poll()}); stopping.")
            url = urls[0]
            self.stdout.write(self.style.SUCCESS(f"cvat_lite is running at {url}"))
            for other in urls[1:]:
                self.stdout.write(f"  also reachable at {other}")
            if len(urls) > 1:
                self.stdout.write(
                    "  (other names for this machine: add them to CVAT_LITE_ALLOWED_HOSTS)"
                )
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

    def _listening(self, web: subprocess.Popen, host: str, port: int) -> bool:
        """Wait until the web server accepts connections (True), or exits or takes too long."""
        target = "127.0.0.1" if host in ANY_ADDRESS else host
        deadline = time.monotonic() + WEB_START_TIMEOUT_S
        while time.monotonic() < deadline and web.poll() is None:
            try:
                with socket.create_connection((target, port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.2)
        return False

    def _tend_workers(self, env: dict, slots: list[_WorkerSlot], limit: int) -> bool:
        """Restart workers that exited, with a growing pause; False when one exits too often."""
        now = time.monotonic()
        for slot in slots:
            if slot.process is not None and slot.process.poll() is not None:
                code, pid = slot.process.returncode, slot.process.pid
                _signal_group(slot.process, signal.SIGKILL)  # its scheduler, if it outlived it
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
            process_group=0,  # its own group: stopped as a whole (see _stop)
        )  # fmt: skip

    def _worker(self, env: dict) -> subprocess.Popen:
        # RQ's scheduler (one of the workers holds its lock) fires backup policies.
        queues = ["export", "import", "create"]
        command = [sys.executable, "-m", "cvat_lite.cli", "rqworker", *queues, "--with-scheduler"]
        # Its own process group: RQ's scheduler runs in a child of the worker, which outlives a
        # worker that dies (and then holds the log's pipe and retries a stopped Redis forever);
        # signalling the group reaches it too.
        return subprocess.Popen(command, env=env, process_group=0)

    def _stop(self, children: list[subprocess.Popen]) -> None:
        """SIGTERM to each child's process group, then SIGKILL to whatever is left in them."""
        for child in children:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for child in children:  # e.g. a scheduler process whose worker has exited
            _signal_group(child, signal.SIGKILL)


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    """Signal the process group led by ``child`` (it has one: ``process_group=0``), if any of
    it is still running."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)
