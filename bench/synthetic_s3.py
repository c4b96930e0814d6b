"""An S3 endpoint whose listing costs the same per page at any bucket size.

moto's server sorts every key of a bucket for each ``ListObjectsV2`` page (2.25 s per
1,000-key page at a million objects), and putting a million objects into it costs minutes and
gigabytes. A benchmark of a million-image task needs neither: its objects are N keys
``<prefix><i zero-padded><suffix>`` with one shared body. This server keeps such a bucket as
arithmetic — a page starts with a binary search over the index (``log N`` key builds) and
then builds ``max-keys`` names — plus a small dictionary of real objects (a manifest, uploaded
archives) merged into the listing in byte order, as S3 orders keys.

It speaks what cvat_lite's S3 provider and boto3 ask of it over HTTP, path-style (the endpoint
is an IP address): create / head bucket, ``ListObjectsV2`` (prefix, delimiter, max-keys,
continuation token, start-after), head / get object (with ``Range``), put object (with
``If-None-Match: *``) and delete object. Signatures are not checked. Object GETs per bucket are
counted in ``object_gets`` as in ``bench.services.CountingMoto``, whose interface (``endpoint``,
``client()``, ``seed()``, ``start()``, ``stop()``) it shares.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

_MODIFIED = "2026-01-01T00:00:00.000Z"
_HTTP_DATE = "Thu, 01 Jan 2026 00:00:00 GMT"
_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_PAGE_MAX = 1000


@dataclass(frozen=True)
class VirtualObjects:
    """``count`` keys ``prefix + str(i).zfill(width) + suffix``, all with ``body``. Zero
    padding to one width makes index order the keys' byte order."""

    prefix: str
    count: int
    body: bytes
    suffix: str = ".jpg"
    width: int = 7
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        if self.count > 10**self.width:
            raise ValueError(f"{self.count} keys do not fit in {self.width} digits")
        object.__setattr__(self, "etag", f'"{hashlib.md5(self.body).hexdigest()}"')

    def key(self, index: int) -> str:
        return f"{self.prefix}{index:0{self.width}d}{self.suffix}"

    def index(self, key: str) -> int | None:
        """The index of ``key`` when it is one of these objects."""
        if not (key.startswith(self.prefix) and key.endswith(self.suffix)):
            return None
        digits = key[len(self.prefix) : len(key) - len(self.suffix)]
        if len(digits) != self.width or not digits.isdigit():
            return None
        index = int(digits)
        return index if index < self.count else None

    def first_after(self, key: str, *, inclusive: bool) -> int:
        """The first index whose key sorts after ``key`` (or equal to it, ``inclusive``)."""
        low, high = 0, self.count
        target = key.encode()
        while low < high:
            middle = (low + high) // 2
            probe = self.key(middle).encode()
            if probe < target or (probe == target and not inclusive):
                low = middle + 1
            else:
                high = middle
        return low


@dataclass
class _Bucket:
    virtual: VirtualObjects | None = None
    real: dict[str, bytes] = field(default_factory=dict)
    sorted_real: list[bytes] = field(default_factory=list)  # keys of ``real`` in byte order

    def put(self, key: str, body: bytes) -> None:
        if key not in self.real:
            bisect.insort(self.sorted_real, key.encode())
        self.real[key] = body

    def delete(self, key: str) -> None:
        if self.real.pop(key, None) is not None:
            self.sorted_real.remove(key.encode())

    def get(self, key: str) -> tuple[bytes, str] | None:
        if key in self.real:
            body = self.real[key]
            return body, f'"{hashlib.md5(body).hexdigest()}"'
        if self.virtual is not None and self.virtual.index(key) is not None:
            return self.virtual.body, self.virtual.etag
        return None

    def keys_from(self, start: str, *, inclusive: bool):
        """Every key at or after ``start`` in byte order, real and virtual merged."""
        position = (bisect.bisect_left if inclusive else bisect.bisect_right)(
            self.sorted_real, start.encode()
        )
        index = self.virtual.first_after(start, inclusive=inclusive) if self.virtual else 0
        count = self.virtual.count if self.virtual else 0
        while position < len(self.sorted_real) or index < count:
            real = self.sorted_real[position] if position < len(self.sorted_real) else None
            virtual = self.virtual.key(index) if self.virtual and index < count else None
            if virtual is None or (real is not None and real <= virtual.encode()):
                position += 1
                if virtual is not None and real == virtual.encode():
                    index += 1  # a real object replaces the virtual one of that name
                assert real is not None
                yield real.decode()
            else:
                index += 1
                yield virtual


