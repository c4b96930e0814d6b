"""Credentials never reach a log record (contract 2).

The SDKs log request details at DEBUG: botocore the signed request (its ``Authorization``
header names the access key id, ``X-Amz-Security-Token`` carries the session token) and the
canonical request; urllib3 each request line, whose query holds an Azure SAS signature. Their
loggers cannot be told to leave headers out, and a deployment may well turn DEBUG on.

So each provider registers the secrets of its configuration (``register``) before it builds a
client, and a log record factory, installed on the first registration, replaces every
registered secret in a record — its message with the arguments merged in, and its exception
text — with ``[REDACTED]`` before any handler or filter sees it. Values shorter than
``MIN_LENGTH`` characters are not registered: they would mangle ordinary text.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from urllib.parse import quote, unquote

REDACTED = "[REDACTED]"
MIN_LENGTH = 8

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_previous_factory: Callable[..., logging.LogRecord] | None = None


def register(*values: object) -> None:
    """Redact these values (and their URL-encoded and decoded forms) from every log record
    from now on. Anything but a string of at least ``MIN_LENGTH`` characters is ignored."""
    global _pattern
    forms = set()
    for value in values:
        if isinstance(value, str) and len(value) >= MIN_LENGTH:
            forms |= {value, quote(value, safe=""), quote(value, safe="/"), unquote(value)}
    forms = {form for form in forms if len(form) >= MIN_LENGTH}
    with _lock:
        _install()
        if forms <= _secrets:
            return
        _secrets.update(forms)
        ordered = sorted(_secrets, key=len, reverse=True)  # longest first: no partial leftovers
        _pattern = re.compile("|".join(map(re.escape, ordered)))


def _install() -> None:
    global _previous_factory
    if _previous_factory is None:
        _previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_make_record)


def _make_record(*args, **kwargs) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    pattern = _pattern
    if pattern is not None:
        _redact_record(record, pattern)
    return record


def _redact_record(record: logging.LogRecord, pattern: re.Pattern[str]) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 — a malformed record is logging's to report, as usual
        return
    if pattern.search(message):
        record.msg, record.args = pattern.sub(REDACTED, message), None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        if pattern.search(text):
            # formatters print exc_text when it is set, and it replaces exc_info here
            record.exc_info, record.exc_text = None, pattern.sub(REDACTED, text)
    if record.stack_info and pattern.search(record.stack_info):
        record.stack_info = pattern.sub(REDACTED, record.stack_info)
