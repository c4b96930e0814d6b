"""Relinking a cloud task to a cloud storage, verified (contract 7.5), and the auto-relink of
restored lightweight backups (contract 7.4).

A cloud task's Image rows are its media manifest: ``Image.path`` (and each of its
``related_files``) is a full object key; ``Image.checksum`` is CVAT's manifest checksum (the MD5
of the decoded pixels, never an object's MD5); ``Image.object_*`` is what a bucket said of the
object (``cloud.evidence``). A storage may be linked only when it holds every one of those keys.
``relink_verify`` checks that with ONE paged listing under the keys' longest common folder
(never a request per object):

1. every key is listed;
2. size and fingerprints are compared where both the recorded evidence and the listing have the
   same kind (``evidence.compare``): a different size or CRC32C is another object; different
   MD5s are confirmed with ``head`` (an S3 listing shows the ETag of an SSE-KMS object, which is
   not its MD5); equal MD5s, CRC32Cs or ETags verify the object; anything else proves nothing;
3. the objects that only have CVAT's pixel checksum are verified by content on a random sample
   (``content_sample``, default ``settings.RELINK_CONTENT_SAMPLE``; None: all): downloaded,
   decoded, ``pixel_md5`` compared.

The keys are the same in any provider, so a task can move from S3 to Azure to GCS; a
``KeyMap`` moves them under another prefix. A verified relink saves the link and learns the
listing's evidence (so the next relink compares fingerprints), moves
``Data.chunks_updated_date`` and the task's ``updated_date``, and drops the task's cached chunks
and previews once committed. The linked storage's provider and bucket become the data's
``cloud_origin`` (``Data.save``), which later lightweight backups name.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.backup.format import OriginSpec
from cvat_lite.cloud.base import STATUS_TIMEOUTS, CloudProvider, Status
from cvat_lite.cloud.evidence import Evidence, Verdict, compare
from cvat_lite.engine.cloud import provider_for, storage_prefix
from cvat_lite.engine.media_cache import media_cache_drop
from cvat_lite.engine.models import CloudStorage, Data, Image, Project, StorageChoice, Task
from cvat_lite.engine.selectors import MSG_CLOUD_STORAGE_NOT_FOUND, cloud_storage_for
from cvat_lite.engine.services.cloud_storages import CODE_NOT_AVAILABLE
from cvat_lite.media.images import pixel_md5
from cvat_lite.media.paths import shown, validate_relative_path

logger = logging.getLogger("cvat_lite.backup.relink")

REPORTED_KEYS = 100  # keys listed in a verification failure; the counts cover all of them
ROW_CHUNK = 2000
CONTENT_WORKERS = 8

CODE_NOT_CLOUD = "not_a_cloud_task"
CODE_NOT_FOUND = "cloud_storage_not_found"
CODE_VERIFICATION_FAILED = "relink_verification_failed"
CODE_BAD_PREFIX = "invalid_prefix"

MSG_NOT_CLOUD = "The task's media are not in a cloud storage; there is no storage link to change."
MSG_NO_DATA = "The task has no data yet; there is no storage link to change."
MSG_NOT_FOUND = MSG_CLOUD_STORAGE_NOT_FOUND
MSG_NOT_AVAILABLE = "Cloud storage #{id} is not available ({status})."
MSG_VERIFICATION_FAILED = (
    "Cloud storage #{id} does not hold the task's media: {missing} missing, "
    "{mismatched} with other content (of {total} objects). Checked: {how}"
)
MSG_NOT_UNDER_PREFIX = (
    "prefix_from {prefix} does not hold {count} of the task's object keys, e.g. {example}."
)
MSG_HOW = (
    "one listing under '{prefix}' ({listed} objects listed), {present} of {total} present; "
    "{fingerprints} compared by size/fingerprint ({fingerprint_matched} matched); "
    "{sampled} of {candidates} known only by CVAT's pixel checksum downloaded and compared "
    "({content_matched} matched); {unverified} present but not compared."
)


@dataclass(frozen=True)
class KeyMap:
    """Object keys under ``source`` ("" or a folder ending with "/") moved to ``target``."""

    source: str = ""
    target: str = ""

    @property
    def identity(self) -> bool:
        return self.source == self.target

    def __call__(self, key: str) -> str:
        return self.target + key[len(self.source) :]


@dataclass(frozen=True)
class Verification:
    """The outcome of ``relink_verify``: at most ``REPORTED_KEYS`` keys of each kind, in
    manifest order, the full counts, and how it was checked (not part of equality)."""

    missing: list[str] = field(default_factory=list)
    missing_count: int = 0
    mismatched: list[str] = field(default_factory=list)
    mismatched_count: int = 0
    checked: int = 0  # distinct object keys of the manifest
    prefix: str = field(default="", compare=False)  # the listing's prefix
    listed: int = field(default=0, compare=False)  # objects the listing returned
    present: int = field(default=0, compare=False)
    sizes_compared: int = field(default=0, compare=False)
    fingerprints_compared: int = field(default=0, compare=False)
    fingerprints_matched: int = field(default=0, compare=False)
    content_candidates: int = field(default=0, compare=False)
    content_sampled: int = field(default=0, compare=False)
    content_matched: int = field(default=0, compare=False)
    # what the listing said of each expected object, learnt on a successful relink
    listed_evidence: dict[str, Evidence] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.missing_count and not self.mismatched_count

    @property
    def unverified(self) -> int:
        """Present objects that were neither compared by fingerprint nor by content."""
        checked = self.fingerprints_matched + self.content_matched + self.mismatched_count
        return max(self.present - checked, 0)

    @property
    def method(self) -> list[str]:
        used = ["listing"]
        if self.sizes_compared:
            used.append("size")
        if self.fingerprints_compared:
            used.append("fingerprint")
        if self.content_sampled:
            used.append("content_sample")
        return used

    def how(self) -> str:
        return MSG_HOW.format(
            prefix=self.prefix,
            listed=self.listed,
            present=self.present,
            total=self.checked,
            fingerprints=self.fingerprints_compared,
            fingerprint_matched=self.fingerprints_matched,
            sampled=self.content_sampled,
            candidates=self.content_candidates,
            content_matched=self.content_matched,
            unverified=self.unverified,
        )

    def report(self) -> dict[str, Any]:
        """The ``verification`` object of the API's answers."""
        return {
            "ok": self.ok,
            "method": self.method,
            "prefix": self.prefix,
            "listed": self.listed,
            "expected": self.checked,
            "present": self.present,
            "missing_count": self.missing_count,
            "missing": self.missing,
            "mismatched_count": self.mismatched_count,
            "mismatched": self.mismatched,
            "sizes_compared": self.sizes_compared,
            "fingerprints_compared": self.fingerprints_compared,
            "fingerprints_matched": self.fingerprints_matched,
            "content_candidates": self.content_candidates,
            "content_sampled": self.content_sampled,
            "content_matched": self.content_matched,
            "unverified": self.unverified,
            "summary": self.how(),
        }


