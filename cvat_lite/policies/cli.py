"""``cvat-lite backup policies``: list, check, add, edit, delete and run backup policies.

    cvat-lite backup policies [--check] [--json]
    cvat-lite backup policies add --name N --scope all|project|task|owner [--project ID]
        [--task ID] [--target-owner USER] [--mode full|lightweight|whenever_possible]
        [--to-cloud-storage ID] [--prefix P] --cron "0 2 * * *" [--timezone Europe/Berlin]
        [--keep-last N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--verify]
        [--disabled] [--as USER]
    cvat-lite backup policies edit ID [any option of add]
    cvat-lite backup policies delete ID
    cvat-lite backup policies run ID

``--check`` exits 1 when the last run of any policy failed (for monitoring). ``run`` runs the
policy now in this process, as a request of the requests API, and exits 1 if the run failed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from cvat_lite import errors
from cvat_lite.engine.choices import Location
from cvat_lite.policies import schedule, selectors, services
from cvat_lite.policies.models import BackupPolicy, Mode, RunStatus, Scope

# option name → policy field
_FIELDS = {
    "name": "name",
    "scope": "scope",
    "project": "project_id",
    "task": "task_id",
    "mode": "mode",
    "prefix": "prefix",
    "cron": "cron",
    "timezone": "timezone",
    "keep_last": "keep_last",
    "keep_daily": "keep_daily",
    "keep_weekly": "keep_weekly",
    "keep_monthly": "keep_monthly",
}


def add_arguments(actions: Any) -> None:
    """Add the ``policies`` sub-command to the ``backup`` command's sub-parsers."""
    policies = actions.add_parser("policies", help="Scheduled backup policies.")
    policies.add_argument(
        "--check", action="store_true", help="exit 1 if the last run of a policy failed"
    )
    policies.add_argument("--json", action="store_true", help="print the policies as JSON")
    commands = policies.add_subparsers(dest="policy_action")
    add = commands.add_parser("add", help="Create a policy.")
    _policy_options(add, creating=True)
    edit = commands.add_parser("edit", help="Change a policy (only the options given).")
    edit.add_argument("id", type=int, help="the policy's id")
    _policy_options(edit, creating=False)
    delete = commands.add_parser("delete", help="Delete a policy (its archives stay).")
    delete.add_argument("id", type=int, help="the policy's id")
    run = commands.add_parser("run", help="Run a policy now, in this process.")
    run.add_argument("id", type=int, help="the policy's id")


def _policy_options(parser: argparse.ArgumentParser, *, creating: bool) -> None:
    parser.add_argument("--name", required=creating, help="a name for the policy")
    parser.add_argument(
        "--scope",
        choices=Scope.values,
        required=creating,
        help="what it backs up: everything, a project, a task, or everything of an owner",
    )
    parser.add_argument("--project", type=int, help="project id (scope=project)")
    parser.add_argument("--task", type=int, help="task id (scope=task)")
    parser.add_argument("--target-owner", help="username (scope=owner)")
    parser.add_argument(
        "--mode", choices=Mode.values, help="full, lightweight, or lightweight whenever possible"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--to-cloud-storage",
        type=int,
        metavar="ID",
        dest="storage_id",
        help="write the archives to this cloud storage (by id)",
    )
    where.add_argument(
        "--to-data-dir", action="store_true", help="write to DATA_DIR/backups/<prefix>/"
    )
    parser.add_argument("--prefix", help="folder in the storage or under DATA_DIR/backups")
    parser.add_argument("--cron", required=creating, help='e.g. "0 2 * * *"')
    parser.add_argument("--timezone", help="IANA name (default UTC)")
    for rule in ("last", "daily", "weekly", "monthly"):
        parser.add_argument(
            f"--keep-{rule}",
            type=int,
            metavar="N",
            help=f"retention, as restic's --keep-{rule}",
        )
    verify = parser.add_mutually_exclusive_group()
    verify.add_argument(
        "--verify",
        action="store_true",
        default=None,
        dest="verify",
        help="check each archive after writing it (as `backup verify` does)",
    )
    verify.add_argument(
        "--no-verify", action="store_false", dest="verify", help="do not check after writing"
    )
    enabled = parser.add_mutually_exclusive_group()
    enabled.add_argument(
        "--enabled", action="store_true", default=None, dest="enabled", help="run on schedule"
    )
    enabled.add_argument(
        "--disabled", action="store_false", dest="enabled", help="keep, but do not run"
    )
    if creating:
        parser.add_argument("--as", dest="as_user", help="owner (default: the first superuser)")


def _user(username: str | None):
    users = get_user_model().objects
    user = (
        users.filter(username=username).first()
        if username
        else users.filter(is_superuser=True).order_by("id").first()
    )
    if user is None:
        raise CommandError(f"No user named '{username}'." if username else "No superuser exists.")
    return user


