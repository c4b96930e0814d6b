"""``cvat-lite manifest create``: a CVAT image manifest for the images under a bucket prefix,
made without downloading them (see ``docs/manifests.md``).

    cvat-lite manifest create (--cloud-storage ID | --provider {s3,azure,gcs} --resource NAME
                               [--endpoint-url URL] [--region R] [--project P] [--account A])
                              [--prefix PREFIX] [--checksum] [--workers N]
                              (--output FILE | --upload KEY) [--overwrite]

``--cloud-storage`` uses a storage kept in the database (its credentials, endpoint and
``prefix`` attribute, which is the default ``--prefix``). ``--provider`` connects with the
provider's usual environment variables instead (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``; ``AZURE_STORAGE_CONNECTION_STRING``, or
``--account`` with ``AZURE_STORAGE_SAS_TOKEN``; ``GOOGLE_APPLICATION_CREDENTIALS``), and
anonymously when they are not set: secrets never go on the command line, where ``ps`` shows
them. The endpoint an administrator names there is trusted (the allowlist guards endpoints
that users of the API choose).

The manifest is written to ``--output`` (``-`` for stdout) or uploaded to the bucket as
``--upload KEY``, which must be in the ``--prefix`` folder (entry paths are relative to the
manifest's folder). An existing file or object is never replaced without ``--overwrite``.
When an image cannot be read, nothing is written, the keys are listed and the exit status is 1.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cvat_lite import errors
from cvat_lite.cloud.base import (
    CloudProvider,
    Credentials,
    CredentialsType,
    ProviderType,
    Status,
    StorageConfig,
)
from cvat_lite.cloud.registry import custom_endpoint, get_provider
from cvat_lite.engine.cloud import provider_for, storage_prefix
from cvat_lite.engine.models import CloudStorage
from cvat_lite.media.manifest import manifest_key_prefix, write_manifest
from cvat_lite.media.manifest_scan import DEFAULT_WORKERS, ScanResult, manifest_scan

BAR_WIDTH = 30
SHOWN_FAILURES = 20
PROVIDERS = {
    "s3": ProviderType.AWS_S3_BUCKET,
    "azure": ProviderType.AZURE_CONTAINER,
    "gcs": ProviderType.GOOGLE_CLOUD_STORAGE,
}
NO_STORAGE = "Cloud storage #{id} does not exist."
NOT_AVAILABLE = "The bucket '{resource}' cannot be read ({status})."
UPLOAD_OUTSIDE = (
    "--upload {key}: the manifest must be in the folder it describes ('{prefix}'), "
    "because its entries are paths relative to its own folder."
)
EXISTS = "{what} already exists: pass --overwrite to replace it."
NO_IMAGES = "No image found under '{prefix}'."
FAILED = "{count} image(s) could not be read; no manifest was written:"
UNSUPPORTED = (
    "Left out {count} object(s) CVAT's tool would list but cvat_lite cannot serve "
    "(formats other than JPEG, PNG, GIF, BMP, WebP, TIFF), e.g. {example}"
)


class Bar:
    """A progress bar on a terminal (redrawn in place when the percentage changes); on
    anything else (a pipe, a log file) only the final count is written, once."""

    def __init__(self, stream: Any, label: str):
        self.stream, self.label = stream, label
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.tty:
            return
        percent = 100 if total == 0 else done * 100 // total
        if percent == self._shown:
            return
        self._shown = percent
        filled = BAR_WIDTH * percent // 100
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {percent:3d}% {done}/{total}", ending="")
        self.stream.flush()

    def close(self, done: int) -> None:
        if self.tty and self._shown >= 0:
            self.stream.write("")
        self.stream.write(f"{self.label}: {done} image(s) measured")


class Command(BaseCommand):
    help = "Make a CVAT image manifest for the images under a bucket prefix."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="List a prefix and write its manifest.")
        source = create.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--cloud-storage", type=int, metavar="ID", dest="storage_id",
            help="a cloud storage kept in the database",
        )  # fmt: skip
        source.add_argument(
            "--provider", choices=sorted(PROVIDERS),
            help="connect directly (credentials from the provider's environment variables)",
        )  # fmt: skip
        create.add_argument("--resource", help="bucket or container (with --provider)")
        create.add_argument("--endpoint-url", help="a custom endpoint (with --provider)")
        create.add_argument("--region", help="S3 region (with --provider)")
        create.add_argument("--project", help="GCS project (with --provider)")
        create.add_argument("--account", help="Azure account name (with --provider)")
        create.add_argument("--prefix", help="the folder to describe (default: the storage's)")
        create.add_argument(
            "--checksum",
            action="store_true",
            help="download every image and write CVAT's checksum (MD5 of the decoded pixels)",
        )
        create.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="threads")
        where = create.add_mutually_exclusive_group(required=True)
        where.add_argument("--output", metavar="FILE", help="write here ('-': stdout)")
        where.add_argument("--upload", metavar="KEY", help="upload to this key of the bucket")
        create.add_argument("--overwrite", action="store_true", help="replace FILE or KEY")

    def handle(self, *args, **options) -> None:
        self.stderr.style_func = None  # plain text: the bar is redrawn in place
        try:
            self._create(**options)
        except errors.CvatLiteError as exc:
            raise CommandError(exc.message) from None

    def _create(self, *, storage_id, prefix, checksum, workers, output, upload, overwrite, **rest):
        if storage_id is not None:
            provider, default_prefix = self._stored(storage_id)
        else:
            provider, default_prefix = _from_options(**rest), ""
        prefix = _folder(default_prefix if prefix is None else prefix)
        if upload is not None and manifest_key_prefix(upload) != prefix:
            raise CommandError(UPLOAD_OUTSIDE.format(key=upload, prefix=prefix))
        if output not in (None, "-") and Path(output).exists() and not overwrite:
            raise CommandError(EXISTS.format(what=output))
        status = provider.status()
        if status != Status.AVAILABLE:
            raise CommandError(
                NOT_AVAILABLE.format(resource=provider.config.resource, status=status)
            )
        if upload is not None and not overwrite and _exists(provider, upload):
            raise CommandError(EXISTS.format(what=f"The object '{upload}'"))

        bar = Bar(self.stderr, "manifest")
        result = manifest_scan(provider, prefix, checksum=checksum, workers=workers, progress=bar)
        bar.close(len(result.entries) + len(result.failures))
        self._report(result)
        if result.failures:
            sys.exit(1)
        if not result.entries:
            raise CommandError(NO_IMAGES.format(prefix=prefix))
        content = io.BytesIO()
        count = write_manifest(result.entries, content, validated=True, ascii_only=True)
        if upload is not None:
            if not overwrite and _exists(provider, upload):  # written while we listed
                raise CommandError(EXISTS.format(what=f"The object '{upload}'"))
            size = content.tell()
            content.seek(0)
            provider.upload(upload, content, size)
            where = f"{provider.config.resource}/{upload}"
        elif output in (None, "-"):
            _stdout_write(self.stdout, content.getvalue())
            where = "stdout"
        else:
            try:  # "x": a file created meanwhile is not replaced either
                with open(output, "wb" if overwrite else "xb") as file:
                    file.write(content.getvalue())
            except FileExistsError:
                raise CommandError(EXISTS.format(what=output)) from None
            except OSError as exc:
                raise CommandError(f"Cannot write {output}: {exc.strerror}.") from None
            where = output
        self.stderr.write(f"{count} image(s) written to {where}")

    def _stored(self, storage_id: int) -> tuple[CloudProvider, str]:
        storage = CloudStorage.objects.filter(pk=storage_id).first()
        if storage is None:
            raise CommandError(NO_STORAGE.format(id=storage_id))
        return provider_for(storage), storage_prefix(storage)

    def _report(self, result: ScanResult) -> None:
        if result.unsupported:
            example = ", ".join(result.unsupported[:3])
            self.stderr.write(UNSUPPORTED.format(count=len(result.unsupported), example=example))
        if result.failures:
            self.stderr.write(FAILED.format(count=len(result.failures)))
            for key, why in result.failures[:SHOWN_FAILURES]:
                self.stderr.write(f"  {key}: {why}")
            if len(result.failures) > SHOWN_FAILURES:
                self.stderr.write(f"  ... and {len(result.failures) - SHOWN_FAILURES} more")


def _folder(prefix: str) -> str:
    """A prefix names a folder: ``set1`` and ``set1/`` both mean ``set1/`` (not ``set10/``)."""
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _exists(provider: CloudProvider, key: str) -> bool:
    try:
        provider.head(key)
    except errors.CloudObjectNotFound:
        return False
    return True


def _stdout_write(stdout: Any, data: bytes) -> None:
    stream: IO[bytes] | None = getattr(getattr(stdout, "_out", None), "buffer", None)
    if stream is not None:
        stream.write(data)
        stream.flush()
    else:  # a text stream (tests): the manifest is ASCII
        stdout.write(data.decode("ascii"), ending="")


def _from_options(
    *, provider, resource, endpoint_url, region, project, account, **_
) -> CloudProvider:
    if not resource:
        raise CommandError("--provider needs --resource (the bucket or container name).")
    provider_type = PROVIDERS[provider]
    env = os.environ
    attributes = {
        name: value
        for name, value in (
            ("endpoint_url", endpoint_url),
            ("region", region),
            ("project", project),
        )
        if value
    }
    credentials, kind = Credentials(), CredentialsType.ANONYMOUS_ACCESS
    if provider_type == ProviderType.AWS_S3_BUCKET and env.get("AWS_ACCESS_KEY_ID"):
        kind = CredentialsType.KEY_SECRET_KEY_PAIR
        credentials = Credentials(
            key=env["AWS_ACCESS_KEY_ID"],
            secret_key=env.get("AWS_SECRET_ACCESS_KEY"),
            session_token=env.get("AWS_SESSION_TOKEN"),
        )
    elif provider_type == ProviderType.AZURE_CONTAINER:
        if env.get("AZURE_STORAGE_CONNECTION_STRING"):
            kind = CredentialsType.CONNECTION_STRING
            credentials = Credentials(connection_string=env["AZURE_STORAGE_CONNECTION_STRING"])
        elif env.get("AZURE_STORAGE_SAS_TOKEN"):
            kind = CredentialsType.ACCOUNT_NAME_TOKEN_PAIR
            credentials = Credentials(
                account_name=account, session_token=env["AZURE_STORAGE_SAS_TOKEN"]
            )
        else:
            credentials = Credentials(account_name=account)
    elif provider_type == ProviderType.GOOGLE_CLOUD_STORAGE and env.get(
        "GOOGLE_APPLICATION_CREDENTIALS"
    ):
        kind = CredentialsType.KEY_FILE_PATH
        credentials = Credentials(key_file_path=env["GOOGLE_APPLICATION_CREDENTIALS"])
    config = StorageConfig(provider_type, resource, kind, credentials, attributes)
    endpoint = custom_endpoint(config)
    allowlist: tuple[str, ...] = ()
    if endpoint is not None:
        parts = urlsplit(endpoint)
        host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
        allowlist = (f"{host}:*",)
    return get_provider(config, allowlist=allowlist)