@dataclass(frozen=True)
class RelinkOptions:
    """What a relink request may add to the storage id (see ``resolve_key_map``)."""

    prefix: str | None = None  # the media's new folder
    prefix_from: str | None = None  # the folder it replaces (default: the manifest's folder)
    content_sample: int | None = None  # None: settings.RELINK_CONTENT_SAMPLE; ALL_OBJECTS: all
    dry_run: bool = False


ALL_OBJECTS = -1  # RelinkOptions.content_sample for "all"


@dataclass(frozen=True)
class ProjectRelinkResult:
    relinked: list[int]
    failed: list[dict]  # {"task_id", "code", "message", "extra"}
    verifications: list[dict] = field(default_factory=list)  # {"task_id", "verification"}
    dry_run: bool = False


# --- verification ------------------------------------------------------------------------------


@dataclass
class _Expected:
    checksum: str  # CVAT's pixel MD5, "" when unknown
    evidence: Evidence | None  # None: nothing recorded (context images, CVAT's manifests)


def _manifest_keys(data: Data, key_map: KeyMap) -> dict[str, _Expected]:
    """Object key (after ``key_map``) → what is expected of it, in frame order; a key listed
    twice (e.g. honeypot frames) counts once. Streamed rows, no ORM objects."""
    expected: dict[str, _Expected] = {}
    rows = (
        Image.objects.filter(data=data)
        .order_by("frame")
        .values_list("path", "checksum", "related_files", *Image.EVIDENCE_FIELDS)
        .iterator(chunk_size=ROW_CHUNK)
    )
    for path, checksum, related, size, md5, etag, crc32c in rows:
        key = key_map(path)
        known = expected.get(key)
        if known is None or not known.checksum:
            evidence = Evidence(size, md5.lower(), etag, crc32c.lower())
            expected[key] = _Expected(
                (checksum or "").lower(),
                evidence if (evidence.size is not None or evidence.fingerprinted) else None,
            )
        for item in related or ():
            expected.setdefault(key_map(item), _Expected("", None))
    return expected


