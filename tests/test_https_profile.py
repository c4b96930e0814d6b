"""The production profile behind TLS (CVAT_LITE_HTTPS=1, docs/security.md): `cvat-lite check
--deploy` reports nothing, cookies are Secure, HSTS is sent and plain HTTP is redirected.
Settings are read once at start-up, so each check runs in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CVAT_LITE = Path(sys.executable).parent / "cvat-lite"
SECRET = "Zq8v-" + "k3N9xW2pL7mR4tY6uB1cE5hJ0aS8dF" * 2


def _env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVAT_LITE_")}
    env.update(
        CVAT_LITE_DATA_DIR=str(tmp_path / "data"),
        CVAT_LITE_SECRET_KEY=SECRET,
        CVAT_LITE_ALLOWED_HOSTS="cvat.example",
        DJANGO_SETTINGS_MODULE="cvat_lite.settings",
        **extra,
    )
    return env


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CVAT_LITE), "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_https_profile_passes_check_deploy_without_warnings(tmp_path):
    result = _check_deploy(_env(tmp_path, CVAT_LITE_HTTPS="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_without_the_profile_check_deploy_names_what_is_missing(tmp_path):
    result = _check_deploy(_env(tmp_path))
    assert result.returncode != 0
    for warning in ("W004", "W008", "W012", "W016"):
        assert f"security.{warning}" in result.stderr + result.stdout


_PROBE = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
plain = Client(HTTP_HOST="cvat.example").get("/login")
proxied = Client(HTTP_HOST="cvat.example", HTTP_X_FORWARDED_PROTO="https").get("/login")
print(json.dumps({
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location"),
    "status": proxied.status_code,
    "hsts": proxied.get("Strict-Transport-Security"),
    "csrf_secure": proxied.cookies["csrftoken"]["secure"],
}))
"""


@pytest.mark.django_db
def test_https_profile_behind_a_proxy(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=_env(tmp_path, CVAT_LITE_HTTPS="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "plain_status": 301,
        "plain_location": "https://cvat.example/login",
        "status": 200,
        "hsts": "max-age=31536000; includeSubDomains; preload",
        "csrf_secure": True,
    }
