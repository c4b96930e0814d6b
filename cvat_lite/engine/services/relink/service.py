"""Relinking a cloud task to a cloud storage (contract 7.5) and the auto-relink of restored
lightweight tasks (contract 7.4): the checks, ``PATCH data/meta``, the project relink, the save.

A verified relink saves the link and learns the listing's evidence (so the next relink compares
fingerprints), moves ``Data.chunks_updated_date`` and the task's ``updated_date``, and drops the
task's cached chunks and previews once committed. The linked storage's provider and bucket
become the data's ``cloud_origin`` (``Data.save``), which later lightweight backups name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.cloud.base import CloudProvider
from cvat_lite.engine.cloud import storage_prefix
from cvat_lite.engine.media_cache import media_cache_drop
from cvat_lite.engine.models import CloudStorage, Data, Image, Project, StorageChoice, Task
from cvat_lite.engine.selectors import MSG_CLOUD_STORAGE_NOT_FOUND, cloud_storage_for
from cvat_lite.engine.services.cloud_storages import (
    cloud_storage_require_available,
    not_available,
)
from cvat_lite.engine.services.relink.verify import (
    KeyMap,
    Verification,
    relink_verify,
)
from cvat_lite.media.paths import shown, validate_relative_path

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger("cvat_lite.engine.services.relink")

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
MSG_DELETED_FRAME = "deleted_frames: frame {frame} is not in {first}..{last}."

SAVE_SHARE = 0.1  # of a background relink's progress: the rest is the verification

Progress = Callable[[float], None]
UNSET: Any = object()


def _no_progress(fraction: float) -> None:
    return None


def _share(progress: Progress, start: float, width: float) -> Progress:
    """``progress`` for a part of the work: 0..1 becomes start..start + width."""

    def report(fraction: float) -> None:
        progress(start + width * fraction)

    return report


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

    def body(self) -> dict[str, Any]:
        return {
            "relinked": self.relinked,
            "failed": self.failed,
            "dry_run": self.dry_run,
            "verifications": self.verifications,
        }


@dataclass(frozen=True)
class RelinkPlan:
    """A checked relink: the storage (None: unlink), the key move and how it was verified."""

    storage: CloudStorage | None
    key_map: KeyMap = field(default_factory=KeyMap)
    verification: Verification | None = None

    @property
    def ok(self) -> bool:
        return self.verification is None or self.verification.ok


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


def check_available(storage: CloudStorage) -> CloudProvider:
    """The storage's provider for the listing, once the one availability check of a storage
    named in a request passed (``cloud_storage_require_available``: a listing of one item,
    short timeouts); else a 400 naming the storage and the cause."""
    return cloud_storage_require_available(storage=storage, message=MSG_NOT_AVAILABLE)


def _verified(
    task_data: Data,
    storage: CloudStorage,
    provider: CloudProvider,
    *,
    key_map: KeyMap,
    content_sample: int | None,
    learn: bool,
    progress: Progress = _no_progress,
) -> Verification:
    """The verification of ``storage``; a listing (or download) that fails after a good status
    is reported like an unavailable storage."""
    try:
        return relink_verify(
            data=task_data,
            provider=provider,
            key_map=key_map,
            content_sample=content_sample,
            learn=learn,
            progress=progress,
        )
    except errors.CloudStorageError as exc:  # forbidden, not found, unreachable, anything else
        raise not_available(exc, message=MSG_NOT_AVAILABLE, storage_id=storage.id) from None


def cloud_data(task: Task) -> Data:
    data = task.data
    if data is None:
        raise errors.BadRequest(MSG_NO_DATA, code=CODE_NOT_CLOUD)
    if data.storage != StorageChoice.CLOUD_STORAGE:
        raise errors.BadRequest(MSG_NOT_CLOUD, code=CODE_NOT_CLOUD)
    return data


def relink_target(
    *,
    task: Task,
    user: User,
    cloud_storage_id: int | None,
    options: RelinkOptions | None = None,
    progress: Progress = _no_progress,
) -> RelinkPlan:
    """Every check of a relink of ``task`` to ``cloud_storage_id`` (None: unlink), without a
    write: a cloud task; a storage visible to ``user`` (else 400 naming the id), AVAILABLE
    (else 400 naming the status), holding the task's media (else 400 with the keys and the
    verification report — except in a dry run, which returns the failed verification)."""
    options = options or RelinkOptions()
    data = cloud_data(task)
    if cloud_storage_id is None:
        return RelinkPlan(None)
    storage = cloud_storage_for(user, cloud_storage_id)
    key_map = resolve_key_map(data=data, options=options)
    provider = check_available(storage)
    verification = _verified(
        data,
        storage,
        provider,
        key_map=key_map,
        content_sample=options.content_sample,
        learn=not options.dry_run,
        progress=progress,
    )
    if not verification.ok and not options.dry_run:
        _discard(verification)
        raise _verification_error(storage, verification)
    return RelinkPlan(storage, key_map, verification)


def _discard(verification: Verification | None) -> None:
    if verification is not None and verification.learned is not None:
        verification.learned.close()


# --- writes ------------------------------------------------------------------------------------

_LEARNT_COLUMNS = (
    "path",
    "related_files",
    "object_size",
    "object_md5",
    "object_etag",
    "object_crc32c",
)


def _learn(data: Data, plan: RelinkPlan, progress: Progress) -> list[str]:
    """Rewrite the task's Image rows after a verified relink, batch by batch from what the
    verification learnt: keys moved by ``plan.key_map``, evidence updated from the listing.
    Returns the Data fields changed."""
    verification = plan.verification
    if verification is None:
        return []
    learned = verification.learned
    if learned is not None and learned.count:
        related_field = Image._meta.get_field("related_files")
        quote = connection.ops.quote_name
        table = quote(Image._meta.db_table)
        sets = ", ".join(f"{quote(name)} = %s" for name in _LEARNT_COLUMNS)
        done = 0
        with connection.cursor() as cursor:
            for batch in learned.batches():
                # Names from the model's metadata, quoted; every value is a parameter.
                cursor.executemany(
                    f"UPDATE {table} SET {sets} WHERE id = %s",  # noqa: S608
                    [
                        (
                            key,
                            related_field.get_db_prep_save(moved, connection),
                            size,
                            md5,
                            etag,
                            crc32c,
                            pk,
                        )
                        for pk, key, moved, size, md5, etag, crc32c in batch
                    ],
                )
                done += len(batch)
                progress(done / learned.count)
        learned.close()
    key_map = plan.key_map
    if key_map.identity:
        return []
    folder = data.cloud_prefix.strip("/") + "/" if data.cloud_prefix.strip("/") else ""
    if folder.startswith(key_map.source):
        data.cloud_prefix = key_map(folder).rstrip("/")
    else:
        data.cloud_prefix = verification.prefix.rstrip("/")
    return ["cloud_prefix"]


def relink_save(
    *,
    task: Task,
    storage: CloudStorage | None = None,
    update_fields: Sequence[str] = (),
    plan: RelinkPlan | None = None,
    progress: Progress = _no_progress,
) -> Data:
    """Save ``task``'s link to ``storage`` (or ``plan.storage``; None unlinks) with the data's
    other changed ``update_fields``, in one transaction, learning the plan's verification
    (``_learn``); the media cache is dropped once committed."""
    plan = plan or RelinkPlan(storage)
    storage = plan.storage
    data = cloud_data(task)
    data.cloud_storage = storage
    data.chunks_updated_date = timezone.now()
    try:
        with transaction.atomic():
            if storage is not None and not (
                CloudStorage.objects.select_for_update().filter(pk=storage.pk).exists()
            ):  # deleted since it was checked
                raise errors.BadRequest(
                    MSG_NOT_FOUND.format(id=storage.pk),
                    code=CODE_NOT_FOUND,
                    extra={"cloud_storage_id": storage.pk},
                )
            learned = _learn(data, plan, progress)
            data.save(
                update_fields=["cloud_storage", "chunks_updated_date", *update_fields, *learned]
            )
            task.save(update_fields=["updated_date"])
            # The new chunks_updated_date already makes the cached entries unreachable: with
            # Redis down, the saved link is still answered 200 (the failure is logged).
            transaction.on_commit(lambda: media_cache_drop(task=task), robust=True)
    finally:
        _discard(plan.verification)
    return data


# --- data/meta ---------------------------------------------------------------------------------


def _checked_deleted_frames(
    data: Data, deleted_frames: Sequence[int], scope: Sequence[int] | None
) -> list[int]:
    """The task's deleted frames after the change (see ``data_meta_update``)."""
    frames = range(data.size) if scope is None else scope
    allowed = set(frames)
    for frame in deleted_frames:
        if frame not in allowed:
            raise errors.BadRequest(
                MSG_DELETED_FRAME.format(frame=frame, first=min(frames), last=max(frames)),
                code="frame_out_of_range",
            )
    kept = [] if scope is None else [f for f in data.deleted_frames if f not in allowed]
    return sorted({*kept, *deleted_frames})


