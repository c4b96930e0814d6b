"""A gating HTTP proxy in front of an S3 emulator, for fault tests.

A cloud storage row points at ``proxy.endpoint_url`` (loopback, so allowed); the proxy forwards
every request to ``proxy.upstream``. A test can hold one request (``hold``): the proxy stops
before forwarding it, or after sending the first bytes of the answer, sets ``gate.reached`` and
waits for ``gate.release()``; or it can run an action just before one is forwarded
(``before``). Meanwhile the test kills a worker, deletes the bucket or points the proxy at
another upstream (``proxy.upstream = ...``: the auth-enforcing emulator, i.e. the credentials
were revoked) — the held request, and every later one, sees the change.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOLD_LIMIT_S = 60.0  # a held request is released after this long whatever happens
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}

Match = Callable[[str, str], bool]  # (method, path with query) -> hold it?


@dataclass
class Gate:
    match: Match
    after_bytes: int | None = None  # None: hold before forwarding; n: after n bytes of the body
    action: Callable[[], None] | None = None  # run when reached (in the proxy's thread)
    reached: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)
    requests: list[str] = field(default_factory=list)

    def release(self) -> None:
        self.opened.set()

    def wait_reached(self, timeout: float = 30.0) -> None:
        assert self.reached.wait(timeout), "the held request never came"

    def _hold(self, what: str) -> None:
        self.requests.append(what)
        if self.action is not None:
            self.action()
        self.reached.set()
        self.opened.wait(HOLD_LIMIT_S)


class GatedProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream
        self.seen: list[tuple[str, str]] = []
        self._gates: list[Gate] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"

    def hold(self, match: Match, *, after_bytes: int | None = None) -> Gate:
        """Hold the next request that ``match``es (once)."""
        gate = Gate(match, after_bytes)
        with self._lock:
            self._gates.append(gate)
        return gate

    def before(self, match: Match, action: Callable[[], None]) -> Gate:
        """Run ``action`` when the next request that ``match``es arrives, then forward it."""
        gate = Gate(match, action=action)
        gate.release()
        with self._lock:
            self._gates.append(gate)
        return gate

    def _gate_for(self, method: str, path: str) -> Gate | None:
        with self._lock:
            self.seen.append((method, path))
            for gate in self._gates:
                if gate.match(method, path):
                    self._gates.remove(gate)
                    return gate
        return None

    def close(self) -> None:
        with self._lock:
            gates, self._gates = self._gates, []
        for gate in gates:
            gate.release()
        self._server.shutdown()
        self._server.server_close()


def _handler(proxy: GatedProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            gate = proxy._gate_for(self.command, self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if gate is not None and gate.after_bytes is None:
                gate._hold(f"{self.command} {self.path}")
            status, reason, headers, content = _relay(proxy.upstream, self, body)
            with contextlib.suppress(OSError):
                self.send_response(status, reason)
                for name, value in headers:
                    self.send_header(name, value)
                if self.command == "HEAD":
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                start = 0
                if gate is not None and gate.after_bytes is not None:
                    start = min(gate.after_bytes, len(content))
                    self.wfile.write(content[:start])
                    self.wfile.flush()
                    gate._hold(f"{self.command} {self.path}")
                self.wfile.write(content[start:])

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

    return Handler


def _relay(
    upstream: str, request: BaseHTTPRequestHandler, body: bytes | None
) -> tuple[int, str, list[tuple[str, str]], bytes]:
    target = urlsplit(upstream)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() not in HOP_BY_HOP and name.lower() != "expect"
    }
    try:
        connection.request(request.command, request.path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
        head = request.command == "HEAD"  # its Content-Length is the object's: kept
        kept = [
            (name, value)
            for name, value in response.getheaders()
            if name.lower() not in HOP_BY_HOP and (head or name.lower() != "content-length")
        ]
        return response.status, response.reason, kept, content
    finally:
        connection.close()


@contextlib.contextmanager
def gated_proxy(upstream: str) -> Iterator[GatedProxy]:
    proxy = GatedProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
