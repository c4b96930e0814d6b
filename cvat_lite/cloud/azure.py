"""Azure Blob Storage containers through azure-storage-blob (Azurite in tests).

Redirects: the client is built with ``permit_redirects=False``, so azure-core's RedirectPolicy
returns a 3xx as is (its requests transport never follows redirects by itself); the 3xx then
fails the call as an unexpected answer.
"""

from __future__ import annotations

import re
from typing import IO, Any
from urllib.parse import parse_qs

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobPrefix, BlobServiceClient, ContainerClient

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
from cvat_lite.cloud.outbound import guarded_session
from cvat_lite.errors import (
    BadRequest,
    CloudObjectExists,
    CloudObjectNotFound,
    CloudStorageError,
    CloudStorageForbidden,
    CloudStorageNotFound,
    CloudStorageUnreachable,
    CvatLiteError,
    EndpointNotAllowed,
)

MSG_BAD_CONNECTION_STRING = "The connection string is malformed."
MSG_BAD_ACCOUNT_NAME = "The account name must be 3 to 24 lowercase letters and digits."

# The blob hosts of Azure's public clouds (an account is a subdomain): no allowlist entry needed.
PUBLIC_HOSTS = (
    ".blob.core.windows.net",
    ".blob.core.chinacloudapi.cn",
    ".blob.core.usgovcloudapi.net",
)

_ACCOUNT_RE = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER_MISSING = "ContainerNotFound"


def parse_connection_string(text: str) -> dict[str, str]:
    """``Key=Value;...`` → {KEY: Value}, split exactly like azure-storage-blob does (keys
    upper-cased and nothing else, so " BlobEndpoint" is not BlobEndpoint; values may contain
    '='). Raises BadRequest when a part has no '='."""
    parts = [part.split("=", 1) for part in (text or "").rstrip(";").split(";")]
    if any(len(part) != 2 for part in parts):
        raise BadRequest(MSG_BAD_CONNECTION_STRING)
    return {name.upper(): value for name, value in parts}


def _check_connection_string(text: str) -> None:
    """BadRequest for a malformed string, or one whose account name (which then goes into the
    host name) is not an Azure account name."""
    settings = parse_connection_string(text)
    if settings.get("USEDEVELOPMENTSTORAGE") == "true" or "BLOBENDPOINT" in settings:
        return
    if not _ACCOUNT_RE.match(settings.get("ACCOUNTNAME", "")):
        raise BadRequest(MSG_BAD_ACCOUNT_NAME)


def _account_url(client: Any) -> str:
    """Scheme and host (with the path of a development account) of an SDK client: where its
    requests go, without the SAS query it may carry."""
    return f"{client.scheme}://{client.primary_hostname}"


def _md5_hex(content_md5: bytes | bytearray | None) -> str | None:
    return bytes(content_md5).hex() if content_md5 else None