def _listing_prefix(keys: Collection[str]) -> str:
    """The longest common folder of ``keys`` ("dir/sub/"), "" when they share none. The
    common prefix of a set of strings is that of its least and greatest members."""
    low, high = min(keys, default=""), max(keys, default="")
    length = 0
    while length < min(len(low), len(high)) and low[length] == high[length]:
        length += 1
    return low[: low.rfind("/", 0, length) + 1]


def _sample_size(content_sample: int | None) -> int | None:
    """None: every candidate."""
    if content_sample is None:
        content_sample = settings.RELINK_CONTENT_SAMPLE
    return None if content_sample < 0 else content_sample


def relink_verify(
    *,
    data: Data,
    provider: CloudProvider,
    key_map: KeyMap | None = None,
    content_sample: int | None = None,
) -> Verification:
    """Does the bucket of ``provider`` hold every object of ``data``'s manifest (see the module
    docstring). One paged listing; it stops early once every key has been seen. Cloud errors
    (``CloudStorageError``…) propagate."""
    expected = _manifest_keys(data, key_map or KeyMap())
    prefix = _listing_prefix(expected.keys())
    listed: dict[str, Evidence] = {}
    count = 0
    sized = compared = matched = 0
    md5_differs: set[str] = set()
    mismatched: set[str] = set()
    unknown: list[str] = []
    if expected:
        for info in provider.iter_objects(prefix):
            count += 1
            if info.key not in expected or info.key in listed:
                continue
            listed[info.key] = Evidence.of(info)
            if len(listed) == len(expected):
                break
        for key, want in expected.items():  # manifest order
            evidence = listed.get(key)
            if evidence is None:
                continue
            if want.evidence is None:
                unknown.append(key)
                continue
            result = compare(want.evidence, evidence)
            sized += result.size_compared
            if result.verdict is Verdict.UNKNOWN:
                unknown.append(key)
                continue
            compared += 1
            if result.verdict is Verdict.MATCH:
                matched += 1
            elif result.verdict is Verdict.MISMATCH:
                mismatched.add(key)
            else:
                md5_differs.add(key)
        confirmed = _confirmed(provider, expected, md5_differs)
        mismatched |= confirmed
        inconclusive = md5_differs - confirmed  # the listed "MD5" was not one: proves nothing
        compared -= len(inconclusive)
        unknown.extend(key for key in expected if key in inconclusive)
    candidates = [key for key in unknown if expected[key].checksum]
    sampled, content_bad = _content_check(provider, expected, candidates, content_sample)
    mismatched |= content_bad
    missing_count = len(expected) - len(listed)
    return Verification(
        missing=_first(key for key in expected if key not in listed),
        missing_count=missing_count,
        mismatched=_first(key for key in expected if key in mismatched),
        mismatched_count=len(mismatched),
        checked=len(expected),
        prefix=prefix,
        listed=count,
        present=len(listed),
        sizes_compared=sized,
        fingerprints_compared=compared,
        fingerprints_matched=matched,
        content_candidates=len(candidates),
        content_sampled=sampled,
        content_matched=sampled - len(content_bad),
        listed_evidence=listed,
    )


