"""Amazon S3 and S3-compatible stores (MinIO, moto) through boto3.

Redirects: botocore sends every request through urllib3 with ``retries=Retry(False)``
(botocore/httpsession.py), so a ``Location`` header is never followed. Its only redirect logic
is the S3 region redirector, which re-resolves the endpoint for another *region*: with a custom
``endpoint_url`` the endpoint ruleset keeps that host, and without one the new host is another
AWS regional endpoint (the region name is validated first). So no request leaves the allowed
host. For a custom endpoint a 3xx is refused outright (see ``_refuse_redirect``);
tests/cloud/test_redirects.py checks all this against a local server that answers 302.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Iterator
from typing import IO, Any

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from cvat_lite.cloud.base import (
    CloudProvider,
    CredentialsType,
    ListPage,
    ObjectInfo,
    ProviderType,
    StorageConfig,
    Timeouts,
    log_failure,
)
from cvat_lite.cloud.endpoints import MSG_INVALID_URL
from cvat_lite.cloud.outbound import guard_boto_client
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

MSG_BAD_REGION = "The region '{region}' is not a valid region name."

_REGION_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1024 * 1024
_MAX_PARTS = 10_000
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
_FORBIDDEN_CODES = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


_SESSION_LOCK = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    """One shared session: it caches the parsed service model, which makes a client ~15x
    cheaper to create. Credentials are passed per client, never stored in the session."""
    return boto3.session.Session()


@contextlib.contextmanager
def _exists_on_412(key: str) -> Iterator[None]:
    """A failed ``If-None-Match: *`` is the object that exists, not an error of the store."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 412 or code == "PreconditionFailed":
            raise CloudObjectExists(key) from None
        raise


class _RedirectRefused(Exception):
    """A custom endpoint answered 3xx."""


def _refuse_redirect(response: Any = None, **kwargs: Any) -> None:
    """Runs before botocore's S3 region redirector, for custom endpoints only. That redirector
    stays on the same host there, but a 3xx without a region header makes it HEAD the bucket
    again, recursively, until RecursionError. Nothing to gain from it: stop at the first 3xx."""
    http_response = response[0] if response else None
    if http_response is not None and 300 <= http_response.status_code < 400:
        raise _RedirectRefused


def md5_from_etag(etag: str | None) -> str | None:
    """An S3 ETag is the content MD5 unless the object was uploaded in parts ('<hex>-<n>') or
    is encrypted with SSE-KMS / SSE-C. Listings do not say which objects are encrypted, so a
    listing of such a bucket reports ETags that are not MD5s; ``head`` knows and says None."""
    value = (etag or "").strip('"').lower()
    return value if _MD5_RE.match(value) else None


def _encrypted(meta: dict[str, Any]) -> bool:
    """SSE-KMS and SSE-C objects have an ETag that is not their MD5."""
    kms = str(meta.get("ServerSideEncryption", "")).startswith("aws:kms")
    return kms or bool(meta.get("SSECustomerAlgorithm"))