def relink_precheck(
    *,
    task: Task,
    user: User,
    cloud_storage_id: int,
    options: RelinkOptions,
    deleted_frames: Any = UNSET,
) -> None:
    """The quick checks of a relink, before it is queued: what ``data_meta_update`` refuses
    without listing the storage (it checks them all again when it runs)."""
    data = cloud_data(task)
    if deleted_frames is not UNSET:
        _checked_deleted_frames(data, deleted_frames, None)
    storage = cloud_storage_for(user, cloud_storage_id)
    resolve_key_map(data=data, options=options)
    check_available(storage)


def data_meta_update(
    *,
    task: Task,
    data: Data,
    user: User,
    deleted_frames: Any = UNSET,
    cloud_storage_id: Any = UNSET,
    relink: RelinkOptions | None = None,
    scope: Sequence[int] | None = None,
    progress: Progress = _no_progress,
) -> RelinkPlan | None:
    """``PATCH data/meta``: ``deleted_frames`` (task frames; they replace the deleted frames
    of the task, or of ``scope`` — a job's frames — only) and ``cloud_storage_id`` (relink a
    cloud task to a storage visible to ``user`` once verified, with ``relink``'s prefix move,
    content sample and dry run, or unlink it with None). Every check runs before anything is
    saved; the changes are saved together (nothing in a dry run). Returns the relink's plan
    (its verification report), None without a relink."""
    update_fields: list[str] = []
    deleted: list[int] = []
    if deleted_frames is not UNSET:
        deleted = _checked_deleted_frames(data, deleted_frames, scope)
        update_fields.append("deleted_frames")
    if cloud_storage_id is not UNSET:
        plan = relink_target(
            task=task,
            user=user,
            cloud_storage_id=cloud_storage_id,
            options=relink,
            progress=_share(progress, 0, 1 - SAVE_SHARE),
        )
        if relink is not None and relink.dry_run:
            return plan
        if update_fields:
            data.deleted_frames = deleted
        relink_save(
            task=task,
            plan=plan,
            update_fields=update_fields,
            progress=_share(progress, 1 - SAVE_SHARE, SAVE_SHARE),
        )
        return plan
    if update_fields:
        data.deleted_frames = deleted
        with transaction.atomic():
            data.save(update_fields=update_fields)
            task.save(update_fields=["updated_date"])
    return None


