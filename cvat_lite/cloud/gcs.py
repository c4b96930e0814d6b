"""Google Cloud Storage buckets through google-cloud-storage (gcp-storage-emulator in tests).

Redirects: the client's HTTP session is an AuthorizedSession that never follows redirects
(``allow_redirects=False`` on every request), so a 3xx fails the call as an unexpected answer.
A service-account key file may name its own token and API hosts (``token_uri``,
``universe_domain``); only Google's own are accepted, so a key file cannot send requests
elsewhere either.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import IO, Any

import requests
from google.api_core.exceptions import (
    Forbidden,
    GoogleAPICallError,
    NotFound,
    PreconditionFailed,
    RetryError,
    Unauthorized,
)
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession, Request
from google.cloud.storage import Client
from google.cloud.storage.exceptions import DataCorruption, InvalidResponse
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account

from cvat_lite.cloud import redaction
from cvat_lite.cloud.base import (
    CloudProvider,
    CredentialsType,
    ListPage,
    ObjectInfo,
    ProviderType,
    StorageConfig,
    Timeouts,
    log_failure,
    unexpected,
)
from cvat_lite.cloud.endpoints import MSG_INVALID_URL
from cvat_lite.cloud.outbound import guard_session, guarded_session
from cvat_lite.errors import (
    CloudObjectExists,
    CloudObjectNotFound,
    CloudStorageError,
    CloudStorageForbidden,
    CloudStorageNotFound,
    CloudStorageUnreachable,
    CvatLiteError,
    EndpointNotAllowed,
)

# Google's hosts a storage may reach without an allowlist entry: the JSON API (downloads and
# resumable upload sessions included) and the token endpoints of GOOGLE_TOKEN_URIS.
PUBLIC_HOSTS = ("storage.googleapis.com", "oauth2.googleapis.com", "accounts.google.com")
GOOGLE_TOKEN_URIS = frozenset(
    {"https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token"}
)


# what else the storage client raises for a bad answer (besides GoogleAPICallError)
StorageClientError = DataCorruption | InvalidResponse | requests.RequestException


class _KeyFileRejected(Exception):
    """The key file is unreadable or names hosts other than Google's."""


class _BucketNameRefused(Exception):
    """The client refuses the bucket name before any request (no bucket can have it)."""


class _NoRedirectSession(AuthorizedSession):
    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["allow_redirects"] = False
        return super().request(*args, **kwargs)


def _b64_hex(value: str | None) -> str | None:
    """GCS's md5Hash and crc32c (base64) as lowercase hex."""
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


def _load_key_file(path: str) -> service_account.Credentials:
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
        redaction.register(info.get("private_key"), info.get("private_key_id"))
        if (
            info.get("token_uri") not in GOOGLE_TOKEN_URIS
            or info.get("universe_domain", "googleapis.com") != "googleapis.com"
        ):
            raise _KeyFileRejected
        return service_account.Credentials.from_service_account_info(info, scopes=Client.SCOPE)
    except (OSError, ValueError, AttributeError, GoogleAuthError) as exc:
        raise _KeyFileRejected from exc