def _content_check(
    provider: CloudProvider,
    expected: dict[str, _Expected],
    candidates: list[str],
    content_sample: int | None,
) -> tuple[int, set[str]]:
    """Download a random sample of ``candidates`` and compare CVAT's pixel checksum of each;
    returns (how many were sampled, the keys whose pixels differ or that are no image)."""
    size = _sample_size(content_sample)
    sample = (
        candidates
        if size is None or size >= len(candidates)
        else (random.SystemRandom().sample(candidates, size))
    )
    if not sample:
        return 0, set()

    def differs(key: str) -> bool:
        checksum = expected[key].checksum
        try:
            content = provider.download(key)
        except errors.CloudObjectNotFound:  # deleted since it was listed
            return True
        if hashlib.md5(content, usedforsecurity=False).hexdigest() == checksum:
            return False  # the file's own MD5: what lightweight backups of tasks made from a
            # listing held before pixel checksums (identical bytes: as good as the pixels)
        try:
            return pixel_md5(content) != checksum
        except errors.BadRequest:  # not a decodable image
            return True

    with ThreadPoolExecutor(max_workers=min(CONTENT_WORKERS, len(sample))) as pool:
        results = list(pool.map(differs, sample))
    return len(sample), {key for key, bad in zip(sample, results, strict=True) if bad}


def _confirmed(
    provider: CloudProvider, expected: dict[str, _Expected], mismatched: set[str]
) -> set[str]:
    """The MD5 mismatches that are real. A listed MD5 may not be one: S3 lists the ETag of an
    SSE-KMS / SSE-C object, which is not its MD5, and only ``head`` tells. So each mismatch
    is confirmed with ``head`` (failures only: a storage that verifies costs one listing), up
    to ``REPORTED_KEYS`` of them; when none of those had a real MD5, neither have the rest."""
    if not mismatched:
        return mismatched
    ordered = [key for key in expected if key in mismatched]
    checked, rest = ordered[:REPORTED_KEYS], ordered[REPORTED_KEYS:]
    confirmed: set[str] = set()
    for key in checked:
        recorded = expected[key].evidence
        try:
            md5 = provider.head(key).md5
        except errors.CloudObjectNotFound:  # deleted since it was listed: not right either
            confirmed.add(key)
            continue
        if md5 is not None and recorded is not None and md5.lower() != recorded.md5:
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
            how=result.how(),
        ),
        code=CODE_VERIFICATION_FAILED,
        extra={
            "missing": result.missing,
            "missing_count": result.missing_count,
            "mismatched": result.mismatched,
            "mismatched_count": result.mismatched_count,
            "verification": result.report(),
        },
    )


# --- key maps ----------------------------------------------------------------------------------


def _folder(value: str) -> str:
    value = value.strip().lstrip("/")
    if value and not value.endswith("/"):
        value += "/"
    if value:
        validate_relative_path(value.rstrip("/"))
    return value


def resolve_key_map(*, data: Data, options: RelinkOptions) -> KeyMap:
    """The move ``options`` asks for: keys under ``prefix_from`` (default: the manifest's
    folder, ``Data.cloud_prefix``) go under ``prefix``. Every key must be under
    ``prefix_from`` (else 400 ``invalid_prefix``)."""
    if options.prefix is None:
        return KeyMap()
    target = _folder(options.prefix)
    if options.prefix_from is not None:
        source = _folder(options.prefix_from)
    else:
        source = _folder(data.cloud_prefix) if data.cloud_prefix.strip("/") else ""
    if source:
        outside = Image.objects.filter(data=data).exclude(path__startswith=source)
        count = outside.count()
        if count:
            example = outside.order_by("frame").values_list("path", flat=True).first() or ""
            raise errors.BadRequest(
                MSG_NOT_UNDER_PREFIX.format(
                    prefix=shown(source), count=count, example=shown(example)
                ),
                code=CODE_BAD_PREFIX,
                extra={"prefix_from": source, "count": count, "example": example},
            )
    return KeyMap(source, target)


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


def _verified(
    task_data: Data,
    storage: CloudStorage,
    provider: CloudProvider,
    *,
    key_map: KeyMap,
    content_sample: int | None,
) -> Verification:
    """The verification of ``storage``; a listing (or download) that fails after a good status
    is reported like an unavailable storage."""
    try:
        return relink_verify(
            data=task_data, provider=provider, key_map=key_map, content_sample=content_sample
        )
    except errors.CloudStorageForbidden:
        raise _not_available(storage, Status.FORBIDDEN) from None
    except errors.CloudStorageError:
        raise _not_available(storage, Status.NOT_FOUND) from None


def _verify(
    task_data: Data,
    storage: CloudStorage,
    provider: CloudProvider,
    *,
    key_map: KeyMap | None = None,
    content_sample: int | None = None,
) -> Verification:
    """The verification, or BadRequest unless ``storage`` holds the media."""
    result = _verified(
        task_data, storage, provider, key_map=key_map or KeyMap(), content_sample=content_sample
    )
    if not result.ok:
        raise _verification_error(storage, result)
    return result


