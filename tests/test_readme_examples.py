"""The README's login one-liner and cvat-cli lines work as printed (only the port and the password
substituted), and the one-liner shows the server's refusal instead of a Python traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _login_lines() -> str:
    """HOST=..., the KEY=$(...) command and its continuation lines, as printed."""
    block = README[README.index("HOST=http://127.0.0.1:8080") :]
    return block[: block.index('AUTH="Authorization: Token $KEY"')]


def _cli_lines() -> list[str]:
    return re.findall(r"^cvat-cli --server-host .*$", README, flags=re.M)


def _as_printed(text: str, port: int, password: str) -> str:
    return text.replace("8080", str(port)).replace("<printed password>", password)


def _bash(script: str, **env: str) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # cvat-cli of this venv
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": path, **env},
    )


def test_login_one_liner_prints_a_key_or_the_refusal(live_server, make_user):
    make_user("admin")
    port = int(live_server.url.rsplit(":", 1)[1])
    ok = _bash(_as_printed(_login_lines(), port, PASSWORD) + 'echo "KEY=$KEY"')
    assert ok.returncode == 0, ok.stderr
    assert re.search(r"^KEY=\w{20,}$", ok.stdout, flags=re.M), ok.stdout

    refused = _bash("set -e\n" + _as_printed(_login_lines(), port, "wrong"))
    assert refused.returncode != 0
    assert "login refused:" in refused.stderr and "Traceback" not in refused.stderr


def test_cvat_cli_lines_work_as_printed(live_server, make_user, background_worker, tmp_path):
    from tests.e2e.helpers import ApiSession

    make_user("admin")
    port = int(live_server.url.rsplit(":", 1)[1])
    lines = _cli_lines()
    assert len(lines) == 2 and all("--server-host http://" in line for line in lines)
    session = ApiSession(live_server.url, "admin", PASSWORD)
    task = session.local_task("street", count=2)
    session.http.close()
    # As printed, but for the task just made (ids are not reset between tests on PostgreSQL).
    backup = lines[1].replace(" task backup 1 ", f" task backup {task['id']} ")
    script = "\n".join(_as_printed(line, port, PASSWORD) for line in (lines[0], backup))
    result = subprocess.run(
        ["bash", "-c", "set -e\n" + script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PASS": PASSWORD,
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"^{task['id']}$", result.stdout, flags=re.M), result.stdout  # task ls
    archive = tmp_path / "street-full.zip"
    assert archive.stat().st_size > 0
