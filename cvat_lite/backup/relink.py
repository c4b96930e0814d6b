"""Relinking a cloud task to a cloud storage, verified (SPEC 7.5), and the auto-relink of
restored lightweight backups (SPEC 7.4).

A cloud task's Image rows are its media manifest: ``Image.path`` (and each of its
``related_files``) is a full object key, ``Image.checksum`` an MD5 hex or "". A storage may be
linked only when it holds every one of those keys: ``relink_verify`` checks that with ONE paged
listing under the keys' longest common folder (never a request per object) and, where the
manifest has a checksum and the listing reports an MD5, that they match. The keys are the same
in any provider, so a task can move from S3 to Azure to GCS.

Linking (or unlinking) saves the link, moves ``Data.chunks_updated_date`` and the task's
``updated_date``, and drops the task's cached chunks and previews once committed. The linked
storage's provider and bucket become the data's ``cloud_origin`` (``Data.save``), which later
lightweight backups name.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.backup.format import OriginSpec
from cvat_lite.cloud.base import STATUS_TIMEOUTS, CloudProvider, Status
from cvat_lite.engine.cloud import provider_for, storage_prefix
from cvat_lite.engine.models import CloudStorage, Data, Image, Project, StorageChoice, Task
from cvat_lite.engine.selectors import MSG_CLOUD_STORAGE_NOT_FOUND, cloud_storage_for
from cvat_lite.engine.services.cloud_storages import CODE_NOT_AVAILABLE
from cvat_lite.media.cache import media_cache_drop

logger = logging.getLogger("cvat_lite.backup.relink")

REPORTED_KEYS = 100  # keys listed in a verification failure; the counts cover all of them
ROW_CHUNK = 2000

CODE_NOT_CLOUD = "not_a_cloud_task"
CODE_NOT_FOUND = "cloud_storage_not_found"
CODE_VERIFICATION_FAILED = "relink_verification_failed"

MSG_NOT_CLOUD = "The task's media are not in a cloud storage; there is no storage link to change."
MSG_NO_DATA = "The task has no data yet; there is no storage link to change."
MSG_NOT_FOUND = MSG_CLOUD_STORAGE_NOT_FOUND
MSG_NOT_AVAILABLE = "Cloud storage #{id} is not available ({status})."
MSG_VERIFICATION_FAILED = (
    "Cloud storage #{id} does not hold the task's media: {missing} missing, "
    "{mismatched} with a different checksum (of {total} objects)."
)


@dataclass(frozen=True)
class Verification:
    """The outcome of ``relink_verify``: at most ``REPORTED_KEYS`` keys of each kind, in
    manifest order, and the full counts."""

    missing: list[str] = field(default_factory=list)
    missing_count: int = 0
    mismatched: list[str] = field(default_factory=list)
    mismatched_count: int = 0
    checked: int = 0  # distinct object keys of the manifest

    @property
    def ok(self) -> bool:
        return not self.missing_count and not self.mismatched_count


@dataclass(frozen=True)
class ProjectRelinkResult:
    relinked: list[int]
    failed: list[dict]  # {"task_id", "code", "message", "extra"}


# --- verification ------------------------------------------------------------------------------


def _manifest_keys(data: Data) -> dict[str, str]:
    """Object key → expected MD5 ("" when unknown), in frame order; a key listed twice (e.g.
    honeypot frames) counts once. Streamed rows, no ORM objects."""
    expected: dict[str, str] = {}
    rows = (
        Image.objects.filter(data=data)
        .order_by("frame")
        .values_list("path", "checksum", "related_files")
        .iterator(chunk_size=ROW_CHUNK)
    )
    for path, checksum, related in rows:
        if not expected.get(path):
            expected[path] = (checksum or "").lower()
        for key in related or ():
            expected.setdefault(key, "")
    return expected


def _listing_prefix(keys: Collection[str]) -> str:
    """The longest common folder of ``keys`` ("dir/sub/"), "" when they share none. The
    common prefix of a set of strings is that of its least and greatest members."""
    low, high = min(keys, default=""), max(keys, default="")
    length = 0
    while length < min(len(low), len(high)) and low[length] == high[length]:
        length += 1
    return low[: low.rfind("/", 0, length) + 1]


def relink_verify(*, data: Data, provider: CloudProvider) -> Verification:
    """Does the bucket of ``provider`` hold every object of ``data``'s manifest (see the module
    docstring). One paged listing; it stops early once every key has been seen. Cloud errors
    (``CloudStorageError``…) propagate."""
    expected = _manifest_keys(data)
    seen: set[str] = set()
    mismatched: set[str] = set()
    if expected:
        for info in provider.iter_objects(_listing_prefix(expected.keys())):
            checksum = expected.get(info.key)
            if checksum is None or info.key in seen:
                continue
            seen.add(info.key)
            if checksum and info.md5 and info.md5.lower() != checksum:
                mismatched.add(info.key)
            if len(seen) == len(expected):
                break
        mismatched = _confirmed(provider, expected, mismatched)
    missing_count = len(expected) - len(seen)
    return Verification(
        missing=_first(key for key in expected if key not in seen),
        missing_count=missing_count,
        mismatched=_first(key for key in expected if key in mismatched),
        mismatched_count=len(mismatched),
        checked=len(expected),
    )


def _confirmed(provider: CloudProvider, expected: dict[str, str], mismatched: set[str]) -> set[str]:
    """The mismatches that are real. A listed MD5 may not be one: S3 lists the ETag of an
    SSE-KMS / SSE-C object, which is not its MD5, and only ``head`` tells. So each mismatch
    is confirmed with ``head`` (failures only: a storage that verifies costs one listing), up
    to ``REPORTED_KEYS`` of them; when none of those had a real MD5, neither have the rest."""
    if not mismatched:
        return mismatched
    ordered = [key for key in expected if key in mismatched]
    checked, rest = ordered[:REPORTED_KEYS], ordered[REPORTED_KEYS:]
    confirmed: set[str] = set()
    for key in checked:
        try:
            md5 = provider.head(key).md5
        except errors.CloudObjectNotFound:  # deleted since it was listed: not right either
            confirmed.add(key)
            continue
        if md5 is not None and md5.lower() != expected[key]:
            confirmed.add(key)
    return confirmed | set(rest) if confirmed else confirmed


def _first(keys: Iterator[str]) -> list[str]:
    result: list[str] = []
    for key in keys:
        if len(result) == REPORTED_KEYS:
            break
        result.append(key)
    return result


def _verification_error(storage: CloudStorage, result: Verification) -> errors.BadRequest:
    return errors.BadRequest(
        MSG_VERIFICATION_FAILED.format(
            id=storage.id,
            missing=result.missing_count,
            mismatched=result.mismatched_count,
            total=result.checked,
        ),
        code=CODE_VERIFICATION_FAILED,
        extra={
            "missing": result.missing,
            "missing_count": result.missing_count,
            "mismatched": result.mismatched,
            "mismatched_count": result.mismatched_count,
        },
    )


# --- checks ------------------------------------------------------------------------------------


def _not_available(storage: CloudStorage, status: Status) -> errors.BadRequest:
    return errors.BadRequest(
        MSG_NOT_AVAILABLE.format(id=storage.id, status=status),
        code=CODE_NOT_AVAILABLE,
        extra={"status": str(status)},
    )


def _visible_storage(user, cloud_storage_id: int) -> CloudStorage:
    return cloud_storage_for(user, cloud_storage_id)


def _check_available(storage: CloudStorage) -> CloudProvider:
    """The storage's provider for the listing, once its status is AVAILABLE (fail-fast)."""
    status = provider_for(storage, timeouts=STATUS_TIMEOUTS).status()
    if status != Status.AVAILABLE:
        raise _not_available(storage, status)
    return provider_for(storage)