# --- auto-relink and projects ------------------------------------------------------------------


def _covers(storage: CloudStorage, origin_prefix: str) -> tuple[bool, bool]:
    """(does the storage's ``prefix`` hold the origin's folder, is it exactly that folder)."""
    mine, theirs = storage_prefix(storage).strip("/"), origin_prefix.strip("/")
    exact = mine == theirs
    return exact or not mine or theirs.startswith(mine + "/"), exact


def relink_auto(
    *, task: Task, owner: User, provider_type: str, resource: str, prefix: str
) -> CloudStorage | None:
    """Link a restored, unlinked cloud task to a storage OWNED by ``owner`` with the origin's
    ``provider_type`` and ``resource`` (bucket) whose ``prefix`` holds the origin's folder
    ``prefix`` (the exact folder first), AVAILABLE, and holding the task's media (default
    content sample). Returns the storage, or None when none fits. A storage that fails in any
    way is skipped (logged); this never raises for cloud problems."""
    data = task.data
    if data is None or data.storage != StorageChoice.CLOUD_STORAGE:
        return None
    candidates = []
    for storage in CloudStorage.objects.filter(
        owner=owner, provider_type=provider_type, resource=resource
    ).order_by("id"):
        try:
            covers, exact = _covers(storage, prefix)
        except errors.CvatLiteError:  # unreadable specific attributes
            continue
        if covers:
            candidates.append((not exact, storage.id, storage))
    for _, _, storage in sorted(candidates, key=lambda c: c[:2]):
        verification = None
        try:
            verification = _verified(
                data,
                storage,
                check_available(storage),
                key_map=KeyMap(),
                content_sample=None,
                learn=True,
            )
            if not verification.ok:
                raise _verification_error(storage, verification)
            relink_save(task=task, plan=RelinkPlan(storage, KeyMap(), verification))
        except errors.CvatLiteError as exc:
            _discard(verification)
            logger.info(
                "Auto-relink of task %s: storage %s skipped: %s", task.id, storage.id, exc.code
            )
            continue
        logger.info(
            "Auto-relink of task %s to storage %s: %s", task.id, storage.id, verification.how()
        )
        return storage
    return None