def _after_prefix(prefix: str) -> str:
    """The first string after every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class SyntheticS3:
    def __init__(self) -> None:
        self.buckets: dict[str, _Bucket] = {}
        self.object_gets: Counter[str] = Counter()
        self.list_pages = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- the interface bench.services.CountingMoto has ---------------------------------------

    def start(self) -> SyntheticS3:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def client(self):
        from bench.services import s3_client

        return s3_client(self.endpoint)

    def seed(self, bucket: str, objects) -> None:
        """Real ``(key, bytes)`` objects, kept in memory: for the few that are not virtual."""
        with self._lock:
            target = self.buckets.setdefault(bucket, _Bucket())
            for key, body in objects:
                target.put(key, body)

    # --- what only this server has ----------------------------------------------------------

    def add_virtual(self, bucket: str, objects: VirtualObjects) -> None:
        with self._lock:
            self.buckets.setdefault(bucket, _Bucket()).virtual = objects

    def list_page(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start: str = "",
        inclusive: bool = True,
        max_keys: int = _PAGE_MAX,
    ) -> tuple[list[str], list[str], str | None]:
        """Keys and common prefixes of one page from ``start``, and where the next page starts
        (inclusive; None after the last page)."""
        source = self.buckets[bucket]
        if start < prefix:
            start, inclusive = prefix, True
        keys: list[str] = []
        prefixes: list[str] = []
        resume = None
        iterator = source.keys_from(start, inclusive=inclusive)
        while True:
            key = next(iterator, None)
            if key is None or not key.startswith(prefix):
                return keys, prefixes, None
            if len(keys) + len(prefixes) == max_keys:
                return keys, prefixes, resume
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:  # a folder: one common prefix, then on past everything in it
                common = key[: cut + len(delimiter)]
                prefixes.append(common)
                resume = _after_prefix(common)
                iterator = source.keys_from(resume, inclusive=True)
            else:
                keys.append(key)
                resume = key + "\x00"  # the first string after ``key`` in byte order


def _handler(s3: SyntheticS3) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes: no delayed ACK

        def log_message(self, format, *args) -> None:
            pass

        def _target(self) -> tuple[str, str, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
            return bucket, key, parse_qs(parts.query, keep_blank_values=True)

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if "Content-Length" not in (headers or {}):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str) -> None:
            body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code></Error>'
            self._send(status, body.encode(), {"Content-Type": "application/xml"})

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length)

        def do_PUT(self) -> None:
            bucket, key, _ = self._target()
            body = self._body()
            if not key:
                s3.buckets.setdefault(bucket, _Bucket())
                self._send(200)
                return
            if bucket not in s3.buckets:
                self._error(404, "NoSuchBucket")
                return
            with s3._lock:
                target = s3.buckets[bucket]
                if self.headers.get("If-None-Match") == "*" and target.get(key) is not None:
                    self._error(412, "PreconditionFailed")
                    return
                target.put(key, body)
            self._send(200, headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})

        def do_DELETE(self) -> None:
            bucket, key, _ = self._target()
            if bucket in s3.buckets:
                with s3._lock:
                    s3.buckets[bucket].delete(key)
            self._send(204)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            bucket, key, query = self._target()
            if bucket not in s3.buckets:
                self._error(404, "NoSuchBucket")
                return
            if not key:
                if self.command == "HEAD":
                    self._send(200)
                elif "location" in query:
                    body = f'<LocationConstraint xmlns="{_XMLNS}"/>'
                    self._send(200, body.encode(), {"Content-Type": "application/xml"})
                else:
                    self._list(bucket, query)
                return
            found = s3.buckets[bucket].get(key)
            if found is None:
                self._error(404, "NoSuchKey")
                return
            body, etag = found
            headers = {"ETag": etag, "Last-Modified": _HTTP_DATE, "Accept-Ranges": "bytes"}
            headers["Content-Type"] = "application/octet-stream"
            if self.command == "GET":
                with s3._lock:
                    s3.object_gets[bucket] += 1
            wanted = self.headers.get("Range")
            if wanted and wanted.startswith("bytes="):
                first, _, last = wanted[len("bytes=") :].partition("-")
                start = int(first)
                end = min(int(last) if last else len(body) - 1, len(body) - 1)
                if start >= len(body):
                    self._error(416, "InvalidRange")
                    return
                headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
                self._send(206, body[start : end + 1], headers)
                return
            self._send(200, body, headers)

        def _list(self, bucket: str, query: dict[str, list[str]]) -> None:
            def one(name: str, default: str = "") -> str:
                return query.get(name, [default])[0]

            prefix, delimiter = one("prefix"), one("delimiter")
            max_keys = max(0, min(int(one("max-keys", str(_PAGE_MAX))), _PAGE_MAX))
            token = one("continuation-token")  # where the page starts, inclusive
            start, inclusive = (unquote(token), True) if token else (one("start-after"), False)
            with s3._lock:
                s3.list_pages += 1
                keys, prefixes, last = s3.list_page(
                    bucket, prefix=prefix, delimiter=delimiter, start=start,
                    inclusive=inclusive or not start, max_keys=max_keys,
                )  # fmt: skip
                source = s3.buckets[bucket]
                contents = []
                for key in keys:
                    body, etag = source.get(key) or (b"", '""')
                    quoted = etag.replace('"', "&quot;")
                    contents.append(
                        f"<Contents><Key>{escape(key)}</Key>"
                        f"<LastModified>{_MODIFIED}</LastModified>"
                        f"<ETag>{quoted}</ETag><Size>{len(body)}</Size>"
                        "<StorageClass>STANDARD</StorageClass></Contents>"
                    )
            parts = [
                f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{_XMLNS}">',
                f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>",
                f"<KeyCount>{len(keys) + len(prefixes)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
                f"<IsTruncated>{'true' if last is not None else 'false'}</IsTruncated>",
            ]
            if delimiter:
                parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
            if token:
                parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
            if last is not None:
                parts.append(f"<NextContinuationToken>{quote(last)}</NextContinuationToken>")
            parts += contents
            for common in prefixes:
                parts.append(f"<CommonPrefixes><Prefix>{escape(common)}</Prefix></CommonPrefixes>")
            parts.append("</ListBucketResult>")
            self._send(200, "".join(parts).encode(), {"Content-Type": "application/xml"})

    return Handler