def _verify(task_data: Data, storage: CloudStorage, provider: CloudProvider) -> None:
    """BadRequest unless ``storage`` holds the media; a listing that fails after a good
    status is reported like an unavailable storage."""
    try:
        result = relink_verify(data=task_data, provider=provider)
    except errors.CloudStorageForbidden:
        raise _not_available(storage, Status.FORBIDDEN) from None
    except errors.CloudStorageError:
        raise _not_available(storage, Status.NOT_FOUND) from None
    if not result.ok:
        raise _verification_error(storage, result)


def _cloud_data(task: Task) -> Data:
    data = task.data
    if data is None:
        raise errors.BadRequest(MSG_NO_DATA, code=CODE_NOT_CLOUD)
    if data.storage != StorageChoice.CLOUD_STORAGE:
        raise errors.BadRequest(MSG_NOT_CLOUD, code=CODE_NOT_CLOUD)
    return data


def relink_target(*, task: Task, user, cloud_storage_id: int | None) -> CloudStorage | None:
    """Every check of a relink of ``task`` to ``cloud_storage_id`` (None: unlink), without a
    write: a cloud task; a storage visible to ``user`` (else 400 naming the id), AVAILABLE
    (else 400 naming the status), holding the task's media (else 400 with the keys)."""
    data = _cloud_data(task)
    if cloud_storage_id is None:
        return None
    storage = _visible_storage(user, cloud_storage_id)
    _verify(data, storage, _check_available(storage))
    return storage