def _values(options: dict[str, Any]) -> dict[str, Any]:
    values = {
        field: options[name] for name, field in _FIELDS.items() if options.get(name) is not None
    }
    if options.get("target_owner"):
        values["target_owner_id"] = _user(options["target_owner"]).id
    if options.get("storage_id") is not None:
        values["location"] = Location.CLOUD_STORAGE
        values["cloud_storage_id"] = options["storage_id"]
    elif options.get("to_data_dir"):
        values["location"] = Location.LOCAL
    if options.get("verify") is not None:
        values["verify_after_write"] = options["verify"]
    if options.get("enabled") is not None:
        values["enabled"] = options["enabled"]
    return values


def _policy(policy_id: int) -> BackupPolicy:
    policy = BackupPolicy.objects.filter(pk=policy_id).first()
    if policy is None:
        raise CommandError(f"Backup policy #{policy_id} does not exist.")
    return policy


def _what(policy: BackupPolicy) -> str:
    if policy.scope == Scope.PROJECT:
        return f"project #{policy.project_id}"
    if policy.scope == Scope.TASK:
        return f"task #{policy.task_id}"
    if policy.scope == Scope.OWNER:
        return f"owner {policy.target_owner.username if policy.target_owner else '?'}"
    return "all"


def _where(policy: BackupPolicy) -> str:
    prefix = policy.prefix or ""
    if policy.location == Location.LOCAL:
        return f"data dir:{prefix or '/'}"
    return f"storage #{policy.cloud_storage_id}:{prefix or '/'}"


def _row(policy: BackupPolicy) -> dict[str, Any]:
    last = selectors.policy_last_run(policy)
    when = schedule.scheduled_at(policy.id) if policy.enabled else None
    return {
        "id": policy.id,
        "name": policy.name,
        "what": _what(policy),
        "mode": policy.mode,
        "where": _where(policy),
        "when": f"{policy.cron} ({policy.timezone})",
        "keep": (
            f"last={policy.keep_last} daily={policy.keep_daily} "
            f"weekly={policy.keep_weekly} monthly={policy.keep_monthly}"
        ),
        "enabled": policy.enabled,
        "next_run": when.isoformat() if when else None,
        "last_status": last.status if last else None,
        "last_finished": last.finished_date.isoformat() if last and last.finished_date else None,
        "last_error": last.error if last else "",
    }


def handle(command: Any, *, policy_action: str | None, **options: Any) -> int:
    """Run the sub-command; the exit status."""
    try:
        if policy_action == "add":
            policy = services.policy_build(
                user=_user(options.get("as_user")), values=_values(options)
            )
            services.policy_save(policy=policy)
            command.stdout.write(f"Created backup policy #{policy.id}.")
        elif policy_action == "edit":
            policy = _policy(options["id"])
            policy = services.policy_build(
                user=policy.owner, values=_values(options), policy=policy
            )
            services.policy_save(policy=policy)
            command.stdout.write(f"Updated backup policy #{policy.id}.")
        elif policy_action == "delete":
            services.policy_delete(policy=_policy(options["id"]))
            command.stdout.write(f"Deleted backup policy #{options['id']}.")
        elif policy_action == "run":
            return _run(command, _policy(options["id"]))
        else:
            return _list(command, check=options["check"], as_json=options["json"])
    except errors.CvatLiteError as exc:
        raise CommandError(exc.message) from None
    return 0


def _run(command: Any, policy: BackupPolicy) -> int:
    run = services.policy_run_here(policy=policy)
    command.stdout.write(f"Run #{run.id} ({run.request_id}): {run.status}")
    for entry in run.report:
        line = f"  {entry['status']:<9} {entry['kind']} #{entry['id']} {entry['name']}"
        detail = entry["error"] or entry["archive"] or ""
        command.stdout.write(f"{line}  {detail}".rstrip())
    command.stdout.write(
        f"{run.written} written, {run.unchanged} unchanged, {run.failed} failed, "
        f"{run.pruned} pruned"
    )
    if run.error:
        command.stderr.write(run.error)
    return 0 if run.status == RunStatus.SUCCEEDED else 1


def _list(command: Any, *, check: bool, as_json: bool) -> int:
    policies = list(BackupPolicy.objects.select_related("target_owner").order_by("id"))
    rows = [_row(policy) for policy in policies]
    if as_json:
        command.stdout.write(json.dumps(rows, indent=2))
    else:
        header = ["id", "name", "what", "mode", "where", "when", "enabled", "next run", "last"]
        table = [
            [
                str(row["id"]), row["name"], row["what"], row["mode"], row["where"], row["when"],
                "yes" if row["enabled"] else "no", row["next_run"] or "-",
                row["last_status"] or "never run",
            ]
            for row in rows
        ]  # fmt: skip
        widths = [max(len(line[i]) for line in [header, *table]) for i in range(len(header))]
        for line in [header, *table]:
            cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            command.stdout.write("  ".join(cells).rstrip())
    failing = [row for row in rows if row["last_status"] == RunStatus.FAILED]
    for row in failing:
        command.stderr.write(f"Policy #{row['id']} {row['name']}: last run failed: "
                             f"{row['last_error']}")  # fmt: skip
    if check:
        command.stdout.write(
            f"{len(failing)} of {len(rows)} policies failing" if failing else "All policies OK"
        )
        return 1 if failing else 0
    return 0