def _cloud_data(task: Task) -> Data:
    data = task.data
    if data is None:
        raise errors.BadRequest(MSG_NO_DATA, code=CODE_NOT_CLOUD)
    if data.storage != StorageChoice.CLOUD_STORAGE:
        raise errors.BadRequest(MSG_NOT_CLOUD, code=CODE_NOT_CLOUD)
    return data


@dataclass(frozen=True)
class RelinkPlan:
    """A checked relink: the storage (None: unlink), the key move and how it was verified."""

    storage: CloudStorage | None
    key_map: KeyMap = field(default_factory=KeyMap)
    verification: Verification | None = None

    @property
    def ok(self) -> bool:
        return self.verification is None or self.verification.ok


def relink_target(
    *,
    task: Task,
    user,
    cloud_storage_id: int | None,
    options: RelinkOptions | None = None,
) -> RelinkPlan:
    """Every check of a relink of ``task`` to ``cloud_storage_id`` (None: unlink), without a
    write: a cloud task; a storage visible to ``user`` (else 400 naming the id), AVAILABLE
    (else 400 naming the status), holding the task's media (else 400 with the keys and the
    verification report — except in a dry run, which returns the failed verification)."""
    options = options or RelinkOptions()
    data = _cloud_data(task)
    if cloud_storage_id is None:
        return RelinkPlan(None)
    storage = _visible_storage(user, cloud_storage_id)
    key_map = resolve_key_map(data=data, options=options)
    provider = _check_available(storage)
    verification = _verified(
        data, storage, provider, key_map=key_map, content_sample=options.content_sample
    )
    if not verification.ok and not options.dry_run:
        raise _verification_error(storage, verification)
    return RelinkPlan(storage, key_map, verification)


# --- writes ------------------------------------------------------------------------------------


def _learn(data: Data, plan: RelinkPlan) -> list[str]:
    """Rewrite the task's Image rows after a verified relink: keys moved by ``plan.key_map``,
    evidence updated from the listing. Returns the Data fields changed."""
    verification = plan.verification
    if verification is None:
        return []
    key_map = plan.key_map
    listed = verification.listed_evidence
    related_field = Image._meta.get_field("related_files")
    updates: list[tuple[Any, ...]] = []
    rows = (
        Image.objects.filter(data=data)
        .values_list("id", "path", "related_files", *Image.EVIDENCE_FIELDS)
        .iterator(chunk_size=ROW_CHUNK)
    )
    for pk, path, related, size, md5, etag, crc32c in rows:
        key = key_map(path)
        before = Evidence(size, md5, etag, crc32c)
        after = before.learned(listed[key]) if key in listed else before
        moved = [key_map(item) for item in related or ()]
        if key == path and after == before:
            continue
        updates.append(
            (
                key,
                related_field.get_db_prep_save(moved, connection),
                after.size,
                after.md5,
                after.etag,
                after.crc32c,
                pk,
            )
        )
    if updates:
        quote = connection.ops.quote_name
        table = quote(Image._meta.db_table)
        sets = ", ".join(
            f"{quote(name)} = %s"
            for name in (
                "path",
                "related_files",
                "object_size",
                "object_md5",
                "object_etag",
                "object_crc32c",
            )
        )
        with connection.cursor() as cursor:
            for start in range(0, len(updates), ROW_CHUNK * 5):
                # Names from the model's metadata, quoted; every value is a parameter.
                cursor.executemany(
                    f"UPDATE {table} SET {sets} WHERE id = %s",  # noqa: S608
                    updates[start : start + ROW_CHUNK * 5],
                )
    if key_map.identity:
        return []
    folder = data.cloud_prefix.strip("/") + "/" if data.cloud_prefix.strip("/") else ""
    if folder.startswith(key_map.source):
        data.cloud_prefix = key_map(folder).rstrip("/")
    else:
        data.cloud_prefix = _listing_prefix(listed.keys()).rstrip("/")
    return ["cloud_prefix"]


