"""The cloud storage interface: config types, the status enum and the provider base class.

Django-free on purpose: the caller passes configuration (allowlist patterns, timeouts) in
explicitly, so the package can be tested against emulators on its own.
"""

from __future__ import annotations

import abc
import contextlib
import enum
import io
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import IO, Any, ClassVar
from urllib.parse import unquote

from cvat_lite.cloud import redaction
from cvat_lite.cloud.endpoints import is_public
from cvat_lite.cloud.outbound import OutboundPolicy, OutboundRefused
from cvat_lite.errors import (
    BadRequest,
    CloudObjectNotFound,
    CloudStorageError,
    CloudStorageForbidden,
    CvatLiteError,
)

logger = logging.getLogger("cvat_lite.cloud")

SPECIFIC_ATTRIBUTES = frozenset({"region", "endpoint_url", "prefix", "project", "location"})

MSG_UNKNOWN_ATTRIBUTE = "Unknown specific attribute '{key}'. Allowed: {allowed}."
MSG_MALFORMED_ATTRIBUTES = "specific_attributes must look like 'key=value&key=value'."
MSG_DUPLICATE_ATTRIBUTE = "The specific attribute '{key}' is given more than once."
MSG_BAD_RANGE = "A byte range needs start >= 0 and length >= 0."


class Status(enum.StrEnum):
    AVAILABLE = "AVAILABLE"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"


class ProviderType(enum.StrEnum):
    AWS_S3_BUCKET = "AWS_S3_BUCKET"
    AZURE_CONTAINER = "AZURE_CONTAINER"
    GOOGLE_CLOUD_STORAGE = "GOOGLE_CLOUD_STORAGE"


class CredentialsType(enum.StrEnum):
    KEY_SECRET_KEY_PAIR = "KEY_SECRET_KEY_PAIR"
    ACCOUNT_NAME_TOKEN_PAIR = "ACCOUNT_NAME_TOKEN_PAIR"
    CONNECTION_STRING = "CONNECTION_STRING"
    KEY_FILE_PATH = "KEY_FILE_PATH"
    ANONYMOUS_ACCESS = "ANONYMOUS_ACCESS"


@dataclass(frozen=True, repr=False)
class Credentials:
    """Secrets of one storage, one field each. ``repr`` names the fields that are set, never
    their values."""

    key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    account_name: str | None = None
    connection_string: str | None = None
    key_file_path: str | None = None

    def __repr__(self) -> str:
        present = ", ".join(f"{f.name}=<set>" for f in fields(self) if getattr(self, f.name))
        return f"Credentials({present})"

    __str__ = __repr__


@dataclass(frozen=True)
class StorageConfig:
    provider_type: ProviderType
    resource: str
    credentials_type: CredentialsType
    credentials: Credentials = field(default_factory=Credentials)
    attributes: dict[str, str] = field(default_factory=dict)


def parse_specific_attributes(s: str) -> dict[str, str]:
    """Parse ``k=v&k=v`` (values percent-decoded; ``+`` stays a plus). Empty values are dropped;
    unknown or repeated keys are refused with BadRequest."""
    result: dict[str, str] = {}
    for pair in filter(None, (s or "").split("&")):
        name, sep, value = pair.partition("=")
        name = unquote(name).strip()
        if not sep or not name:
            raise BadRequest(MSG_MALFORMED_ATTRIBUTES)
        if name not in SPECIFIC_ATTRIBUTES:
            allowed = ", ".join(sorted(SPECIFIC_ATTRIBUTES))
            raise BadRequest(MSG_UNKNOWN_ATTRIBUTE.format(key=name, allowed=allowed))
        if name in result:
            raise BadRequest(MSG_DUPLICATE_ATTRIBUTE.format(key=name))
        if value := unquote(value):
            result[name] = value
    return result


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float
    attempts: int

    def __post_init__(self) -> None:
        if self.connect <= 0 or self.read <= 0 or self.attempts < 1:
            raise ValueError("Timeouts need connect > 0, read > 0 and attempts >= 1.")

    def at_most(self, other: Timeouts) -> Timeouts:
        return Timeouts(
            min(self.connect, other.connect),
            min(self.read, other.read),
            min(self.attempts, other.attempts),
        )


# Status checks fail fast (contract 4.4); data transfers get longer reads and retries.
STATUS_TIMEOUTS = Timeouts(connect=2, read=5, attempts=1)
DATA_TIMEOUTS = Timeouts(connect=5, read=60, attempts=3)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    md5: str | None = None  # lowercase hex, only when the provider gives a real content MD5
    etag: str | None = None
    crc32c: str | None = None  # lowercase hex (GCS lists one for every object)


