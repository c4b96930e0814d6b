"""What a benchmark run starts: an embedded Redis, two S3 servers in this process (moto's, with
a counter of object GETs, for small buckets, and ``bench.synthetic_s3`` for large ones), Django
on a SQLite database in a temporary directory, and two real subprocesses whose resident memory
is sampled from ``/proc``: the web server (gunicorn, one worker process with threads, as
``cvat-lite serve`` runs it) and one ``cvat-lite rqworker``."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

ACCOUNT = "123456789012"  # moto's default account
KEY, SECRET = "bench-key", "bench-secret"

SYNTHETIC_FROM = 100_000  # buckets of this many objects or more are bench.synthetic_s3's
_LISTING = {"list-type", "prefix", "delimiter", "uploads", "location", "versioning"}


def s3_client(endpoint: str):
    """A boto3 S3 client of the benchmark's credentials for a server at ``endpoint``."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=KEY,
        aws_secret_access_key=SECRET, region_name="us-east-1",
        config=Config(max_pool_connections=32),
    )  # fmt: skip


class CountingMoto(ThreadedMotoServer):
    """moto's threaded server whose WSGI app counts GETs of single objects per bucket."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.object_gets: Counter[str] = Counter()

    def _count(self, app):
        def counted(environ, start_response):
            if environ["REQUEST_METHOD"] == "GET":
                parts = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)
                query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
                if len(parts) == 2 and parts[1] and not _LISTING & query.keys():
                    self.object_gets[parts[0]] += 1
            return app(environ, start_response)

        return counted

    def _server_entry(self) -> None:
        app = self._count(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def endpoint(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    def client(self):
        return s3_client(self.endpoint)

    @staticmethod
    def backend():
        from moto.s3.models import s3_backends

        return s3_backends[ACCOUNT]["global"]

    def seed(self, bucket: str, objects) -> None:
        """Put ``(key, bytes)`` pairs straight into moto's backend: 100,000 HTTP PUTs to the
        in-process server would take minutes, and only reading is measured."""
        backend = self.backend()
        for key, body in objects:
            backend.put_object(bucket, key, body)


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(child) for child in task.read_text().split())
    return found


class _Sampled:
    """A subprocess tree whose largest resident set is sampled every 20 ms (Linux ``/proc``)
    and kept since ``reset_peak``: the largest RSS of any one process of the tree (rq forks a
    work horse per job, gunicorn a worker process; each includes the pages it shares with its
    parent)."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.peak_kb = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def rss_kb(self) -> int:
        return max(_rss_kb(pid) for pid in _descendants(self.process.pid))

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kb = max(self.peak_kb, self.rss_kb())

    def reset_peak(self) -> None:
        self.peak_kb = self.rss_kb()

    @property
    def peak_mb(self) -> float:
        return max(self.peak_kb, self.rss_kb()) / 1024

    def check(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self._log.name}: exited ({self.process.returncode})")

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


class Worker(_Sampled):
    """One ``cvat-lite rqworker export import create`` subprocess (as ``cvat-lite serve`` runs
    them)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        command = [sys.executable, "-m", "cvat_lite.cli", "rqworker", "export", "import", "create"]
        super().__init__(command, env, log)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Web(_Sampled):
    """gunicorn serving ``cvat_lite.wsgi`` with one worker process of 4 threads (the setting
    ``cvat-lite serve`` uses per process), on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        command = [
            sys.executable, "-m", "gunicorn", "cvat_lite.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--worker-class", "gthread",
            "--threads", "4", "--timeout", "600", "--no-control-socket",
        ]  # fmt: skip
        super().__init__(command, env, log)
        self.url = f"http://127.0.0.1:{self.port}"

        def up() -> bool:
            self.check()
            import socket

            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return True
            return False

        wait_until(up, timeout=60, every=0.1)


class Environment:
    def __init__(self, workdir: Path) -> None:
        from cvat_lite.embedded_redis import EmbeddedRedis

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        self.workdir = workdir
        self.redis = EmbeddedRedis().start()
        data = workdir / "data"
        data.mkdir(parents=True)
        env = {
            "CVAT_LITE_DATA_DIR": str(data),
            "CVAT_LITE_REDIS_URL": self.redis.url,
            "CVAT_LITE_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "cvat_lite.settings",
        }
        os.environ.update(env)
        os.environ.pop("CVAT_LITE_DATABASE_URL", None)  # always the run's own SQLite file
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        self.moto = CountingMoto()
        self.moto.start()
        from bench.synthetic_s3 import SyntheticS3

        self.synthetic = SyntheticS3().start()
        child_env = {k: v for k, v in os.environ.items() if k != "CVAT_LITE_DATABASE_URL"}
        self._child_env = child_env
        self.worker = Worker(child_env, workdir / "worker.log")
        self.web = Web(child_env, workdir / "web.log")

    def restart_web(self) -> None:
        """A fresh web process: a relink (verified in the web request) leaves its process
        larger for good (freed memory is kept by Python's allocator), which would show in the
        figures of the next size."""
        self.web.stop()
        self.web = Web(self._child_env, self.workdir / "web.log")

    def s3_for(self, n: int):
        """The S3 server for a bucket of ``n`` objects: moto below ``SYNTHETIC_FROM`` (real
        objects), the synthetic one from there (moto re-sorts the bucket per listing page, and
        seeding a million objects into it takes minutes and gigabytes)."""
        return self.synthetic if n >= SYNTHETIC_FROM else self.moto

    def stop(self) -> None:
        self.web.stop()
        self.worker.stop()
        self.synthetic.stop()
        self.moto.stop()
        self.redis.stop()


def wait_until(predicate, *, timeout: float, every: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting")
        time.sleep(every)
