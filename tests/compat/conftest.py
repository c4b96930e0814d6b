"""The official clients (cvat-sdk / cvat-cli 2.80), unmodified, against a live server."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from cvat_sdk import Client, make_client
from PIL import Image

from tests.conftest import PASSWORD


@dataclass
class Live:
    host: str  # "http://localhost"
    port: int
    username: str
    password: str

    @contextlib.contextmanager
    def client(self, **kwargs) -> Iterator[Client]:
        with make_client(self.host, port=self.port, **kwargs) as client:
            client.config.status_check_period = 0.1
            try:
                yield client
            finally:
                # The SDK keeps its HTTP connections open, and each one holds a live-server
                # thread; close them so the server can shut down cleanly.
                url = f"{self.host}:{self.port}"
                client.api_client.rest_client.pool_manager.connection_from_url(url).close()


@pytest.fixture
def live(live_server, transactional_db, make_user, background_worker) -> Live:
    user = make_user("sdkuser")
    parts = urlsplit(live_server.url)
    return Live(f"{parts.scheme}://{parts.hostname}", parts.port, user.username, PASSWORD)


def jpeg(width: int, height: int, color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", quality=90)
    return out.getvalue()


def put_images_with_manifest(emulator, config, prefix: str, count: int) -> dict[str, bytes]:
    """Images ``<prefix>img<i>.jpg`` and a manifest ``<prefix>manifest.jsonl`` naming them."""
    objects = {}
    lines = ['{"version":"1.1"}', '{"type":"images"}']
    for i in range(count):
        data = jpeg(40 + i, 30 + i, (10 * i % 255, 80, 120))
        emulator.put(config, f"{prefix}img{i}.jpg", data)
        objects[f"{prefix}img{i}.jpg"] = data
        lines.append(
            json.dumps(
                {"name": f"img{i}", "extension": ".jpg", "width": 40 + i, "height": 30 + i},
                separators=(",", ":"),
            )
        )
    emulator.put(config, f"{prefix}manifest.jsonl", ("\n".join(lines) + "\n").encode())
    return objects