class GcsProvider(CloudProvider):
    provider_type = ProviderType.GOOGLE_CLOUD_STORAGE
    required_fields = {
        CredentialsType.KEY_FILE_PATH: ("key_file_path",),
        CredentialsType.ANONYMOUS_ACCESS: (),
    }
    max_page_size = 1000
    public_hosts = PUBLIC_HOSTS

    @classmethod
    def sdk_endpoint(cls, config: StorageConfig) -> str:
        endpoint_url = config.attributes.get("endpoint_url")
        try:  # the API host does not depend on the credentials: no key file is read here
            client = Client(
                project="endpoint-probe",
                credentials=AnonymousCredentials(),
                client_options={"api_endpoint": endpoint_url} if endpoint_url else None,
            )
        except ValueError:
            raise EndpointNotAllowed(MSG_INVALID_URL) from None
        return str(client._connection.API_BASE_URL)

    def _make_client(self, timeouts: Timeouts) -> Any:
        attributes = self.config.attributes
        if self.config.credentials_type == CredentialsType.KEY_FILE_PATH:
            credentials: Any = _load_key_file(self.config.credentials.key_file_path or "")
            project = attributes.get("project") or credentials.project_id
        else:
            credentials = AnonymousCredentials()
            project = attributes.get("project")  # None → the client's placeholder, no lookup
        endpoint_url = attributes.get("endpoint_url")
        client = Client(
            project=project,
            credentials=credentials,
            _http=self._session(credentials),
            client_options={"api_endpoint": endpoint_url} if endpoint_url else None,
        )
        # google-cloud-storage 3.17 fetches the bucket's metadata on a client's first operation,
        # for trace attributes, in a background thread with retries: a request of its own (that
        # needs storage.buckets.get, which object readers lack), outliving the operation and its
        # timeouts. cvat_lite traces nothing: the cache is turned off (None is "no cache").
        if hasattr(client, "_bucket_metadata_cache"):
            client._bucket_metadata_cache = None
        return client

    def _session(self, credentials: Any) -> _NoRedirectSession:
        """The client's HTTP session: every request it sends (API calls, resumable upload
        session URLs, downloads) and every token request goes through the outbound guard."""
        token_session = guarded_session(self.outbound)
        session = _NoRedirectSession(credentials, auth_request=Request(token_session))
        return guard_session(session, self.outbound)

    def _bucket(self, timeouts: Timeouts) -> Any:
        try:
            return self._client(timeouts).bucket(self.config.resource)
        except ValueError as exc:  # e.g. "Bucket names must start and end with a number or ..."
            raise _BucketNameRefused from exc

    def _opts(self, timeouts: Timeouts | None = None) -> dict[str, Any]:
        t = timeouts or self.timeouts
        retry = None
        if t.attempts > 1:
            retry = DEFAULT_RETRY.with_timeout(t.attempts * (t.connect + t.read))
        return {"timeout": (t.connect, t.read), "retry": retry}

    # --- operations -----------------------------------------------------------------------

    def _head(self, key: str, timeouts: Timeouts) -> ObjectInfo:
        with self._errors(key):
            blob = self._bucket(timeouts).blob(key)
            blob.reload(**self._opts(timeouts))
            return self._info(blob)

    def download_to(self, key: str, stream: IO[bytes]) -> None:
        with self._errors(key):
            self._bucket(self.timeouts).blob(key).download_to_file(stream, **self._opts())

    def _download_range(self, key: str, start: int, length: int) -> bytes:
        end = start + length - 1  # inclusive
        with self._errors(key):
            blob = self._bucket(self.timeouts).blob(key)
            return blob.download_as_bytes(start=start, end=end, checksum=None, **self._opts())

    def upload(
        self, key: str, stream: IO[bytes], size: int | None = None, *, overwrite: bool = True
    ) -> None:
        # if_generation_match=0: "only if there is no live object" (412 otherwise)
        condition = {} if overwrite else {"if_generation_match": 0}
        with self._errors(key):
            self._bucket(self.timeouts).blob(key).upload_from_file(
                stream, size=size, **condition, **self._opts()
            )

    def _list(
        self,
        timeouts: Timeouts,
        prefix: str,
        delimiter: str | None,
        next_token: str | None,
        page_size: int,
    ) -> ListPage:
        with self._errors():
            iterator = self._bucket(timeouts).list_blobs(
                prefix=prefix or None,
                delimiter=delimiter or None,
                page_size=page_size,
                page_token=next_token or None,
                **self._opts(timeouts),
            )
            page = next(iterator.pages)
            objects = [self._info(blob) for blob in page]
            prefixes = sorted(page.prefixes)
        return ListPage(objects, prefixes, iterator.next_page_token or None)

    def delete(self, key: str) -> None:
        try:
            with self._errors(key):
                self._bucket(self.timeouts).blob(key).delete(**self._opts())
        except CloudObjectNotFound:
            pass  # already gone

    @staticmethod
    def _info(blob: Any) -> ObjectInfo:
        return ObjectInfo(
            blob.name,
            int(blob.size or 0),
            _b64_hex(blob.md5_hash),
            blob.etag,
            _b64_hex(blob.crc32c),  # base64 of 4 big-endian bytes, like md5Hash's encoding
        )

    # --- errors ---------------------------------------------------------------------------

    def _translate(self, exc: Exception, key: str | None) -> CvatLiteError | None:
        if isinstance(exc, RetryError) and isinstance(exc.cause, Exception):
            exc = exc.cause
        status = getattr(exc, "code", None)
        if isinstance(exc, PreconditionFailed) and key is not None:
            return CloudObjectExists(key)  # an upload with if_generation_match=0
        if isinstance(exc, NotFound):
            if key is not None:
                return CloudObjectNotFound(key)
            log_failure("GCS", "bucket not found", exc, status)
            return CloudStorageNotFound()
        if isinstance(exc, Forbidden | Unauthorized | RefreshError):
            log_failure("GCS", "access forbidden", exc, status)
            return CloudStorageForbidden()
        if isinstance(exc, _BucketNameRefused):
            log_failure("GCS", "bucket name refused by the client", exc, None)
            return CloudStorageNotFound()
        if isinstance(exc, _KeyFileRejected):
            log_failure("GCS", "key file unreadable or not Google's", exc, None)
            return CloudStorageForbidden()
        if isinstance(exc, requests.ConnectionError | requests.Timeout | TransportError):
            log_failure("GCS", "endpoint unreachable (connection/timeout)", exc, None)
            return CloudStorageUnreachable()
        if isinstance(exc, GoogleAPICallError | GoogleAuthError | StorageClientError):
            log_failure("GCS", unexpected(status), exc, status)
            return CloudStorageError()
        return None
