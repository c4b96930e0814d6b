"""Cloud storage writes (contract 4.1, 4.4): create, update, delete.

A storage is saved only once its configuration is valid, its endpoint is allowed, its bucket
answers (fail-fast timeouts) and every manifest it names exists; on refusal nothing is saved and
no key file is left behind. Credentials are stored as separate keys of ``CloudStorage.credentials``
and never appear in a message, an ``extra`` or a log record.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from cvat_lite import errors
from cvat_lite.cloud.base import STATUS_TIMEOUTS, CloudProvider, CredentialsType, Status
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.models import CloudStorage
from cvat_lite.media.paths import validate_relative_path

logger = logging.getLogger("cvat_lite.engine.cloud_storages")

CODE_NOT_AVAILABLE = errors.CloudStorageNotAvailable.code
MSG_KEY_FILE_REQUIRED = "Credentials of type KEY_FILE_PATH require a 'key_file' upload."
MSG_BAD_KEY_FILE = "The key file must be a JSON service-account key file of at most {limit} bytes."
MSG_MANIFEST_NOT_FOUND = "The manifest '{key}' was not found in the cloud storage."
MSG_MANIFEST_FORBIDDEN = "Access to the manifest '{key}' in the cloud storage is forbidden."
MSG_TOO_MANY_MANIFESTS = "A cloud storage may list at most {limit} manifests."

MAX_KEY_FILE_SIZE = 64 * 1024
MAX_MANIFESTS = 100
KEY_FILE_MODE = 0o600

# The credential keys kept for each credentials type; other given keys are dropped.
CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    CredentialsType.KEY_SECRET_KEY_PAIR: ("key", "secret_key", "session_token"),
    CredentialsType.ACCOUNT_NAME_TOKEN_PAIR: ("account_name", "session_token"),
    CredentialsType.CONNECTION_STRING: ("connection_string",),
    CredentialsType.KEY_FILE_PATH: ("key_file_path",),
    CredentialsType.ANONYMOUS_ACCESS: ("account_name",),
}
# Changing one of these re-checks the storage against its bucket before saving.
CONNECTION_FIELDS = ("provider_type", "resource", "credentials_type", "specific_attributes")


def cloud_storage_create(
    *,
    owner: Any,
    provider_type: str,
    resource: str,
    display_name: str,
    credentials_type: str,
    credentials: Mapping[str, str] | None = None,
    key_file: bytes | None = None,
    specific_attributes: str = "",
    description: str = "",
    manifests: Sequence[str] = (),
) -> CloudStorage:
    """Create a storage after checking that its bucket is AVAILABLE and its manifests exist.

    Raises BadRequest (bad configuration or manifests; ``cloud_storage_not_available`` with
    ``extra.status`` when the bucket is not AVAILABLE) or EndpointNotAllowed (before any
    connection is made)."""
    storage = CloudStorage(
        owner=owner,
        provider_type=provider_type,
        resource=resource,
        display_name=display_name,
        description=description,
        credentials_type=credentials_type,
        credentials=_select_credentials(credentials_type, credentials or {}),
        specific_attributes=specific_attributes,
        manifests=_clean_manifests(manifests),
    )
    with _staged_key_file(storage, key_file) as staged:
        _check(storage, check_bucket=True)
        with transaction.atomic():
            storage.save()
            if staged is not None:
                storage.credentials["key_file_path"] = str(staged.final_path(storage.pk))
                storage.save(update_fields=["credentials"])
                staged.commit(storage.pk)
    logger.info("Cloud storage %s created (%s)", storage.pk, storage.provider_type)
    return storage


def cloud_storage_update(
    *,
    storage: CloudStorage,
    provider_type: str | None = None,
    resource: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    credentials_type: str | None = None,
    credentials: Mapping[str, str] | None = None,
    key_file: bytes | None = None,
    specific_attributes: str | None = None,
    manifests: Sequence[str] | None = None,
) -> CloudStorage:
    """Apply the given changes (None: unchanged) and return the saved storage (``storage``
    itself is left as it was). Given credential keys are merged into the stored ones (an empty
    value removes one); a new ``credentials_type`` starts from no credentials. A change of the
    connection, the credentials or the manifests is checked against the bucket first, as on
    create; on refusal nothing is saved."""
    candidate = copy.copy(storage)
    old_credentials = dict(storage.credentials or {})
    changed = _apply(
        candidate,
        provider_type=provider_type,
        resource=resource,
        display_name=display_name,
        description=description,
        credentials_type=credentials_type,
        specific_attributes=specific_attributes,
    )
    new_type = "credentials_type" in changed
    merged = {**({} if new_type else old_credentials), **(credentials or {})}
    candidate.credentials = _select_credentials(
        candidate.credentials_type,
        merged,
        key_file_path=None if new_type else old_credentials.get("key_file_path"),
    )
    if candidate.credentials != old_credentials or key_file is not None:
        changed["credentials"] = True
    if manifests is not None:
        candidate.manifests = _clean_manifests(manifests)
        if candidate.manifests != storage.manifests:
            changed["manifests"] = True

    bucket_changed = bool(changed.keys() & {*CONNECTION_FIELDS, "credentials"})
    recheck = bucket_changed or "manifests" in changed
    with _staged_key_file(candidate, key_file) as staged:
        if recheck:
            _check(candidate, check_bucket=bucket_changed)
        with transaction.atomic():
            if staged is not None:
                candidate.credentials["key_file_path"] = str(staged.final_path(candidate.pk))
            candidate.save()
            if staged is not None:
                staged.commit(candidate.pk)
    old_key_file = old_credentials.get("key_file_path")
    if old_key_file and old_key_file != candidate.credentials.get("key_file_path"):
        _remove_key_file(old_key_file)
    if recheck:
        logger.info("Cloud storage %s updated and re-checked", candidate.pk)
    return candidate


def cloud_storage_delete(*, storage: CloudStorage) -> None:
    """Delete ``storage``. Tasks whose data used it are unlinked (``Data.cloud_storage`` is
    SET_NULL: their media answer 409 until relinked); its key file is removed."""
    key_file = (storage.credentials or {}).get("key_file_path")
    storage_id = storage.pk
    with transaction.atomic():
        storage.delete()
    if key_file:
        _remove_key_file(key_file)
    logger.info("Cloud storage %s deleted", storage_id)


def require_available(
    provider: CloudProvider, *, message: str | None = None, storage_id: int | None = None
) -> None:
    """Raise ``CloudStorageNotAvailable`` (400) naming the cause (not found, access
    forbidden, unreachable) unless the bucket can be listed: the one availability check of a
    storage named in a request (created, updated, task data, relink).

    One listing request of one item, not ``status()``: what every caller does next is list the
    bucket, and ``status()`` probes the bucket itself (S3 ``HeadBucket``, Azure's container
    properties, GCS's bucket metadata), which a key allowed to list but not to read the
    bucket's metadata fails (a refusal of a storage that works) and a key allowed the metadata
    but not the listing passes (a failure later). The provider's translated error tells the
    causes apart; an unreachable endpoint reads as NOT_FOUND, as ``status()`` says.
    ``message`` (with ``{status}``, and ``{id}``: ``storage_id``) replaces the cause's fixed
    message."""
    try:
        provider.list_page("", page_size=1)
    except errors.CloudStorageError as exc:  # forbidden, not found, unreachable, anything else
        raise not_available(exc, message=message, storage_id=storage_id) from None


def not_available(
    cause: errors.CloudStorageError, *, message: str | None = None, storage_id: int | None = None
) -> errors.CloudStorageNotAvailable:
    """The refusal of a storage that failed with ``cause`` (``require_available``'s, also for a
    listing that fails after the check passed)."""
    text = message.format(id=storage_id, status=cause.availability) if message else None
    return errors.CloudStorageNotAvailable.because(cause, text)


def cloud_storage_require_available(
    *, storage: CloudStorage, message: str | None = None
) -> CloudProvider:
    """``storage``'s provider for the work that follows, once ``require_available`` passed
    (checked with the short status timeouts, so an unreachable endpoint fails fast)."""
    provider = provider_for(storage, timeouts=STATUS_TIMEOUTS)
    require_available(provider, message=message, storage_id=storage.id)
    return provider_for(storage)


# --- checks ------------------------------------------------------------------------------------


def _check(storage: CloudStorage, *, check_bucket: bool) -> None:
    """Configuration and endpoint (no network), then the bucket, then each manifest."""
    if storage.credentials_type == CredentialsType.KEY_FILE_PATH and not storage.credentials.get(
        "key_file_path"
    ):
        raise errors.BadRequest(MSG_KEY_FILE_REQUIRED)
    provider = provider_for(storage, timeouts=STATUS_TIMEOUTS)
    if check_bucket or storage.manifests:
        require_available(provider)
    for key in storage.manifests:
        status = provider.object_status(key)
        if status == Status.NOT_FOUND:
            raise errors.BadRequest(
                MSG_MANIFEST_NOT_FOUND.format(key=key),
                code="manifest_not_found",
                extra={"key": key},
            )
        if status == Status.FORBIDDEN:
            raise errors.BadRequest(
                MSG_MANIFEST_FORBIDDEN.format(key=key),
                code="manifest_forbidden",
                extra={"key": key},
            )


def _apply(storage: CloudStorage, **values: str | None) -> dict[str, bool]:
    changed: dict[str, bool] = {}
    for name, value in values.items():
        if value is not None and value != getattr(storage, name):
            setattr(storage, name, value)
            changed[name] = True
    return changed


def _select_credentials(
    credentials_type: str, given: Mapping[str, str], *, key_file_path: str | None = None
) -> dict[str, str]:
    """The given credentials the type uses (empty values dropped). ``key_file_path`` is never
    taken from ``given``: it is a server path, set only from a staged key file."""
    given = {**given, "key_file_path": key_file_path or ""}
    keys = CREDENTIAL_KEYS.get(credentials_type, ())
    return {key: given[key] for key in keys if given.get(key)}


def _clean_manifests(manifests: Sequence[str]) -> list[str]:
    cleaned = list(dict.fromkeys(validate_relative_path(key) for key in manifests))
    if len(cleaned) > MAX_MANIFESTS:
        raise errors.BadRequest(MSG_TOO_MANY_MANIFESTS.format(limit=MAX_MANIFESTS))
    return cleaned


# --- key files ---------------------------------------------------------------------------------


def key_files_dir() -> Path:
    return Path(settings.DATA_DIR) / "cloud_keys"


class _StagedKeyFile:
    """A key file written under a temporary name (mode 0600) until the storage is saved."""

    def __init__(self, content: bytes):
        directory = key_files_dir()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = directory / f".staged-{uuid.uuid4().hex}.json"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
        self.committed = False

    @staticmethod
    def final_path(storage_id: int) -> Path:
        return key_files_dir() / f"{storage_id}.json"

    def commit(self, storage_id: int) -> None:
        os.replace(self.path, self.final_path(storage_id))
        self.committed = True

    def discard(self) -> None:
        if not self.committed:
            self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def _staged_key_file(
    storage: CloudStorage, content: bytes | None
) -> Iterator[_StagedKeyFile | None]:
    """Stage ``content`` (when given) and point ``storage.credentials`` at it for the checks.
    The file is removed unless committed inside the block."""
    if content is None:
        yield None
        return
    if storage.credentials_type != CredentialsType.KEY_FILE_PATH:
        yield None  # a key file only means something for KEY_FILE_PATH credentials
        return
    _validate_key_file(content)
    staged = _StagedKeyFile(content)
    storage.credentials["key_file_path"] = str(staged.path)
    try:
        yield staged
    finally:
        staged.discard()


def _validate_key_file(content: bytes) -> None:
    problem = errors.BadRequest(
        MSG_BAD_KEY_FILE.format(limit=MAX_KEY_FILE_SIZE), code="invalid_key_file"
    )
    if len(content) > MAX_KEY_FILE_SIZE:
        raise problem
    try:
        parsed = json.loads(content)
    except (UnicodeDecodeError, ValueError):
        raise problem from None
    if not isinstance(parsed, dict):
        raise problem


def _remove_key_file(path: str) -> None:
    """Remove a key file, but only one of ours (never a path outside the key file folder)."""
    target = Path(path)
    if target.parent.resolve() == key_files_dir().resolve():
        target.unlink(missing_ok=True)
