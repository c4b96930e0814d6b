"""contract 4.4: redirects are not followed to hosts outside the allowlist.

An allowed local server answers every request with 302 to a second local server (another
port, outside the allowlist). That one answers 200 to anything: had the client followed the
redirect, the bucket would look AVAILABLE and the download would succeed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cvat_lite.cloud.base import STATUS_TIMEOUTS, Status
from cvat_lite.cloud.registry import get_provider
from cvat_lite.errors import CloudStorageError
from tests.fixtures.emulators import Emulator, unique_name


class _Handler(BaseHTTPRequestHandler):
    location = ""  # set on a subclass: where to redirect; empty means answer 200
    hits: list[str]

    def _answer(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        if length := int(self.headers.get("Content-Length") or 0):
            self.rfile.read(length)
        if self.location:
            self.send_response(302)
            self.send_header("Location", self.location + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            body = b"followed"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(location: str = "") -> tuple[ThreadingHTTPServer, list[str]]:
    hits: list[str] = []
    handler = type("Handler", (_Handler,), {"location": location, "hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads, server.block_on_close = True, False  # clients keep connections
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, hits


@pytest.fixture
def redirecting() -> Iterator[tuple[int, list[str], list[str]]]:
    """(port of the redirecting server, its hits, the hits of the redirect target)."""
    target, target_hits = _serve()
    redirector, hits = _serve(f"http://127.0.0.1:{target.server_address[1]}")
    yield redirector.server_address[1], hits, target_hits
    for server in (redirector, target):
        server.shutdown()
        server.server_close()


def test_redirect_to_another_host_is_not_followed(cloud_emulator: Emulator, redirecting):
    port, hits, target_hits = redirecting
    config = cloud_emulator.config_at(f"http://127.0.0.1:{port}", unique_name())
    provider = get_provider(config, allowlist=[f"127.0.0.1:{port}"], timeouts=STATUS_TIMEOUTS)

    assert provider.status() is Status.NOT_FOUND
    with pytest.raises(CloudStorageError):
        provider.download("some/key.jpg")

    assert hits, "the allowed endpoint was asked"
    assert target_hits == []
