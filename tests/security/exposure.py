"""Looking for credential canaries everywhere the service writes: responses (bodies, headers,
the members of every ZIP served), log records, the process's output, database rows, files
under DATA_DIR and Redis. Findings are collected and reported together."""

from __future__ import annotations

import io
import json
import logging
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import redis
from django.apps import apps
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from cvat_lite.engine.models import CloudStorage

# Loggers of the emulators running in this process (moto's server): they are the cloud, not
# the service, and see credentials by design.
EMULATOR_LOGGERS = ("werkzeug", "moto")


@dataclass
class Exposure:
    canaries: tuple[str, ...]
    scanned: Counter = field(default_factory=Counter)  # place → how many items were scanned
    findings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        forms = set()
        for canary in self.canaries:
            forms |= {canary, quote(canary, safe=""), json.dumps(canary)[1:-1]}
        self._forms = tuple(sorted(forms))

    def scan(self, place: str, data: bytes | str | None, where: str = "") -> None:
        self.scanned[place] += 1
        if not data:
            return
        text = data.decode("latin-1") if isinstance(data, bytes) else data
        for form in self._forms:
            at = text.find(form)
            if at >= 0:
                excerpt = text[max(0, at - 80) : at + len(form) + 40]
                self.findings.append(f"{place} {where}: {form!r} in …{excerpt!r}…")

    # --- places ------------------------------------------------------------------------------

    def response(self, response) -> None:
        where = f"{response.request.get('REQUEST_METHOD')} {response.request.get('PATH_INFO')}"
        if getattr(response, "streaming", False):
            content = b"".join(response.streaming_content)
            response.close()
            response.streaming_content = [content]  # still readable by the test
        else:
            content = response.content
        self.scan("response body", content, where)
        self.scan("response header", "\n".join(f"{k}: {v}" for k, v in response.items()), where)
        if content[:2] == b"PK":
            self.archive(content, where)

    def archive(self, content: bytes, where: str) -> None:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for info in archive.infolist():
                self.scan("archive member", info.filename.encode() + archive.read(info), where)

    def records(self, records: list[logging.LogRecord]) -> None:
        formatter = logging.Formatter()
        for record in records:
            if record.name.startswith(EMULATOR_LOGGERS):
                continue
            parts = [record.getMessage(), str(record.msg), repr(record.args)]
            parts += [record.exc_text or "", record.stack_info or ""]
            if record.exc_info:
                parts.append(formatter.formatException(record.exc_info))
            self.scan("log record", "\n".join(parts), record.name)

    def output(self, out: str, err: str) -> None:
        self.scan("process output", out + err)

    def database(self) -> None:
        tables = set(connection.introspection.table_names())
        for model in apps.get_models():
            if model._meta.db_table not in tables:  # unmanaged (django_rq's dashboard)
                continue
            for row in model.objects.values():
                if model is CloudStorage:
                    row.pop("credentials")  # where they are kept, never shown
                self.scan("database row", repr(row), model.__name__)

    def files(self) -> None:
        root = Path(settings.DATA_DIR)
        for path in sorted(root.rglob("*")):
            if path.is_file():
                relative = str(path.relative_to(root))
                self.scan("file", relative.encode() + path.read_bytes(), relative)

    def redis(self) -> None:
        connection = redis.Redis.from_url(settings.REDIS_URL)
        for key in connection.scan_iter():
            kind = connection.type(key)
            if kind == b"string":
                values = [connection.get(key)]
            elif kind == b"hash":
                values = list(connection.hgetall(key).values())
            elif kind in (b"list", b"set", b"zset"):
                values = _members(connection, key, kind)
            else:
                values = []
            for value in values:
                self.scan("redis value", _maybe_unzipped(value or b""), key.decode())

    def everything_stored(self) -> None:
        self.database()
        self.files()
        self.redis()

    def assert_clean(self) -> None:
        assert self.findings == [], "credentials leaked:\n" + "\n".join(self.findings)


def _members(connection, key: bytes, kind: bytes) -> list[bytes]:
    if kind == b"list":
        return connection.lrange(key, 0, -1)
    if kind == b"set":
        return list(connection.smembers(key))
    return connection.zrange(key, 0, -1)


def _maybe_unzipped(value: bytes) -> bytes:
    try:
        return value + zlib.decompress(value)  # RQ stores job payloads compressed
    except zlib.error:
        return value


class RecordingClient(APIClient):
    """An APIClient whose every response is scanned."""

    def __init__(self, exposure: Exposure, user=None):
        super().__init__()
        self.exposure = exposure
        if user is not None:
            self.force_authenticate(user)

    def request(self, **kwargs):
        response = super().request(**kwargs)
        self.exposure.response(response)
        return response
