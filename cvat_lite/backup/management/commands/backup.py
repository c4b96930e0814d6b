"""``cvat-lite backup``: scripted backups for administrators (cron jobs).

    cvat-lite backup export (--task ID... | --project ID... | --all | --all-tasks) [--lightweight]
                            [--output DIR | --to-cloud-storage ID [--prefix P]] [--report FILE]
    cvat-lite backup verify ARCHIVE... [--report FILE]
    cvat-lite backup import FILE... [--owner USERNAME]
    cvat-lite backup policies [--check] [add|edit|delete|run ...]   (cvat_lite.policies.cli)

``policies`` is added by the policies app (``cvat_lite.backup.management.extensions``).

All run in this process (no worker needed), print a table, and exit with status 1 when any
item failed. ``export`` writes one archive per task or project through
``writing.backup_archive_write`` (a new name, never replacing a file or object, read back
after writing; see docs/backups.md). ``--all`` is every project and every task with data
outside a project; ``--all-tasks`` every task with data. ``--lightweight`` means "lightweight
whenever possible": tasks whose media are in a cloud storage are written lightweight, others in
full (as for a project backup through the API). ``verify`` runs ``verify.backup_archive_verify``
(the restore's checks, nothing written). ``import`` restores through the API's services.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cvat_lite import errors
from cvat_lite.backup.destinations import CloudStorageDestination, Destination, LocalDirectory
from cvat_lite.backup.format import PROJECT_JSON
from cvat_lite.backup.management.extensions import SUBCOMMANDS
from cvat_lite.backup.restore import backup_restore_project, backup_restore_task
from cvat_lite.backup.verify import backup_archive_verify
from cvat_lite.backup.writing import backup_archive_write
from cvat_lite.engine.models import CloudStorage, Project, Task

BAR_WIDTH = 30


@dataclass
class Row:
    item: str
    mode: str
    ok: bool = False
    result: str = ""
    size: int | None = None
    seconds: float = 0.0


class ProgressBar:
    """A one-line progress bar on stderr (only redrawn when the shown value changes)."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self._shown = -1

    def __call__(self, fraction: float, *, force: bool = False) -> None:
        percent = int(max(0.0, min(1.0, fraction)) * 100)
        if percent == self._shown:
            return
        self._shown = percent
        filled = BAR_WIDTH * percent // 100
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {percent:3d}%")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Export or import task/project backups (full or lightweight) from the command line."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help="Write backups of tasks or projects.")
        which = export.add_mutually_exclusive_group(required=True)
        which.add_argument("--task", type=int, action="append", help="task id (repeatable)")
        which.add_argument("--project", type=int, action="append", help="project id (repeatable)")
        which.add_argument(
            "--all",
            action="store_true",
            help="every project, and every task with data that is not in a project",
        )
        which.add_argument(
            "--all-tasks",
            action="store_true",
            help="every task with data, each in its own archive (in a project or not)",
        )
        export.add_argument(
            "--lightweight",
            action="store_true",
            help="lightweight whenever possible: cloud-storage tasks (alone or in a project) "
            "with their manifest instead of their media, the others in full",
        )
        export.add_argument(
            "--report", type=Path, metavar="FILE", help="write a JSON report of the run to FILE"
        )
        where = export.add_mutually_exclusive_group()
        where.add_argument("--output", type=Path, default=Path.cwd(), help="directory")
        where.add_argument(
            "--to-cloud-storage",
            type=int,
            metavar="ID",
            dest="storage_id",
            help="upload each archive to this cloud storage (by id) instead of --output",
        )
        export.add_argument(
            "--prefix",
            help="with --to-cloud-storage: where in the bucket (default: the storage's prefix)",
        )
        verify = actions.add_parser(
            "verify", help="Check backup archives as a restore would, without restoring them."
        )
        verify.add_argument(
            "archives", nargs="+", type=Path, metavar="ARCHIVE", help="backup ZIP files to check"
        )
        verify.add_argument(
            "--report", type=Path, metavar="FILE", help="write a JSON report of the checks to FILE"
        )
        restore = actions.add_parser("import", help="Restore backups (task or project ZIPs).")
        restore.add_argument("files", nargs="+", type=Path, help="backup ZIP files to restore")
        restore.add_argument("--owner", help="username of the new objects' owner (default: "
                             "the first superuser)")  # fmt: skip
        for load in SUBCOMMANDS.values():
            load().add_arguments(actions)

    def handle(self, *args, action: str, **options) -> None:
        if action in SUBCOMMANDS:
            status = SUBCOMMANDS[action]().handle(self, **options)
            if status:
                sys.exit(status)
            return
        started = timezone.now()
        if action == "verify":
            ok = self._verify(**options)
            if options.get("report") is not None:
                self._write_report(options["report"], self._verify_report(started))
            if not ok:
                sys.exit(1)
            return
        rows = self._export(**options) if action == "export" else self._import(**options)
        self._summary(rows)
        if action == "export" and options.get("report") is not None:
            self._write_report(options["report"], self._export_report(started))
        if not all(row.ok for row in rows):
            sys.exit(1)

    # --- export --------------------------------------------------------------------------------

    def _export(
        self, *, task, project, all, all_tasks, lightweight, output, storage_id, prefix, **_
    ) -> list[Row]:
        destination: Destination
        if storage_id is not None:
            if not CloudStorage.objects.filter(pk=storage_id).exists():
                raise CommandError(f"Cloud storage #{storage_id} does not exist.")
            destination = CloudStorageDestination(storage_id, prefix)
        else:
            if prefix is not None:
                raise CommandError("--prefix goes with --to-cloud-storage.")
            destination = LocalDirectory(output.resolve())
        targets = self._targets(task=task, project=project, all=all, all_tasks=all_tasks)
        mode = "auto" if lightweight else "full"
        self._records = []
        rows = []
        for kind, obj in targets:
            bar = ProgressBar(f"{kind} #{obj.id} {obj.name}")
            try:
                record = backup_archive_write(
                    kind=kind, id=obj.id, mode=mode, destination=destination, progress=bar
                )
            finally:
                bar.close()
            self._records.append(record)
            rows.append(
                Row(
                    f"{kind} #{obj.id} {obj.name}",
                    record.mode,
                    ok=record.ok,
                    result=record.location if record.ok else (record.error or ""),
                    size=record.bytes if record.ok else None,
                    seconds=record.duration,
                )
            )
        return rows

    def _targets(self, *, task, project, all, all_tasks) -> list[tuple[str, Task | Project]]:
        """What to back up, in order, each once: the ids given (which must exist), or with
        ``--all`` every project and every task with data outside a project, or with
        ``--all-tasks`` every task with data (in a project or not)."""
        if project:
            return [("project", self._get(Project, pk)) for pk in dict.fromkeys(project)]
        if task:
            return [("task", self._get(Task, pk)) for pk in dict.fromkeys(task)]
        tasks = Task.objects.filter(data__isnull=False).order_by("id")
        if all_tasks:
            return [("task", t) for t in tasks]
        projects = [("project", p) for p in Project.objects.order_by("id")]
        return [*projects, *(("task", t) for t in tasks.filter(project__isnull=True))]

    def _export_report(self, started: datetime) -> dict:
        records = getattr(self, "_records", [])
        return {
            "started": started.isoformat(),
            "finished": timezone.now().isoformat(),
            "succeeded": sum(r.ok for r in records),
            "failed": sum(not r.ok for r in records),
            "items": [r.as_dict() for r in records],
        }

    @staticmethod
    def _write_report(path: Path, report: dict) -> None:
        """``report`` as JSON at ``path``, replaced as a whole (a temporary file renamed)."""
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            partial.write_text(json.dumps(report, indent=2) + "\n")
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(f"Cannot write the report {path}: {exc.strerror}.") from None

    # --- verify --------------------------------------------------------------------------------

    def _verify(self, *, archives: list[Path], **_) -> bool:
        self._results = [backup_archive_verify(path) for path in archives]
        header = ("", "archive", "kind", "mode", "size", "checks")
        table = [
            (
                "ok" if result.ok else "FAILED",
                result.archive,
                result.kind or "",
                result.mode or "",
                _size(result.bytes),
                " ".join(f"{c.name}:{'ok' if c.ok else 'FAILED'}" for c in result.checks),
            )
            for result in self._results
        ]
        self._table(header, table)
        for result in self._results:
            for problem in result.problems:
                self.stdout.write(f"{result.archive}: {problem}")
        failed = sum(not result.ok for result in self._results)
        self.stdout.write(f"{len(self._results) - failed} verified, {failed} failed")
        return failed == 0

    def _verify_report(self, started: datetime) -> dict:
        results = getattr(self, "_results", [])
        return {
            "started": started.isoformat(),
            "finished": timezone.now().isoformat(),
            "verified": sum(r.ok for r in results),
            "failed": sum(not r.ok for r in results),
            "archives": [r.as_dict() for r in results],
        }

    @staticmethod
    def _get(model, pk: int):
        obj = model.objects.filter(pk=pk).first()
        if obj is None:
            raise CommandError(f"{model.__name__} #{pk} does not exist.")
        return obj

    # --- import --------------------------------------------------------------------------------

    def _import(self, *, files: list[Path], owner: str | None, **_) -> list[Row]:
        users = get_user_model().objects
        user = (
            users.filter(username=owner).first()
            if owner
            else users.filter(is_superuser=True).order_by("id").first()
        )
        if user is None:
            raise CommandError(
                f"No user named '{owner}'." if owner else "No superuser exists: pass --owner."
            )
        rows = []
        for path in files:
            is_project = _is_project_archive(path)
            row = Row(str(path), "project" if is_project else "task")
            restore = backup_restore_project if is_project else backup_restore_task
            started = time.monotonic()
            bar = ProgressBar(path.name)
            try:
                if not path.is_file():
                    raise errors.BadRequest("The file does not exist.")
                outcome = restore(owner=user, archive_path=path, progress=bar)
                row.ok, row.result = True, f"#{outcome.id}: {outcome.message}"
                row.size = path.stat().st_size
            except errors.CvatLiteError as exc:
                row.result = exc.message
            finally:
                bar.close()
                row.seconds = time.monotonic() - started
            rows.append(row)
        return rows

    # --- output --------------------------------------------------------------------------------

    def _summary(self, rows: list[Row]) -> None:
        header = ("", "item", "mode", "size", "time", "result")
        table = [
            (
                "ok" if row.ok else "FAILED",
                row.item,
                row.mode,
                _size(row.size),
                f"{row.seconds:.1f}s",
                row.result,
            )
            for row in rows
        ]
        self._table(header, table)
        failed = sum(not row.ok for row in rows)
        self.stdout.write(f"{len(rows) - failed} succeeded, {failed} failed")

    def _table(self, header: tuple[str, ...], table: Sequence[tuple[str, ...]]) -> None:
        widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header) - 1)]
        for line in [header, *table]:
            cells = [str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)]
            self.stdout.write("  ".join([*cells, line[-1]]).rstrip())


def _is_project_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return PROJECT_JSON in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False  # the restore refuses it with the proper message


def _size(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return ""
