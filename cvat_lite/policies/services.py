"""Writes for backup policies: create/update/delete (arming the schedule after commit), submit a
run as a request, and the run itself (in the worker).

A run backs up each item the policy names (``policy_items``), skipping an item whose
fingerprint equals the one of the policy's last archive of it that still exists ("unchanged"),
then applies the retention to every item the policy has archives of, deleting only archives
that have a ``PolicyArchive`` row of this policy AND whose recorded name is one of ours for that
very item (``parse_archive_name``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.backup.export import Progress, task_lightweight_in_project
from cvat_lite.backup.naming import ArchiveMode, parse_archive_name
from cvat_lite.engine.choices import Location
from cvat_lite.engine.cloud import provider_for
from cvat_lite.engine.models import CloudStorage, Project, Task
from cvat_lite.engine.selectors import cloud_storage_for, visible
from cvat_lite.policies import schedule, store
from cvat_lite.policies.fingerprint import project_fingerprint, task_fingerprint
from cvat_lite.policies.models import (
    BackupPolicy,
    Mode,
    PolicyArchive,
    PolicyRun,
    RunStatus,
    Scope,
    Trigger,
)
from cvat_lite.policies.retention import Retention, Snapshot, retention_apply
from cvat_lite.policies.verify import archive_verify
from cvat_lite.requests.jobs import RequestResult, run_request
from cvat_lite.requests.models import Request, RequestAction
from cvat_lite.requests.services import (
    ACTIVE_STATUSES,
    RequestSpec,
    job_path,
    new_request_id,
    reconcile,
    request_submit,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger("cvat_lite.policies")


MSG_ALREADY_RUNNING = "A run of this policy is already queued or running."
MSG_PREVIOUS_RUNNING = "Skipped: the previous run of this policy was still queued or running."
MSG_POLICY_GONE = "The policy was deleted before it could run."
MSG_ITEMS_FAILED = "{failed} of {total} items failed."
MSG_PRUNE_FAILED = "Pruning failed for {count} archives."
MSG_DONE = "{written} written, {unchanged} unchanged, {failed} failed, {pruned} pruned."
MSG_NOTHING = "The policy names nothing to back up."
MSG_VERIFY_FAILED = "The archive did not pass verification: {why}"


# --- policies ----------------------------------------------------------------------------------


def _arm_after_commit(policy_id: int) -> None:
    def arm() -> None:
        policy = BackupPolicy.objects.filter(pk=policy_id).first()
        if policy is None:
            schedule.policy_disarm(policy_id)
        else:
            schedule.policy_arm(policy)

    transaction.on_commit(arm)


def policy_save(*, policy: BackupPolicy) -> BackupPolicy:
    """Save a validated policy (the serializer checked the fields) and arm its schedule."""
    with transaction.atomic():
        policy.save()
        _arm_after_commit(policy.id)
    return policy


def policy_delete(*, policy: BackupPolicy) -> None:
    """Delete the policy and its records; the archives it wrote stay where they are."""
    policy_id = policy.id
    with transaction.atomic():
        policy.delete()
        _arm_after_commit(policy_id)


# --- runs --------------------------------------------------------------------------------------


def _active_run(policy: BackupPolicy) -> Request | None:
    for request in Request.objects.filter(
        target="policy", target_id=policy.id, status__in=ACTIVE_STATUSES
    ):
        if reconcile(request).status in ACTIVE_STATUSES:
            return request
    return None


def policy_run_submit(*, policy: BackupPolicy, trigger: str) -> PolicyRun:
    """Queue a run of ``policy`` as an ``export:backup`` request of target ``policy``. A run
    already queued or running: 409 (from the API), or a ``skipped`` run (from the schedule)."""
    active = _active_run(policy)
    if active is not None:
        if trigger == Trigger.MANUAL:
            raise errors.Conflict(
                MSG_ALREADY_RUNNING, code="policy_already_running", extra={"rq_id": active.id}
            )
        now = timezone.now()
        return PolicyRun.objects.create(
            policy=policy,
            trigger=trigger,
            status=RunStatus.SKIPPED,
            started_date=now,
            finished_date=now,
            error=MSG_PREVIOUS_RUNNING,
        )
    with transaction.atomic():
        run = PolicyRun.objects.create(policy=policy, trigger=trigger)
        request = request_submit(
            owner=policy.owner,
            spec=RequestSpec(
                action=RequestAction.EXPORT,
                target="policy",
                subresource="backup",
                target_id=policy.id,
                func=policy_run,
                kwargs={"run_id": run.id},
                params={"policy_id": policy.id, "run_id": run.id, "trigger": trigger},
            ),
        )
        run.request_id = request.id
        run.save(update_fields=["request_id"])
    return run


def _pk(value: int | None) -> int:
    return value if value is not None else 0  # no row has id 0


@dataclass
class _Item:
    kind: str
    obj: Task | Project
    lightweight: bool


def _lightweight(policy: BackupPolicy, obj: Task | Project) -> bool:
    if policy.mode == Mode.FULL:
        return False
    if isinstance(obj, Project) or policy.mode == Mode.LIGHTWEIGHT:
        # A project backup's "lightweight" is already "whenever possible" (its local tasks are
        # written in full); a task asked lightweight that cannot be fails with the reason.
        return True
    return task_lightweight_in_project(obj, True)


def policy_items(policy: BackupPolicy) -> list[_Item]:
    """What the policy backs up now, projects first, each in id order. ``all`` and ``owner``
    take every project (of the owner) and every task with data that is not in one of them."""
    tasks = Task.objects.filter(data__isnull=False).select_related(
        "data", "data__cloud_storage", "project"
    )
    projects = Project.objects.all()
    objs: list[Task | Project]
    if policy.scope == Scope.TASK:
        objs = list(tasks.filter(pk=_pk(policy.task_id)))
    elif policy.scope == Scope.PROJECT:
        objs = list(projects.filter(pk=_pk(policy.project_id)))
    elif policy.scope == Scope.OWNER:
        mine = list(projects.filter(owner_id=policy.target_owner_id).order_by("id"))
        ids = [project.id for project in mine]
        objs = [*mine, *tasks.filter(owner_id=policy.target_owner_id).exclude(
            project_id__in=ids
        ).order_by("id")]  # fmt: skip
    else:
        objs = [
            *projects.order_by("id"),
            *tasks.filter(project__isnull=True).order_by("id"),
        ]
    return [
        _Item("task" if isinstance(obj, Task) else "project", obj, _lightweight(policy, obj))
        for obj in objs
    ]


def _fingerprint(item: _Item) -> str:
    if isinstance(item.obj, Task):
        return task_fingerprint(task=item.obj, lightweight=item.lightweight)
    return project_fingerprint(project=item.obj, lightweight=item.lightweight)


def _unchanged(policy: BackupPolicy, item: _Item, fingerprint: str) -> PolicyArchive | None:
    last = (
        PolicyArchive.objects.filter(policy=policy, kind=item.kind, object_id=item.obj.id)
        .order_by("-created_date", "-id")
        .first()
    )
    if last is None or last.fingerprint != fingerprint:
        return None
    if not store.at_destination(policy=policy, archive=last):
        return None  # the policy now writes elsewhere: a first archive there
    if not store.archive_exists(
        location=last.location, cloud_storage_id=last.cloud_storage_id, key=last.key
    ):
        return None  # removed behind our back: write it again
    return last


def _verify(policy: BackupPolicy, archive: PolicyArchive) -> None:
    """The read-back check of "verify after writing" (see docs/backup-policies.md)."""
    problem = archive_verify(policy=policy, archive=archive)
    archive.verified = problem is None
    archive.save(update_fields=["verified"])
    if problem is not None:
        raise errors.CvatLiteError(MSG_VERIFY_FAILED.format(why=problem))


def _backup_item(
    policy: BackupPolicy, run: PolicyRun, item: _Item, progress: Progress
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": item.kind,
        "id": item.obj.id,
        "name": item.obj.name,
        "mode": ArchiveMode.of(item.lightweight).value,
        "status": "failed",
        "archive": None,
        "bytes": None,
        "sha256": None,
        "read_back": "",
        "error": "",
    }
    try:
        fingerprint = _fingerprint(item)
        previous = _unchanged(policy, item, fingerprint)
        if previous is not None:
            entry.update(status="unchanged", archive=previous.key, bytes=previous.bytes,
                         sha256=previous.sha256)  # fmt: skip
            return entry
        now = datetime.now(UTC)
        written = store.archive_write(
            policy=policy,
            kind=item.kind,
            obj_id=item.obj.id,
            lightweight=item.lightweight,
            now=now,
            progress=progress,
        )
        archive = PolicyArchive.objects.create(
            policy=policy,
            run=run,
            kind=item.kind,
            object_id=item.obj.id,
            mode=written.mode,
            name=written.name,
            location=policy.location,
            cloud_storage_id=policy.cloud_storage_id,
            key=written.key,
            bytes=written.bytes,
            sha256=written.sha256,
            fingerprint=fingerprint,
            created_date=now,
        )
        entry.update(status="written", archive=written.key, bytes=written.bytes, mode=written.mode,
                     sha256=written.sha256, read_back=written.read_back)  # fmt: skip
        if policy.verify_after_write:
            _verify(policy, archive)
    except errors.CvatLiteError as exc:
        entry.update(status="failed", error=exc.message)
    except Exception:
        logger.exception("Policy %s: backing up %s %s failed", policy.id, item.kind, item.obj.id)
        entry.update(status="failed", error="Internal error.")
    return entry


def _ours(archive: PolicyArchive) -> bool:
    """An archive recorded by the policy whose name is one the policy writes for that item."""
    parsed = parse_archive_name(archive.name)
    return (
        parsed is not None
        and str(parsed) == archive.name
        and parsed.kind == archive.kind
        and parsed.id == archive.object_id
        and (archive.key == archive.name or archive.key.endswith("/" + archive.name))
    )


def policy_prune(*, policy: BackupPolicy) -> tuple[int, list[str]]:
    """Apply the retention to every item the policy has archives of; returns (deleted, errors)."""
    retention = Retention(
        last=policy.keep_last,
        daily=policy.keep_daily,
        weekly=policy.keep_weekly,
        monthly=policy.keep_monthly,
    )
    if retention.empty:
        return 0, []
    groups: dict[tuple[str, int], list[PolicyArchive]] = {}
    for archive in PolicyArchive.objects.filter(policy=policy):
        groups.setdefault((archive.kind, archive.object_id), []).append(archive)
    deleted, problems = 0, []
    for archives in groups.values():
        snapshots = {a.id: a for a in archives}
        _, remove = retention_apply(
            [Snapshot(a.id, a.created_date) for a in archives], retention, tz=policy.timezone
        )
        for snapshot in remove:
            archive = snapshots[snapshot.id]
            if not _ours(archive):
                problems.append(f"{archive.key}: not a name this policy writes; left in place")
                continue
            try:
                store.archive_delete(
                    policy=policy,
                    location=archive.location,
                    cloud_storage_id=archive.cloud_storage_id,
                    key=archive.key,
                )
            except errors.CvatLiteError as exc:
                problems.append(f"{archive.key}: {exc.message}")
                continue
            archive.delete()
            deleted += 1
    return deleted, problems


def policy_run(*, run_id: int, progress: Progress) -> RequestResult:
    """The run (in the worker): back up every item, then prune. Any failed item, or a failed
    deletion, makes the run ``failed`` with the reason in ``error`` (and in the request)."""
    run = PolicyRun.objects.select_related("policy").filter(pk=run_id).first()
    if run is None:
        raise errors.BadRequest(MSG_POLICY_GONE, code="policy_gone")
    policy = run.policy
    PolicyRun.objects.filter(pk=run.id).update(
        status=RunStatus.RUNNING, started_date=timezone.now()
    )
    try:
        items = policy_items(policy)
        report = []
        for index, item in enumerate(items):
            total = len(items)

            def item_progress(fraction: float, *, force: bool = False, _i=index, _n=total):
                progress((_i + fraction) / _n, force=force)

            report.append(_backup_item(policy, run, item, item_progress))
        pruned, prune_problems = policy_prune(policy=policy)
    except errors.CvatLiteError as exc:
        _finish(run, RunStatus.FAILED, error=exc.message)
        raise
    except Exception:
        _finish(run, RunStatus.FAILED, error="Internal error.")
        raise
    counts = {
        status: sum(entry["status"] == status for entry in report)
        for status in ("written", "unchanged", "failed")
    }
    problems = [f"{e['kind']} #{e['id']}: {e['error']}" for e in report if e["status"] == "failed"]
    problems += prune_problems
    summary = MSG_DONE.format(pruned=pruned, **counts)
    _finish(
        run,
        RunStatus.FAILED if problems else RunStatus.SUCCEEDED,
        error="; ".join(problems),
        report=report,
        pruned=pruned,
        **counts,
    )
    if problems:
        raise errors.CvatLiteError(f"{summary} {'; '.join(problems)}", code="policy_run_failed")
    return RequestResult(message=summary if items else MSG_NOTHING)


def _finish(run: PolicyRun, status: str, **fields: Any) -> None:
    PolicyRun.objects.filter(pk=run.id).update(
        status=status, finished_date=timezone.now(), **fields
    )


def policy_fire(*, policy_id: int, fire_ts: int) -> PolicyRun | None:
    """The scheduled job: arm the next fire time first (a failing run must not stop the
    schedule), then submit the run."""
    policy = BackupPolicy.objects.filter(pk=policy_id).first()
    if policy is None or not policy.enabled:
        schedule.policy_disarm(policy_id)
        return None
    fired = datetime.fromtimestamp(fire_ts, UTC)
    schedule.policy_arm(policy, after=max(fired, datetime.now(UTC)))
    return policy_run_submit(policy=policy, trigger=Trigger.SCHEDULE)


def policy_location_check(*, location: str, cloud_storage: CloudStorage | None, prefix: str) -> str:
    """The cleaned prefix; BadRequest when the destination is incomplete (no network)."""
    prefix = store.clean_prefix(prefix)
    if location == Location.CLOUD_STORAGE and cloud_storage is None:
        raise errors.BadRequest(
            "'cloud_storage_id' is required with location=cloud_storage.",
            code="cloud_storage_id_required",
        )
    if cloud_storage is not None:
        provider_for(cloud_storage)  # the endpoint is allowed; no connection
    return prefix


# --- validation --------------------------------------------------------------------------------

MSG_SCOPE_NEEDS = "scope={scope} needs '{field}'."
MSG_NOT_FOUND = "{what} #{id} does not exist."
MSG_ADMIN_ONLY = "Only an administrator can back up everything or another user's objects."
MSG_NO_RETENTION_FIELD = "'{field}' must be a whole number >= 0."
POLICY_FIELDS = (
    "name", "scope", "project_id", "task_id", "target_owner_id", "mode", "location",
    "cloud_storage_id", "prefix", "cron", "timezone", "keep_last", "keep_daily",
    "keep_weekly", "keep_monthly", "verify_after_write", "enabled",
)  # fmt: skip


def policy_build(
    *, user: User, values: dict[str, Any], policy: BackupPolicy | None = None
) -> BackupPolicy:
    """A new or changed (unsaved) policy from ``values`` (only the keys given change), checked
    against what ``user`` may see; BadRequest/NotFound otherwise. No network."""
    policy = policy or BackupPolicy(owner=user)
    for name, value in values.items():
        if name in POLICY_FIELDS:
            setattr(policy, name, value)
    policy.cron = schedule.validate_cron(policy.cron or "")
    policy.timezone = schedule.validate_timezone(policy.timezone or "")
    scope = policy.scope
    needs = {Scope.PROJECT: "project_id", Scope.TASK: "task_id", Scope.OWNER: "target_owner_id"}
    for other_scope, field in needs.items():
        if scope == other_scope and getattr(policy, field) is None:
            raise errors.BadRequest(MSG_SCOPE_NEEDS.format(scope=scope, field=field))
        if scope != other_scope:
            setattr(policy, field, None)
    projects, tasks = visible(Project.objects.all(), user), visible(Task.objects.all(), user)
    if scope == Scope.PROJECT and not projects.filter(pk=_pk(policy.project_id)).exists():
        raise errors.BadRequest(
            MSG_NOT_FOUND.format(what="Project", id=policy.project_id), code="project_not_found"
        )
    if scope == Scope.TASK and not tasks.filter(pk=_pk(policy.task_id)).exists():
        raise errors.BadRequest(
            MSG_NOT_FOUND.format(what="Task", id=policy.task_id), code="task_not_found"
        )
    if not user.is_superuser and (
        scope == Scope.ALL or (scope == Scope.OWNER and policy.target_owner_id != user.id)
    ):
        raise errors.PermissionDenied(MSG_ADMIN_ONLY)
    if scope == Scope.OWNER:
        from django.contrib.auth import get_user_model

        if not get_user_model().objects.filter(pk=_pk(policy.target_owner_id)).exists():
            raise errors.BadRequest(
                MSG_NOT_FOUND.format(what="User", id=policy.target_owner_id),
                code="user_not_found",
            )
    storage = None
    if policy.location == Location.CLOUD_STORAGE:
        if policy.cloud_storage_id is not None:
            storage = cloud_storage_for(user, policy.cloud_storage_id)
    else:
        policy.cloud_storage_id = None
    policy.prefix = policy_location_check(
        location=policy.location, cloud_storage=storage, prefix=policy.prefix or ""
    )
    return policy


def policy_run_here(*, policy: BackupPolicy) -> PolicyRun:
    """Run ``policy`` now in this process (``cvat-lite backup policies run``): the same run and
    request as a queued one, without a worker. Returns the finished run."""
    active = _active_run(policy)
    if active is not None:
        raise errors.Conflict(
            MSG_ALREADY_RUNNING, code="policy_already_running", extra={"rq_id": active.id}
        )
    with transaction.atomic():
        run = PolicyRun.objects.create(policy=policy, trigger=Trigger.MANUAL)
        request = Request.objects.create(
            id=new_request_id(RequestAction.EXPORT, "policy", policy.id, "backup"),
            owner=policy.owner,
            action=RequestAction.EXPORT,
            target="policy",
            subresource="backup",
            target_id=policy.id,
            params={"policy_id": policy.id, "run_id": run.id, "trigger": Trigger.MANUAL},
        )
        run.request_id = request.id
        run.save(update_fields=["request_id"])
    run_request(request.id, job_path(policy_run), {"run_id": run.id})
    run.refresh_from_db()
    return run