class S3Provider(CloudProvider):
    provider_type = ProviderType.AWS_S3_BUCKET
    required_fields = {
        CredentialsType.KEY_SECRET_KEY_PAIR: ("key", "secret_key"),
        CredentialsType.ANONYMOUS_ACCESS: (),
    }
    max_page_size = 1000
    part_size = 16 * 1024 * 1024  # conditional uploads: larger objects go in parts of this size
    # AWS's own hosts (regional, virtual-hosted bucket and FIPS/dualstack ones)
    public_hosts = (".amazonaws.com", ".amazonaws.com.cn")

    @classmethod
    def sdk_endpoint(cls, config: StorageConfig) -> str:
        cls.validate(config)
        endpoint_url = config.attributes.get("endpoint_url") or None
        try:
            with _SESSION_LOCK:
                client = _session().client(
                    "s3",
                    region_name=config.attributes.get("region") or "us-east-1",
                    endpoint_url=endpoint_url,
                    config=Config(signature_version=UNSIGNED),
                )
        except ValueError:  # botocore refuses a malformed endpoint URL
            raise EndpointNotAllowed(MSG_INVALID_URL) from None
        return str(client.meta.endpoint_url)

    @classmethod
    def validate(cls, config: StorageConfig) -> None:
        region = config.attributes.get("region")
        if region and not _REGION_RE.match(region):
            raise BadRequest(MSG_BAD_REGION.format(region=region))

    def _make_client(self, timeouts: Timeouts) -> Any:
        creds = self.config.credentials
        endpoint_url = self.config.attributes.get("endpoint_url")
        options: dict[str, Any] = {
            "connect_timeout": timeouts.connect,
            "read_timeout": timeouts.read,
            "retries": {"max_attempts": timeouts.attempts, "mode": "standard"},
        }
        if endpoint_url:  # MinIO & co. (and IP endpoints) need path-style addressing
            options["s3"] = {"addressing_style": "path"}
        credentials: dict[str, Any] = {}
        if self.config.credentials_type == CredentialsType.ANONYMOUS_ACCESS:
            options["signature_version"] = UNSIGNED  # botocore then looks up no credentials
        else:
            credentials = {
                "aws_access_key_id": creds.key,
                "aws_secret_access_key": creds.secret_key,
                "aws_session_token": creds.session_token or None,
            }
        with _SESSION_LOCK:  # boto3 sessions are not thread-safe (their clients are)
            client = _session().client(
                "s3",
                region_name=self.config.attributes.get("region") or "us-east-1",
                endpoint_url=endpoint_url or None,
                config=Config(**options),
                **credentials,
            )
        if endpoint_url:
            client.meta.events.register_first("needs-retry.s3", _refuse_redirect)
        guard_boto_client(client, self.outbound)  # checks every request's host
        return client

    # --- operations -----------------------------------------------------------------------

    def _check_bucket(self, timeouts: Timeouts) -> None:
        with self._errors():
            self._client(timeouts).head_bucket(Bucket=self.config.resource)

    def _head(self, key: str, timeouts: Timeouts) -> ObjectInfo:
        with self._errors(key):
            meta = self._client(timeouts).head_object(Bucket=self.config.resource, Key=key)
        etag = meta.get("ETag")
        md5 = None if _encrypted(meta) else md5_from_etag(etag)
        return ObjectInfo(key, int(meta["ContentLength"]), md5, etag)

    def download_to(self, key: str, stream: IO[bytes]) -> None:
        with self._errors(key):
            body = self._client().get_object(Bucket=self.config.resource, Key=key)["Body"]
            for chunk in body.iter_chunks(_CHUNK):
                stream.write(chunk)

    def _download_range(self, key: str, start: int, length: int) -> bytes:
        byte_range = f"bytes={start}-{start + length - 1}"
        with self._errors(key):
            response = self._client().get_object(
                Bucket=self.config.resource, Key=key, Range=byte_range
            )
            return response["Body"].read()

    def upload(
        self, key: str, stream: IO[bytes], size: int | None = None, *, overwrite: bool = True
    ) -> None:
        if not overwrite:
            self._upload_new(key, stream, size)
            return
        # upload_fileobj streams (multipart for big objects) and needs no size up front
        with self._errors(key):
            self._client().upload_fileobj(stream, self.config.resource, key)

    def _upload_new(self, key: str, stream: IO[bytes], size: int | None) -> None:
        """``If-None-Match: *`` on the PUT, or on the multipart upload's completion (boto3's
        transfer manager does not pass it on): S3 answers 412 when ``key`` exists."""
        part_size = self.part_size
        if size is not None:  # at most MAX_PARTS parts
            part_size = max(part_size, -(-size // _MAX_PARTS))
        first = stream.read(part_size)
        bucket, client = self.config.resource, self._client()
        with self._errors(key), _exists_on_412(key):
            if len(first) < part_size:
                client.put_object(Bucket=bucket, Key=key, Body=first, IfNoneMatch="*")
                return
            upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            try:
                parts, chunk, number = [], first, 1
                while chunk:
                    answer = client.upload_part(
                        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
                    )
                    parts.append({"ETag": answer["ETag"], "PartNumber": number})
                    chunk, number = stream.read(part_size), number + 1
                client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    IfNoneMatch="*",
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
                raise

    def _list(
        self,
        timeouts: Timeouts,
        prefix: str,
        delimiter: str | None,
        next_token: str | None,
        page_size: int,
    ) -> ListPage:
        params: dict[str, Any] = {
            "Bucket": self.config.resource,
            "Prefix": prefix,
            "MaxKeys": page_size,
        }
        if delimiter:
            params["Delimiter"] = delimiter
        if next_token:
            params["ContinuationToken"] = next_token
        with self._errors():
            response = self._client(timeouts).list_objects_v2(**params)
        objects = [
            ObjectInfo(
                item["Key"], int(item["Size"]), md5_from_etag(item.get("ETag")), item.get("ETag")
            )
            for item in response.get("Contents", [])
        ]
        prefixes = [item["Prefix"] for item in response.get("CommonPrefixes", [])]
        token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
        return ListPage(objects, prefixes, token)

    def delete(self, key: str) -> None:
        with self._errors(key):
            self._client().delete_object(Bucket=self.config.resource, Key=key)

    # --- errors ---------------------------------------------------------------------------

    def _translate(self, exc: Exception, key: str | None) -> CvatLiteError | None:
        if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, Exception):
            exc = exc.__context__  # boto3 wraps the ClientError (and its text) in this one
        if isinstance(exc, _RedirectRefused):
            log_failure("S3", "redirect refused", exc, None)
            return CloudStorageError()
        if isinstance(exc, ClientError):
            return self._translate_client_error(exc, key)
        if isinstance(exc, NoCredentialsError):
            log_failure("S3", "no credentials", exc, None)
            return CloudStorageForbidden()
        if isinstance(exc, BotoConnectionError | HTTPClientError):
            log_failure("S3", "endpoint unreachable (connection/timeout)", exc, None)
            return CloudStorageUnreachable()
        if isinstance(exc, BotoCoreError):
            log_failure("S3", "client error", exc, None)
            return CloudStorageError()
        return None

    def _translate_client_error(self, exc: ClientError, key: str | None) -> CvatLiteError:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket" or (key is None and status == 404):
            log_failure("S3", "bucket not found", exc, status)
            return CloudStorageNotFound()
        if key is not None and (status == 404 or code in _NOT_FOUND_CODES):
            return CloudObjectNotFound(key)  # a HEAD 404 cannot tell bucket from object
        if status in (401, 403) or code in _FORBIDDEN_CODES:
            log_failure("S3", "access forbidden", exc, status)
            return CloudStorageForbidden()
        shown = code if code.isalnum() else "?"
        log_failure("S3", f"unexpected answer (code {shown})", exc, status)
        return CloudStorageError()