def relink_save(
    *,
    task: Task,
    storage: CloudStorage | None = None,
    update_fields: Sequence[str] = (),
    plan: RelinkPlan | None = None,
) -> Data:
    """Save ``task``'s link to ``storage`` (or ``plan.storage``; None unlinks) with the data's
    other changed ``update_fields``, in one transaction, learning the plan's verification
    (``_learn``); the media cache is dropped once committed."""
    plan = plan or RelinkPlan(storage)
    storage = plan.storage
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
        learned = _learn(data, plan)
        data.save(update_fields=["cloud_storage", "chunks_updated_date", *update_fields, *learned])
        task.save(update_fields=["updated_date"])
        # The new chunks_updated_date already makes the cached entries unreachable: with Redis
        # down, the saved link is still answered 200 (the failure is logged).
        transaction.on_commit(lambda: media_cache_drop(task=task), robust=True)
    return data


def task_relink(
    *, task: Task, user, cloud_storage_id: int | None, options: RelinkOptions | None = None
) -> RelinkPlan:
    """``PATCH /api/tasks/{id}/data/meta {"cloud_storage_id": N | null, ...}`` (see
    ``relink_target``). Nothing changes on a refusal or in a dry run."""
    plan = relink_target(task=task, user=user, cloud_storage_id=cloud_storage_id, options=options)
    if not (options and options.dry_run):
        relink_save(task=task, plan=plan)
    return plan


def _covers(storage: CloudStorage, origin_prefix: str) -> tuple[bool, bool]:
    """(does the storage's ``prefix`` hold the origin's folder, is it exactly that folder)."""
    mine, theirs = storage_prefix(storage).strip("/"), origin_prefix.strip("/")
    exact = mine == theirs
    return exact or not mine or theirs.startswith(mine + "/"), exact


def relink_auto(*, task: Task, owner, origin: OriginSpec) -> CloudStorage | None:
    """Link a restored, unlinked cloud task to a storage OWNED by ``owner`` with the origin's
    provider and bucket whose ``prefix`` holds the origin's folder (the exact folder first),
    AVAILABLE, and holding the task's media (default content sample). Returns the storage, or
    None when none fits. A storage that fails in any way is skipped (logged); this never
    raises for cloud problems."""
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
            verification = _verify(data, storage, _check_available(storage))
            relink_save(task=task, plan=RelinkPlan(storage, KeyMap(), verification))
        except errors.CvatLiteError as exc:
            logger.info(
                "Auto-relink of task %s: storage %s skipped: %s", task.id, storage.id, exc.code
            )
            continue
        logger.info(
            "Auto-relink of task %s to storage %s: %s", task.id, storage.id, verification.how()
        )
        return storage
    return None


def project_relink(
    *, project: Project, user, cloud_storage_id: int, options: RelinkOptions | None = None
) -> ProjectRelinkResult:
    """``PATCH /api/projects/{id}/cloud_storage``: link every unlinked cloud task of
    ``project`` whose media the storage holds (moved by ``options``' prefixes); the others are
    reported with the error's code and message, and every verified task with its report. The
    storage is looked up and its status checked once (a refusal there is a 400 for the whole
    request). A dry run saves nothing and reports what would be linked."""
    options = options or RelinkOptions()
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
    reports: list[dict] = []
    for task in tasks:
        try:
            data = _cloud_data(task)
            key_map = resolve_key_map(data=data, options=options)
            verification = _verified(
                data, storage, provider, key_map=key_map, content_sample=options.content_sample
            )
            reports.append({"task_id": task.id, "verification": verification.report()})
            if not verification.ok:
                raise _verification_error(storage, verification)
            if not options.dry_run:
                relink_save(task=task, plan=RelinkPlan(storage, key_map, verification))
        except errors.CvatLiteError as exc:
            failed.append(
                {"task_id": task.id, "code": exc.code, "message": exc.message, "extra": exc.extra}
            )
        else:
            relinked.append(task.id)
    return ProjectRelinkResult(
        relinked=relinked, failed=failed, verifications=reports, dry_run=options.dry_run
    )


__all__ = [
    "ALL_OBJECTS",
    "KeyMap",
    "ProjectRelinkResult",
    "RelinkOptions",
    "RelinkPlan",
    "Verification",
    "project_relink",
    "relink_auto",
    "relink_save",
    "relink_target",
    "relink_verify",
    "resolve_key_map",
    "task_relink",
]
