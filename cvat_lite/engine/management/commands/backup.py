"""``cvat-lite backup``: scripted backups for administrators (cron jobs).

    cvat-lite backup export (--task ID | --project ID | --all) [--lightweight]
                            [--output DIR | --to-cloud-storage ID]
    cvat-lite backup import FILE... [--owner USERNAME]
    cvat-lite backup policies [--check] [add|edit|delete|run ...]   (cvat_lite.policies.cli)

Both run in this process through the same services as the API's export and import requests
(no worker needed), show a progress bar per item on stderr, print a summary table, and exit
with status 1 when any item failed. ``--lightweight`` means "lightweight whenever possible":
tasks whose media are in a cloud storage are written lightweight, others in full (as for a
project backup through the API).
"""

from __future__ import annotations

import shutil
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cvat_lite import errors
from cvat_lite.backup.export import task_lightweight_in_project
from cvat_lite.backup.export_requests import ExportDestination, backup_export_run
from cvat_lite.backup.format import PROJECT_JSON
from cvat_lite.backup.restore import backup_restore_project, backup_restore_task
from cvat_lite.engine.models import CloudStorage, Project, Task
from cvat_lite.policies import cli as policies_cli

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
        which.add_argument("--all", action="store_true", help="every task that has data")
        export.add_argument(
            "--lightweight",
            action="store_true",
            help="write cloud-storage tasks with their manifest instead of their media",
        )
        where = export.add_mutually_exclusive_group()
        where.add_argument("--output", type=Path, default=Path.cwd(), help="directory")
        where.add_argument("--to-cloud-storage", type=int, metavar="ID", dest="storage_id")
        restore = actions.add_parser("import", help="Restore backups (task or project ZIPs).")
        restore.add_argument("files", nargs="+", type=Path)
        restore.add_argument("--owner", help="username of the new objects' owner (default: "
                             "the first superuser)")  # fmt: skip
        policies_cli.add_arguments(actions)

    def handle(self, *args, action: str, **options) -> None:
        if action == "policies":
            status = policies_cli.handle(self, **options)
            if status:
                sys.exit(status)
            return
        rows = self._export(**options) if action == "export" else self._import(**options)
        self._summary(rows)
        if not all(row.ok for row in rows):
            sys.exit(1)

    # --- export --------------------------------------------------------------------------------

    def _export(self, *, task, project, all, lightweight, output, storage_id, **_) -> list[Row]:
        if storage_id is not None:
            storage = CloudStorage.objects.filter(pk=storage_id).first()
            if storage is None:
                raise CommandError(f"Cloud storage #{storage_id} does not exist.")
            destination = ExportDestination("cloud_storage", storage_id, None)
            user_id = storage.owner_id
        else:
            output.mkdir(parents=True, exist_ok=True)
            destination, user_id = ExportDestination("local", None, None), None
        targets: list[Task | Project]
        if project:
            targets = [self._get(Project, pk) for pk in project]
        elif task:
            targets = [self._get(Task, pk) for pk in task]
        else:
            targets = list(Task.objects.filter(data__isnull=False).order_by("id"))
        rows = []
        for obj in targets:
            if isinstance(obj, Project):
                kind, light = "project", lightweight
            else:
                kind, light = "task", task_lightweight_in_project(obj, lightweight)
            row = Row(f"{kind} #{obj.id} {obj.name}", "lightweight" if light else "full")
            started = time.monotonic()
            bar = ProgressBar(row.item)
            try:
                outcome = backup_export_run(
                    target=kind,
                    target_id=obj.id,
                    user_id=user_id if user_id is not None else obj.owner_id,
                    lightweight=light,
                    destination=destination,
                    progress=bar,
                )
                if outcome.result_file:
                    path = output / outcome.result_filename
                    shutil.move(outcome.result_file, path)
                    row.result, row.size = str(path), path.stat().st_size
                else:
                    row.result = outcome.message
                row.ok = True
            except errors.CvatLiteError as exc:
                row.result = exc.message
            finally:
                bar.close()
                row.seconds = time.monotonic() - started
            rows.append(row)
        return rows

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
        widths = [max(len(str(r[i])) for r in [header, *table]) for i in range(len(header) - 1)]
        for line in [header, *table]:
            cells = [str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)]
            self.stdout.write("  ".join([*cells, line[-1]]).rstrip())
        failed = sum(not row.ok for row in rows)
        self.stdout.write(f"{len(rows) - failed} succeeded, {failed} failed")


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