class AzureProvider(CloudProvider):
    provider_type = ProviderType.AZURE_CONTAINER
    required_fields = {
        CredentialsType.CONNECTION_STRING: ("connection_string",),
        CredentialsType.ACCOUNT_NAME_TOKEN_PAIR: ("account_name", "session_token"),
        CredentialsType.ANONYMOUS_ACCESS: ("account_name",),
    }
    max_page_size = 5000
    public_hosts = PUBLIC_HOSTS

    @classmethod
    def validate(cls, config: StorageConfig) -> None:
        if config.credentials_type == CredentialsType.CONNECTION_STRING:
            _check_connection_string(config.credentials.connection_string or "")
        elif not _ACCOUNT_RE.match(config.credentials.account_name or ""):
            raise BadRequest(MSG_BAD_ACCOUNT_NAME)

    @classmethod
    def secrets(cls, config: StorageConfig) -> list[str]:
        """Also the account key and SAS of a connection string, and each SAS's signature
        (request lines carry it URL-encoded, in another order than the token)."""
        found = super().secrets(config)
        sas = [config.credentials.session_token or ""]
        if config.credentials_type == CredentialsType.CONNECTION_STRING:
            try:
                parts = parse_connection_string(config.credentials.connection_string or "")
            except BadRequest:
                parts = {}
            found.append(parts.get("ACCOUNTKEY", ""))
            sas.append(parts.get("SHAREDACCESSSIGNATURE", ""))
        for token in filter(None, sas):
            found += [token, *parse_qs(token.lstrip("?")).get("sig", [])]
        return [value for value in found if value]

    @classmethod
    def sdk_endpoint(cls, config: StorageConfig) -> str:
        cls.validate(config)
        try:
            if config.credentials_type == CredentialsType.CONNECTION_STRING:
                text = config.credentials.connection_string or ""
                return _account_url(BlobServiceClient.from_connection_string(text))
            return _account_url(BlobServiceClient(cls._account_url(config)))
        except ValueError:  # the SDK's message is not ours to show
            if config.credentials_type == CredentialsType.CONNECTION_STRING:
                raise BadRequest(MSG_BAD_CONNECTION_STRING) from None
            raise EndpointNotAllowed(MSG_INVALID_URL) from None

    @staticmethod
    def _account_url(config: StorageConfig) -> str:
        return (
            config.attributes.get("endpoint_url")
            or f"https://{config.credentials.account_name}.blob.core.windows.net"
        )

    def _make_client(self, timeouts: Timeouts) -> Any:
        creds = self.config.credentials
        options: dict[str, Any] = {
            "connection_timeout": timeouts.connect,
            "read_timeout": timeouts.read,
            "retry_total": timeouts.attempts - 1,
            "permit_redirects": False,
            "session": guarded_session(self.outbound),  # checks every request's host
        }
        if self.config.credentials_type == CredentialsType.CONNECTION_STRING:
            _check_connection_string(creds.connection_string or "")
            try:
                return ContainerClient.from_connection_string(
                    creds.connection_string or "", self.config.resource, **options
                )
            except ValueError:  # the SDK's message is not ours to show
                raise BadRequest(MSG_BAD_CONNECTION_STRING) from None
        self.validate(self.config)  # the account name goes into a URL
        account_url = self._account_url(self.config)
        sas = None
        if self.config.credentials_type == CredentialsType.ACCOUNT_NAME_TOKEN_PAIR:
            sas = (creds.session_token or "").lstrip("?")
        return ContainerClient(account_url, self.config.resource, credential=sas, **options)

    # --- operations -----------------------------------------------------------------------

    def _head(self, key: str, timeouts: Timeouts) -> ObjectInfo:
        with self._errors(key):
            props = self._client(timeouts).get_blob_client(key).get_blob_properties()
            return self._info(props)

    def download_to(self, key: str, stream: IO[bytes]) -> None:
        with self._errors(key):
            self._client().download_blob(key).readinto(stream)

    def _download_range(self, key: str, start: int, length: int) -> bytes:
        with self._errors(key):
            return self._client().download_blob(key, offset=start, length=length).readall()

    def upload(
        self, key: str, stream: IO[bytes], size: int | None = None, *, overwrite: bool = True
    ) -> None:
        # overwrite=False: the SDK sends If-None-Match: * (409 BlobAlreadyExists when it exists)
        with self._errors(key):
            self._client().upload_blob(key, stream, length=size, overwrite=overwrite)

    def _list(
        self,
        timeouts: Timeouts,
        prefix: str,
        delimiter: str | None,
        next_token: str | None,
        page_size: int,
    ) -> ListPage:
        client = self._client(timeouts)
        with self._errors():
            if delimiter:
                items = client.walk_blobs(
                    name_starts_with=prefix or None, delimiter=delimiter, results_per_page=page_size
                )
            else:
                items = client.list_blobs(
                    name_starts_with=prefix or None, results_per_page=page_size
                )
            pages = items.by_page(continuation_token=next_token)
            entries = list(next(pages))
            token = pages.continuation_token
            objects = [self._info(e) for e in entries if not isinstance(e, BlobPrefix)]
            prefixes = [e.name for e in entries if isinstance(e, BlobPrefix)]
        return ListPage(objects, prefixes, token or None)

    def delete(self, key: str) -> None:
        try:
            with self._errors(key):
                self._client().delete_blob(key)
        except CloudObjectNotFound:
            pass  # already gone

    @staticmethod
    def _info(props: Any) -> ObjectInfo:
        md5 = _md5_hex(props.content_settings.content_md5)
        return ObjectInfo(props.name, int(props.size), md5, props.etag)

    # --- errors ---------------------------------------------------------------------------

    def _translate(self, exc: Exception, key: str | None) -> CvatLiteError | None:
        status = getattr(exc, "status_code", None)
        if isinstance(exc, ResourceExistsError) and key is not None:
            return CloudObjectExists(key)  # an upload with overwrite=False
        if isinstance(exc, ResourceNotFoundError):
            if key is not None and getattr(exc, "error_code", None) != _CONTAINER_MISSING:
                return CloudObjectNotFound(key)
            log_failure("Azure", "container not found", exc, status)
            return CloudStorageNotFound()
        if isinstance(exc, ClientAuthenticationError) or (
            isinstance(exc, HttpResponseError) and status in (401, 403)
        ):
            log_failure("Azure", "access forbidden", exc, status)
            return CloudStorageForbidden()
        if isinstance(exc, ServiceRequestError | ServiceResponseError):
            log_failure("Azure", "endpoint unreachable (connection/timeout)", exc, status)
            return CloudStorageUnreachable()
        if isinstance(exc, AzureError):
            log_failure("Azure", unexpected(status), exc, status)
            return CloudStorageError()
        return None