@dataclass
class ListPage:
    objects: list[ObjectInfo]
    prefixes: list[str]  # the "directories" when listing with a delimiter
    next_token: str | None


class CloudProvider(abc.ABC):
    """One bucket / container of one provider.

    Keys are full object keys: the storage's ``prefix`` attribute is NOT applied here, the
    caller decides where it belongs. Constructing a provider makes no network call; SDK clients
    are created on first use, one per set of timeouts. ``status()`` and ``object_status()``
    always use timeouts no longer than ``STATUS_TIMEOUTS``; other calls use ``timeouts``.

    Errors are ``cvat_lite.errors``: CloudStorageNotFound (missing bucket),
    CloudStorageForbidden, CloudStorageUnreachable, CloudObjectNotFound(key), and plain
    CloudStorageError for anything else the provider answers. Deleting a missing key is not an
    error. Each subclass translates its SDK's exceptions in ``_translate`` (its own module).
    """

    provider_type: ClassVar[ProviderType]
    # credentials type → the Credentials fields it needs; see registry.validate_config
    required_fields: ClassVar[dict[CredentialsType, tuple[str, ...]]]
    max_page_size: int = 1000  # used by iter_objects; an instance may lower it
    # The provider's own public hosts (".suffix" or exact), reachable without an allowlist entry
    public_hosts: ClassVar[tuple[str, ...]]

    @classmethod
    def validate(cls, config: StorageConfig) -> None:
        """Provider-specific checks of ``config`` (no network); raise BadRequest."""
        return None

    @classmethod
    @abc.abstractmethod
    def sdk_endpoint(cls, config: StorageConfig) -> str:
        """The base URL the SDK client for ``config`` sends its requests to, read from a client
        built the way ``_make_client`` builds it (no network, no credentials read). BadRequest
        when the SDK refuses the configuration."""

    @classmethod
    def endpoint_url(cls, config: StorageConfig) -> str | None:
        """The endpoint this config connects to unless it is one of the provider's public hosts
        (then None)."""
        url = cls.sdk_endpoint(config)
        return None if is_public(url, cls.public_hosts) else url

    @classmethod
    def secrets(cls, config: StorageConfig) -> list[str]:
        """The values in ``config`` that must never be logged (see ``redaction``)."""
        creds = config.credentials
        values = (creds.key, creds.secret_key, creds.session_token, creds.connection_string)
        return [value for value in values if value]

    def __init__(self, config: StorageConfig, *, timeouts: Timeouts, allowlist: Sequence[str] = ()):
        self.config = config
        self.timeouts = timeouts
        # every request the SDK makes is checked against this before it connects (outbound.py)
        self.outbound = OutboundPolicy(tuple(allowlist), self.public_hosts)
        self._clients: dict[Timeouts, Any] = {}
        redaction.register(*self.secrets(config))  # before any SDK call can log them

    def __repr__(self) -> str:
        return f"{type(self).__name__}(resource={self.config.resource!r})"

    # --- status ---------------------------------------------------------------------------

    def status(self) -> Status:
        """Does the bucket exist and can we read it. Unreachable → NOT_FOUND (logged)."""
        return self._status_of(self._check_bucket)

    def object_status(self, key: str) -> Status:
        def probe(timeouts: Timeouts) -> None:
            self._head(key, timeouts)

        return self._status_of(probe)

    # --- data -----------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        return self._head(key, self.timeouts)

    def download(self, key: str) -> bytes:
        buffer = io.BytesIO()
        self.download_to(key, buffer)
        return buffer.getvalue()

    def download_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` (fewer at the end of the object). A range that
        starts past the end is a CloudStorageError (HTTP 416) on the real providers."""
        if start < 0 or length < 0:
            raise BadRequest(MSG_BAD_RANGE)
        if length == 0:
            return b""
        data = self._download_range(key, start, length)
        if len(data) > length:  # e.g. a server that ignores Range and sends the whole object
            logger.warning(
                "%s request failed: range answer longer than asked (%d > %d bytes)",
                self.provider_type,
                len(data),
                length,
            )
            raise CloudStorageError()
        return data

    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        token: str | None = None
        while True:
            page = self.list_page(prefix, next_token=token, page_size=self.max_page_size)
            yield from page.objects
            token = page.next_token
            if not token:
                return

    @abc.abstractmethod
    def download_to(self, key: str, stream: IO[bytes]) -> None: ...

    @abc.abstractmethod
    def upload(
        self, key: str, stream: IO[bytes], size: int | None = None, *, overwrite: bool = True
    ) -> None:
        """Write ``stream`` (read to its end) to ``key``. ``size`` is a hint some SDKs use to
        pick a single-request upload. With ``overwrite=False`` the write is conditional on
        ``key`` not existing (S3 ``If-None-Match: *``, Azure ``overwrite=False``, GCS
        ``ifGenerationMatch=0``): an object already there raises CloudObjectExists and is left
        as it was. A store that ignores the condition (an old S3-compatible server, an
        emulator) replaces it: callers that must never replace check ``object_status`` first."""

    def list_page(
        self,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        next_token: str | None = None,
        page_size: int = 1000,
    ) -> ListPage:
        """One page of objects under ``prefix`` (and, with ``delimiter``, the "directories").
        ``page_size`` is capped at the provider's maximum; a page may hold fewer entries."""
        page_size = max(1, min(page_size, self.max_page_size))
        return self._list(self.timeouts, prefix, delimiter, next_token, page_size)

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...

    # --- for subclasses -------------------------------------------------------------------

    @abc.abstractmethod
    def _make_client(self, timeouts: Timeouts) -> Any:
        """Build the SDK client. Must not touch the network."""

    def _check_bucket(self, timeouts: Timeouts) -> None:
        """Raise a translated error unless the bucket exists and is readable. By default it
        lists one object: that needs only the permission readers have (a container SAS, a
        public bucket, objectViewer), where reading the bucket's properties may not."""
        self._list(timeouts, "", None, None, 1)

    @abc.abstractmethod
    def _list(
        self,
        timeouts: Timeouts,
        prefix: str,
        delimiter: str | None,
        next_token: str | None,
        page_size: int,
    ) -> ListPage: ...

    @abc.abstractmethod
    def _head(self, key: str, timeouts: Timeouts) -> ObjectInfo: ...

    @abc.abstractmethod
    def _download_range(self, key: str, start: int, length: int) -> bytes: ...

    @abc.abstractmethod
    def _translate(self, exc: Exception, key: str | None) -> CvatLiteError | None:
        """Map an SDK exception to a domain error (and log why), or None to re-raise it."""

    def _client(self, timeouts: Timeouts | None = None) -> Any:
        timeouts = timeouts or self.timeouts
        if timeouts not in self._clients:
            with self._errors():
                self._clients[timeouts] = self._make_client(timeouts)
        return self._clients[timeouts]

    @contextlib.contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        """Translate SDK exceptions raised in the block. The SDK exception is not chained: its
        text may carry request details, and the domain error's message is all a caller sees."""
        try:
            yield
        except CvatLiteError:
            raise
        except Exception as exc:
            refused = _find(exc, OutboundRefused)
            if refused is not None:
                why = "request outside the allowlist refused"
                log_failure(self.provider_type, why, refused, None)
                raise CloudStorageError() from None
            error = self._translate(exc, key)
            if error is None:
                if isinstance(exc, MemoryError | RecursionError):
                    raise
                # Anything else the SDK raised is its reaction to an answer that does not follow
                # the protocol (an empty or HTML body where XML/JSON was due, a download without
                # Content-Range): AttributeError, ValueError, KeyError... in SDK parsing code.
                # The endpoint is then not a working storage, which is a storage error, not a 500.
                log_failure(self.provider_type, f"malformed answer ({_origin(exc)})", exc, None)
                raise CloudStorageError() from None
            raise error from None

    def _status_of(self, probe: Callable[[Timeouts], object]) -> Status:
        try:
            probe(self.timeouts.at_most(STATUS_TIMEOUTS))
        except CloudStorageForbidden:
            return Status.FORBIDDEN
        except (CloudStorageError, CloudObjectNotFound):
            # not found, unreachable, or any other failure (a refused redirect, ...): the
            # bucket cannot be read from here; the log says why
            return Status.NOT_FOUND
        return Status.AVAILABLE


def _origin(exc: BaseException) -> str:
    """The module whose code raised ``exc`` (the last traceback frame), for the log."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", "?")) if tb is not None else "?"


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the exception it wraps (cause / context chain) that is a ``kind``: SDKs wrap
    errors raised by their transport (retry errors, upload failures)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def unexpected(status: int | str | None) -> str:
    """The log reason for an answer that is neither success nor a known failure."""
    redirect = isinstance(status, int) and 300 <= status < 400
    return "redirect refused" if redirect else "unexpected answer"


def log_failure(provider: str, why: str, exc: BaseException, status: int | str | None) -> None:
    """Log a translated SDK failure: the reason, the exception class and the HTTP status only —
    never the exception text (it may echo request details) and never credentials."""
    logger.warning(
        "%s request failed: %s (%s, status %s)", provider, why, type(exc).__name__, status
    )
