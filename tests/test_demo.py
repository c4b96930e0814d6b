"""`cvat-lite demo`: the service, an S3 emulator with generated images, a cloud storage and a task
— and the flow it prints works: lightweight backup, restore, "not connected", relink, frames."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.processes import embedded_env, free_port

pytestmark = pytest.mark.slow
TIMEOUT_S = 240


class Api:
    def __init__(self, url: str, username: str, password: str):
        self.url, self.http = url, requests.Session()
        answer = self.call(
            "POST", "/api/auth/login", json={"username": username, "password": password}
        )
        self.http.headers["Authorization"] = f"Token {answer.json()['key']}"
        self.http.cookies.clear()

    def call(self, method: str, path: str, expected: int = 200, **kwargs) -> requests.Response:
        response = self.http.request(method, self.url + path, timeout=60, **kwargs)
        assert response.status_code == expected, (method, path, response.text)
        return response

    def finished(self, rq_id: str) -> dict:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            request = self.call("GET", f"/api/requests/{rq_id}").json()
            if request["status"] in ("finished", "failed"):
                assert request["status"] == "finished", request["message"]
                return request
            time.sleep(0.2)
        raise AssertionError(f"request {rq_id} did not finish")

    def frame(self, task_id: int, expected: int = 200) -> bytes:
        path = f"/api/tasks/{task_id}/data?type=frame&number=0&quality=original"
        return self.call("GET", path, expected).content


def test_demo_runs_the_whole_lightweight_flow(tmp_path):
    port = free_port()
    env = embedded_env()
    data_dir = tmp_path / "demo"
    (data_dir / "old").mkdir(parents=True)  # a previous demo's leftovers are cleared
    script = Path(sys.executable).parent / "cvat-lite"
    process = subprocess.Popen(
        [str(script), "demo", "--port", str(port), "--images", "6", "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        while not any("Ctrl-C stops" in line for line in output):
            line = process.stdout.readline()
            assert line, "demo exited early:\n" + "".join(output)
            output.append(line)
        text = "".join(output)
        assert not (data_dir / "old").exists()
        ready = re.search(r"ready at (http://127\.0\.0\.1:\d+)/  \(log in as (\S+) / (\S+)\)", text)
        assert ready, text
        s3 = re.search(r"S3 emulator \(moto\) at (http://127\.0\.0\.1:\d+)", text).group(1)
        api = Api(*ready.groups())
        task_id = int(re.search(r"task #(\d+)", text).group(1))
        assert f"/tasks/{task_id}" in text and "cvat-cli --server-host http://127.0.0.1" in text

        meta = api.call("GET", f"/api/tasks/{task_id}/data/meta").json()
        assert meta["size"] == 6
        original = api.frame(task_id)

        rq_id = api.call(
            "POST", f"/api/tasks/{task_id}/backup/export?lightweight=true", 202
        ).json()["rq_id"]
        archive = api.call("GET", api.finished(rq_id)["result_url"].removeprefix(api.url)).content
        assert len(archive) < 20_000  # the manifest, not the images
        files = {"task_file": ("demo.zip", archive, "application/zip")}
        # Restored by its owner: connected to "Demo bucket" at once.
        rq_id = api.call("POST", "/api/tasks/backup/", 202, files=files).json()["rq_id"]
        assert api.frame(api.finished(rq_id)["result_id"]) == original

        # Restored by the second user, who cannot see that storage: not connected, until they
        # add their own storage for the bucket (as printed) and choose it.
        guest = Api(ready.group(1), *re.search(r"second user, (\S+) / (\S+),", text).groups())
        rq_id = guest.call("POST", "/api/tasks/backup/", 202, files=files).json()["rq_id"]
        restored = guest.finished(rq_id)["result_id"]
        guest.frame(restored, 409)
        printed = re.search(r"bucket (\S+), key (\S+), secret (\S+), endpoint\s+(\S+)\.", text)
        bucket, key, secret, endpoint = printed.groups()
        assert endpoint == s3
        own = guest.call(
            "POST",
            "/api/cloudstorages",
            201,
            json={
                "provider_type": "AWS_S3_BUCKET",
                "resource": bucket,
                "display_name": "my copy",
                "credentials_type": "KEY_SECRET_KEY_PAIR",
                "key": key,
                "secret_key": secret,
                "specific_attributes": f"endpoint_url={endpoint}&region=us-east-1",
            },
        ).json()
        guest.call(
            "PATCH", f"/api/tasks/{restored}/data/meta", json={"cloud_storage_id": own["id"]}
        )
        assert guest.frame(restored) == original

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, "".join(output) + rest
        with pytest.raises(requests.ConnectionError):  # the emulator stopped with it
            requests.get(s3, timeout=5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
