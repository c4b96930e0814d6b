"""Tiny local servers for the outbound-request tests: a TCP listener that counts the
connections made to it, and an HTTP server that redirects every request elsewhere."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCEPT_POLL = 0.05  # seconds between checks of the stop flag


class ConnectionCounter:
    """Listens on 127.0.0.1 and counts every TCP connection (closed at once, so a client that
    does connect fails fast rather than waiting for an answer)."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self._socket.settimeout(ACCEPT_POLL)
        self.port = self._socket.getsockname()[1]
        self._accepted = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_one(self) -> bool:
        try:
            connection, _ = self._socket.accept()
        except (TimeoutError, BlockingIOError):
            return False
        connection.close()
        self._accepted += 1
        return True

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._accept_one()

    @property
    def accepted(self) -> int:
        """Connections so far, including any still waiting in the listen backlog (a connect
        completes in the kernel before it is accepted)."""
        with self._lock:
            self._socket.setblocking(False)
            try:
                while self._accept_one():
                    pass
            finally:
                self._socket.settimeout(ACCEPT_POLL)
            return self._accepted

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()


class _LocalServer:
    """A threaded HTTP server on a free loopback port, its handler class ``handler`` with
    ``attributes`` set on it (what the handler answers, and the list of requests it saw)."""

    def _serve(self, handler: type[BaseHTTPRequestHandler], **attributes: object) -> None:
        self._server = ThreadingHTTPServer(
            ("127.0.0.1", 0), type("Handler", (handler,), attributes)
        )
        self._server.daemon_threads, self._server.block_on_close = True, False
        self.port = self._server.server_address[1]
        serve = threading.Thread(target=self._server.serve_forever, args=(ACCEPT_POLL,))
        serve.daemon = True
        serve.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Redirect(BaseHTTPRequestHandler):
    location = ""  # set on a subclass
    hits: list[str]

    def _answer(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        if length := int(self.headers.get("Content-Length") or 0):
            self.rfile.read(length)
        self.send_response(302)
        self.send_header("Location", self.location + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class Redirector(_LocalServer):
    """An HTTP server answering every request with 302 to ``location`` + the same path."""

    def __init__(self, location: str) -> None:
        self.hits: list[str] = []
        self._serve(_Redirect, location=location, hits=self.hits)


class _FakeGcs(BaseHTTPRequestHandler):
    """Just enough of the GCS JSON API for an export: an empty listing, no object (an export
    checks that its key is free), and an upload session whose ``Location`` is ``session_url``
    (set on a subclass)."""

    session_url = ""
    hits: list[str]

    def _answer(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        if length := int(self.headers.get("Content-Length") or 0):
            self.rfile.read(length)
        headers: dict[str, str] = {"Content-Type": "application/json"}
        if self.command == "POST" and "uploadType=resumable" in self.path:
            status, body = 200, b""
            headers["Location"] = self.session_url
        elif self.command == "GET" and self.path.split("?")[0].endswith("/o"):  # a listing
            status, body = 200, b'{"kind": "storage#objects", "items": []}'
        elif self.command == "GET" and self.path.split("/o/")[0] == "/storage/v1/b/bucket":
            status, body = 404, b'{"error": {"code": 404, "message": "No such object"}}'
        elif self.command == "GET" and self.path.startswith("/storage/v1/b/"):  # the bucket
            status, body = 200, b'{"kind": "storage#bucket", "name": "bucket"}'
        else:
            status, body = 404, b'{"error": {"code": 404, "message": "Not Found"}}'
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class FakeGcs(_LocalServer):
    """An HTTP server playing a GCS endpoint whose resumable upload sessions live at
    ``session_url`` (another host, say)."""

    def __init__(self, session_url: str) -> None:
        self.hits: list[str] = []
        attributes = {"session_url": session_url, "hits": self.hits}
        self._serve(_FakeGcs, **attributes)


class _Junk(BaseHTTPRequestHandler):
    body = b""  # set on a subclass
    content_type = "application/octet-stream"
    hits: list[str]

    def _answer(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        if length := int(self.headers.get("Content-Length") or 0):
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class NotAStorage(_LocalServer):
    """An HTTP server answering every request 200 with the same ``body``: an endpoint that is
    reachable but speaks no storage protocol (an empty page, a web site, a file server)."""

    def __init__(self, body: bytes, content_type: str = "application/octet-stream") -> None:
        self.body = body
        self.hits: list[str] = []
        attributes = {"body": body, "content_type": content_type, "hits": self.hits}
        self._serve(_Junk, **attributes)
