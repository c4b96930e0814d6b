"""`cvat-lite serve` on embedded defaults: migrates, serves, runs workers, stops on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.processes import embedded_env, free_port

pytestmark = pytest.mark.slow


def _wait_for(url: str, timeout: float = 60) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=30)
        except requests.ConnectionError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def test_serve_starts_everything_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = embedded_env(CVAT_LITE_DATA_DIR=str(tmp_path / "data"))
    script = Path(sys.executable).parent / "cvat-lite"
    process = subprocess.Popen(
        [str(script), "serve", "--port", str(port), "--workers", "1", "--web-workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        while not any("Press Ctrl-C" in line for line in output):
            line = process.stdout.readline()
            assert line, "serve exited early:\n" + "".join(output)
            output.append(line)
        text = "".join(output)
        assert f"http://127.0.0.1:{port}/" in text
        login = re.search(r"Login: (\S+) / (\S+)", text)
        assert login, text
        redis_port = int(re.search(r"Embedded Redis on redis://127.0.0.1:(\d+)", text).group(1))

        about = _wait_for(f"http://127.0.0.1:{port}/api/server/about")
        assert about.status_code == 200
        response = requests.post(
            f"http://127.0.0.1:{port}/api/auth/login",
            json={"username": login.group(1), "password": login.group(2)},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert (tmp_path / "data" / "db.sqlite3").exists()
        # The web UI and its static files come from the same server (gunicorn), no collectstatic.
        home = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert home.status_code == 200 and '<body data-page="index">' in home.text
        script = requests.get(f"http://127.0.0.1:{port}/static/web/pages/index.js", timeout=10)
        assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            rest, _ = process.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    assert process.returncode == 0, rest
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", redis_port)) != 0, "embedded Redis still running"
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "web server still running"
    survivors = subprocess.run(
        ["pgrep", "-s", str(process.pid)], capture_output=True, text=True
    ).stdout.split()
    assert survivors == []


def _start_serve(tmp_path, port: int, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    env = embedded_env(CVAT_LITE_DATA_DIR=str(tmp_path / "data"))
    script = Path(sys.executable).parent / "cvat-lite"
    process = subprocess.Popen(
        [str(script), "serve", "--port", str(port), "--workers", "1", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    _read_until(process, output, "Press Ctrl-C")
    return process, output


def _read_until(process: subprocess.Popen, output: list[str], text: str) -> None:
    while not any(text in line for line in output):
        line = process.stdout.readline()
        assert line, "serve exited early:\n" + "".join(output)
        output.append(line)


def _worker_pids(serve_pid: int) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(serve_pid), "-f", "rqworker"], capture_output=True, text=True
    )
    return [int(pid) for pid in found.stdout.split()]


def _stop_serve(process: subprocess.Popen) -> str:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:  # gunicorn's threads finish their requests first: allow a loaded machine its time
        rest, _ = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return rest


def test_a_killed_worker_is_restarted_and_the_web_stays_up(tmp_path):
    port = free_port()
    # One web process: a stalled connection must not take it (threaded workers).
    process, output = _start_serve(tmp_path, port, "--web-workers", "1")
    stalled = socket.socket()
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/api/server/about").status_code == 200
        stalled.connect(("127.0.0.1", port))
        # A client that sends half a request body and stops (a slow upload).
        stalled.sendall(
            b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        assert requests.get(f"http://127.0.0.1:{port}/api/server/about", timeout=30).ok

        [worker] = _worker_pids(process.pid)
        os.kill(worker, signal.SIGKILL)
        _read_until(process, output, "Worker 1 started again")
        text = "".join(output)
        assert f"Worker 1 (pid {worker}) exited (-9); restarting in 1 s (restart 1 of 5)." in text
        assert process.poll() is None
        [restarted] = _worker_pids(process.pid)
        assert restarted != worker
        assert requests.get(f"http://127.0.0.1:{port}/api/server/about", timeout=30).ok
    finally:
        stalled.close()
        rest = _stop_serve(process)
    assert process.returncode == 0, rest


def test_a_worker_that_keeps_exiting_stops_the_service(tmp_path):
    port = free_port()
    process, output = _start_serve(tmp_path, port, "--worker-restarts", "1")
    try:
        [worker] = _worker_pids(process.pid)
        os.kill(worker, signal.SIGKILL)
        _read_until(process, output, "Worker 1 started again")
        [worker] = _worker_pids(process.pid)
        os.kill(worker, signal.SIGKILL)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            _stop_serve(process)
    text = "".join(output) + rest
    assert "after 1 restarts within 600 s; stopping." in text
    assert process.returncode == 1
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "web server still running"
    assert subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True).stdout == b""


def _run_serve(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """serve expected to refuse to start: its whole output and status."""
    env = embedded_env(CVAT_LITE_DATA_DIR=str(tmp_path / "data"))
    script = Path(sys.executable).parent / "cvat-lite"
    return subprocess.run(
        [str(script), "serve", "--workers", "1", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_busy_port_is_a_clear_error_before_anything_runs(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run_serve(tmp_path, "--port", str(port))
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "running" not in result.stdout and "Login" not in result.stdout
    assert "Embedded Redis" not in result.stdout  # nothing was started


def test_every_address_then_a_second_serve_on_the_same_data(tmp_path):
    port = free_port()
    process, output = _start_serve(tmp_path, port, "--host", "0.0.0.0")
    try:
        text = "".join(output)
        hostname = socket.gethostname()
        assert f"cvat_lite is running at http://127.0.0.1:{port}/" in text
        assert f"also reachable at http://{hostname}:{port}/" in text
        # A request naming the machine (not localhost) is served, not "Bad Request (400)".
        about = requests.get(
            f"http://127.0.0.1:{port}/api/server/about",
            headers={"Host": f"{hostname}:{port}"},
            timeout=30,
        )
        assert about.status_code == 200, about.text
        for address in re.findall(rf"also reachable at http://([\d.]+):{port}/", text):
            assert requests.get(f"http://{address}:{port}/api/server/about", timeout=30).ok
        # Another instance on the same data directory (another port) is refused.
        second = _run_serve(tmp_path, "--port", str(free_port()))
        assert second.returncode == 1
        assert "Another cvat-lite serve (pid" in second.stderr
        assert "is already using the data directory" in second.stderr
        assert "running" not in second.stdout
        assert process.poll() is None  # the first one is untouched
    finally:
        rest = _stop_serve(process)
    assert process.returncode == 0, rest