# --- writes ------------------------------------------------------------------------------------


def relink_save(
    *, task: Task, storage: CloudStorage | None, update_fields: Sequence[str] = ()
) -> Data:
    """Save ``task``'s link to ``storage`` (None unlinks) with the data's other changed
    ``update_fields``, in one transaction; the media cache is dropped once committed."""
    data = _cloud_data(task)
    data.cloud_storage = storage
    data.chunks_updated_date = timezone.now()
    with transaction.atomic():
        if storage is not None and not (
            CloudStorage.objects.select_for_update().filter(pk=storage.pk).exists()
        ):  # deleted since it was checked
            raise errors.BadRequest(
                MSG_NOT_FOUND.format(id=storage.pk),
                code=CODE_NOT_FOUND,
                extra={"cloud_storage_id": storage.pk},
            )
        data.save(update_fields=["cloud_storage", "chunks_updated_date", *update_fields])
        task.save(update_fields=["updated_date"])
        # The new chunks_updated_date already makes the cached entries unreachable: with Redis
        # down, the saved link is still answered 200 (the failure is logged).
        transaction.on_commit(lambda: media_cache_drop(task=task), robust=True)
    return data


def task_relink(*, task: Task, user, cloud_storage_id: int | None) -> Data:
    """``PATCH /api/tasks/{id}/data/meta {"cloud_storage_id": N | null}`` (see
    ``relink_target``). Nothing changes on a refusal."""
    storage = relink_target(task=task, user=user, cloud_storage_id=cloud_storage_id)
    return relink_save(task=task, storage=storage)


def _covers(storage: CloudStorage, origin_prefix: str) -> tuple[bool, bool]:
    """(does the storage's ``prefix`` hold the origin's folder, is it exactly that folder)."""
    mine, theirs = storage_prefix(storage).strip("/"), origin_prefix.strip("/")
    exact = mine == theirs
    return exact or not mine or theirs.startswith(mine + "/"), exact


def relink_auto(*, task: Task, owner, origin: OriginSpec) -> CloudStorage | None:
    """Link a restored, unlinked cloud task to a storage OWNED by ``owner`` with the origin's
    provider and bucket whose ``prefix`` holds the origin's folder (the exact folder first),
    AVAILABLE, and holding the task's media. Returns the storage, or None when none fits.
    A storage that fails in any way is skipped (logged); this never raises for cloud
    problems."""
    data = task.data
    if data is None or data.storage != StorageChoice.CLOUD_STORAGE:
        return None
    candidates = []
    for storage in CloudStorage.objects.filter(
        owner=owner, provider_type=origin.provider_type, resource=origin.resource
    ).order_by("id"):
        try:
            covers, exact = _covers(storage, origin.prefix)
        except errors.CvatLiteError:  # unreadable specific attributes
            continue
        if covers:
            candidates.append((not exact, storage.id, storage))
    for _, _, storage in sorted(candidates, key=lambda c: c[:2]):
        try:
            _verify(data, storage, _check_available(storage))
            relink_save(task=task, storage=storage)
        except errors.CvatLiteError as exc:
            logger.info(
                "Auto-relink of task %s: storage %s skipped: %s", task.id, storage.id, exc.code
            )
            continue
        return storage
    return None


def project_relink(*, project: Project, user, cloud_storage_id: int) -> ProjectRelinkResult:
    """``PATCH /api/projects/{id}/cloud_storage``: link every unlinked cloud task of
    ``project`` whose media the storage holds; the others are reported with the error's code
    and message. The storage is looked up and its status checked once (a refusal there is a
    400 for the whole request)."""
    storage = _visible_storage(user, cloud_storage_id)
    provider = _check_available(storage)
    tasks = (
        Task.objects.filter(
            project=project,
            data__storage=StorageChoice.CLOUD_STORAGE,
            data__cloud_storage__isnull=True,
        )
        .select_related("data")
        .order_by("id")
    )
    relinked: list[int] = []
    failed: list[dict] = []
    for task in tasks:
        try:
            _verify(_cloud_data(task), storage, provider)
            relink_save(task=task, storage=storage)
        except errors.CvatLiteError as exc:
            failed.append(
                {"task_id": task.id, "code": exc.code, "message": exc.message, "extra": exc.extra}
            )
        else:
            relinked.append(task.id)
    return ProjectRelinkResult(relinked=relinked, failed=failed)


__all__ = [
    "ProjectRelinkResult",
    "Verification",
    "project_relink",
    "relink_auto",
    "relink_save",
    "relink_target",
    "relink_verify",
    "task_relink",
]
