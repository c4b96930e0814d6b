"""Real ``cvat-lite rqworker`` processes against the test database, Redis and data directory.

A worker runs in a session of its own; rq forks a work-horse per job (in a process group of
its own too), so ``kill()`` lists the worker's children first, then SIGKILLs the worker and
them: nothing gets the chance to record anything, as when a machine dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

STOP_TIMEOUT_S = 15.0
WAIT_TIMEOUT_S = 60.0
POLL_S = 0.05


def database_url() -> str:
    """The URL of the database this test process uses (the test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    assert connection.vendor == "postgresql", connection.vendor
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


def worker_environment(**overrides: str) -> dict[str, str]:
    """The environment of a worker that sees what this test sees; ``overrides`` are more
    ``CVAT_LITE_*`` variables (without the prefix)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "cvat_lite.settings",
            "CVAT_LITE_DATABASE_URL": database_url(),
            "CVAT_LITE_REDIS_URL": settings.REDIS_URL,
            "CVAT_LITE_DATA_DIR": str(settings.DATA_DIR),
            "CVAT_LITE_SHARE_ROOT": str(settings.SHARE_ROOT),
            "CVAT_LITE_CLOUD_ENDPOINT_ALLOWLIST": ",".join(settings.CLOUD_ENDPOINT_ALLOWLIST),
            "CVAT_LITE_LOG_LEVEL": "WARNING",
        }
    )
    env.update({f"CVAT_LITE_{name}": value for name, value in overrides.items()})
    return env


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # pid (comm) state ppid ...: comm may hold spaces and parentheses
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class WorkerProcess:
    def __init__(
        self,
        env: dict[str, str],
        queues: tuple[str, ...] = ("export", "import"),
        *,
        scheduler: bool = False,
    ):
        """``scheduler``: with rq's scheduler (``--with-scheduler``, as ``cvat-lite serve``
        starts workers), a child process of the worker."""
        self.name = f"faults-{uuid.uuid4().hex[:8]}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        cmd = [sys.executable, "-m", "cvat_lite.cli", "rqworker", *queues, "--name", self.name]
        if scheduler:
            cmd.append("--with-scheduler")
        self.process = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(
                f"worker {self.name} exited with {self.process.returncode}:\n{self.output()}"
            )

    def busy(self) -> bool:
        """Is a work-horse (a job) running?"""
        return bool(_children(self.pid))

    def kill(self) -> list[int]:
        """SIGKILL the worker and its work-horse(s), worker first (so that it cannot notice
        its horse dying). Returns the horses' pids."""
        horses = _children(self.pid)
        os.kill(self.pid, signal.SIGKILL)
        for horse in horses:
            with contextlib.suppress(ProcessLookupError):
                os.kill(horse, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)
        return horses

    def stop(self) -> None:
        """After the test: nothing of the worker matters any more (the test database and Redis
        are emptied next), so it is killed, at once."""
        if self.process.poll() is None:
            self.kill()
        self._log.close()


def wait_for(
    condition: Callable[[], object],
    what: str,
    *,
    timeout: float = WAIT_TIMEOUT_S,
    workers: tuple[WorkerProcess, ...] = (),
):
    """Poll ``condition`` until it returns something truthy (returned), within ``timeout``;
    fail early if one of ``workers`` died."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        for worker in workers:
            worker.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_S)