def project_unlinked_tasks(project: Project):
    """The project's cloud tasks without a storage link, which a project relink links."""
    return (
        Task.objects.filter(
            project=project,
            data__storage=StorageChoice.CLOUD_STORAGE,
            data__cloud_storage__isnull=True,
        )
        .select_related("data")
        .order_by("id")
    )


def project_relink(
    *,
    project: Project,
    user: User,
    cloud_storage_id: int,
    options: RelinkOptions | None = None,
    progress: Progress = _no_progress,
) -> ProjectRelinkResult:
    """``PATCH /api/projects/{id}/cloud_storage``: link every unlinked cloud task of
    ``project`` whose media the storage holds (moved by ``options``' prefixes); the others are
    reported with the error's code and message, and every verified task with its report. The
    storage is looked up and its status checked once (a refusal there is a 400 for the whole
    request). A dry run saves nothing and reports what would be linked."""
    options = options or RelinkOptions()
    storage = cloud_storage_for(user, cloud_storage_id)
    provider = check_available(storage)
    tasks = list(project_unlinked_tasks(project))
    sizes = {task.id: (task.data.size if task.data else 0) or 1 for task in tasks}
    total, done = sum(sizes.values()), 0
    relinked: list[int] = []
    failed: list[dict] = []
    reports: list[dict] = []
    for task in tasks:
        verification = None
        checking = _share(progress, done / total, (1 - SAVE_SHARE) * sizes[task.id] / total)
        saving = _share(
            progress,
            (done + (1 - SAVE_SHARE) * sizes[task.id]) / total,
            SAVE_SHARE * sizes[task.id] / total,
        )
        try:
            data = cloud_data(task)
            key_map = resolve_key_map(data=data, options=options)
            verification = _verified(
                data,
                storage,
                provider,
                key_map=key_map,
                content_sample=options.content_sample,
                learn=not options.dry_run,
                progress=checking,
            )
            reports.append({"task_id": task.id, "verification": verification.report()})
            if not verification.ok:
                raise _verification_error(storage, verification)
            if not options.dry_run:
                relink_save(
                    task=task,
                    plan=RelinkPlan(storage, key_map, verification),
                    progress=saving,
                )
        except errors.CvatLiteError as exc:
            _discard(verification)
            failed.append(
                {"task_id": task.id, "code": exc.code, "message": exc.message, "extra": exc.extra}
            )
        else:
            _discard(verification)
            relinked.append(task.id)
        done += sizes[task.id]
        progress(done / total)
    return ProjectRelinkResult(
        relinked=relinked, failed=failed, verifications=reports, dry_run=options.dry_run
    )
