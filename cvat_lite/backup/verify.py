"""Verifying a backup archive without restoring it: ``backup_archive_verify``.

Three checks, each a ``Check`` in the result, made with the restore's own code and limits:

- ``structure``: the archive opens as the restore opens it (``ArchiveReader`` with the
  restore's limits): the ZIP's central directory, member names, sizes, ratios, overlaps, and a
  ``checksums.sha256`` that lists every member exactly once;
- ``content``: every member is read to its end: its CRC, its declared size and, when the
  archive has ``checksums.sha256`` (ours always do; CVAT's do not), its sha256;
- ``documents``: ``project.json`` and every task's ``task.json``, ``annotations.json`` and
  manifest, read and cross-checked by ``restore_plan.plan_task``, as a restore does before it
  writes anything. Nothing is written to the database or the disk.

When ``structure`` fails the other two cannot run and are not listed. More checks can be
passed in (``extra``): each is called with the open reader and the checked task plans, once the
documents hold, and returns a ``Check`` (e.g. comparing a lightweight archive's manifest with a
cloud storage, as a relink does: ``--against-storage``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from cvat_lite import errors
from cvat_lite.backup.archive import CHECKSUMS_NAME, ArchiveReader
from cvat_lite.backup.format import PROJECT_JSON, read_project_json, task_folders
from cvat_lite.backup.limits import Limits
from cvat_lite.backup.naming import ArchiveMode
from cvat_lite.backup.restore import restore_limits
from cvat_lite.backup.restore_plan import TaskPlan, plan_task

CHUNK = 1024 * 1024
MAX_PROBLEMS = 20  # per check: enough to see what is wrong, not a flood for a broken archive

CHECK_STRUCTURE = "structure"
CHECK_CONTENT = "content"
CHECK_DOCUMENTS = "documents"

MSG_NOT_A_FILE = "The file does not exist."
MSG_MEMBERS_VERIFIED = "{count} members, every one matching checksums.sha256"
MSG_MEMBERS_READ = "{count} members read (no checksums.sha256: a CVAT archive; CRCs only)"
MSG_MORE = "... and {count} more"
MSG_TASK = "a {mode} task backup: {images} images, {jobs} jobs"
MSG_PROJECT = "a project backup with {count} task(s) ({light} lightweight)"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""  # what was checked, or every problem found ("; "-separated)


@dataclass
class VerifyResult:
    archive: str
    kind: str | None = None  # "task" | "project", once the structure is known
    mode: str | None = None  # "full" | "lightweight" | "mixed" (a project's tasks)
    bytes: int | None = None
    sha256: str | None = None  # of the whole file (compare with the export's report)
    checks: list[Check] = field(default_factory=list)
    plans: list[TaskPlan] = field(default_factory=list, repr=False)  # for further checks

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def problems(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        result = asdict(self)
        result.pop("plans")
        result["ok"] = self.ok
        return result


ArchiveCheck = Callable[[ArchiveReader, list[TaskPlan]], Check]


def backup_archive_verify(
    path: str | PathLike[str],
    *,
    limits: Limits | None = None,
    extra: Sequence[ArchiveCheck] = (),
) -> VerifyResult:
    """Check the archive at ``path`` (see the module docstring); never raises for a problem
    of the archive, it is in the result. ``limits`` default to the restore's; ``extra``
    checks run after the documents, when they hold."""
    path = Path(path)
    result = VerifyResult(archive=str(path))
    if not path.is_file():
        result.checks.append(Check(CHECK_STRUCTURE, False, MSG_NOT_A_FILE))
        return result
    result.bytes, result.sha256 = _size_and_sha256(path)
    try:
        reader = ArchiveReader(path, limits=limits or restore_limits())
    except errors.ArchiveError as exc:
        result.checks.append(Check(CHECK_STRUCTURE, False, exc.message))
        return result
    with reader:
        result.kind = "project" if reader.has(PROJECT_JSON) else "task"
        result.checks.append(Check(CHECK_STRUCTURE, True, f"a {result.kind} backup archive"))
        result.checks.append(_content(reader))
        documents = _documents(reader, result)
        result.checks.append(documents)
        if documents.ok:
            for check in extra:
                try:
                    result.checks.append(check(reader, result.plans))
                except errors.CvatLiteError as exc:
                    name = getattr(check, "name", getattr(check, "__name__", "extra"))
                    result.checks.append(Check(name, False, exc.message))
    return result


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _content(reader: ArchiveReader) -> Check:
    problems: list[str] = []
    members = [name for name in reader.names() if name != CHECKSUMS_NAME]
    for name in members:
        try:
            with reader.open(name) as stream:
                while stream.read(CHUNK):
                    pass
        except errors.ArchiveError as exc:
            problems.append(exc.message)
    if problems:
        return Check(CHECK_CONTENT, False, _joined(problems))
    message = MSG_MEMBERS_VERIFIED if reader.has_checksums else MSG_MEMBERS_READ
    return Check(CHECK_CONTENT, True, message.format(count=len(members)))


def _documents(reader: ArchiveReader, result: VerifyResult) -> Check:
    problems: list[str] = []
    if result.kind == "project":
        try:
            labels = read_project_json(reader).labels
        except errors.ArchiveError as exc:
            return Check(CHECK_DOCUMENTS, False, exc.message)
        for prefix in task_folders(reader):
            try:
                before = sum(plan.object_count for plan in result.plans)
                plan = plan_task(reader, prefix, project_labels=labels, objects_before=before)
                result.plans.append(plan)
            except errors.ArchiveError as exc:
                problems.append(exc.message)
    else:
        try:
            result.plans.append(plan_task(reader))
        except errors.ArchiveError as exc:
            problems.append(exc.message)
    modes = {ArchiveMode.of(plan.lightweight).value for plan in result.plans}
    result.mode = modes.pop() if len(modes) == 1 else ("mixed" if modes else None)
    if problems:
        return Check(CHECK_DOCUMENTS, False, _joined(problems))
    if result.kind == "project":
        light = sum(plan.lightweight for plan in result.plans)
        return Check(
            CHECK_DOCUMENTS, True, MSG_PROJECT.format(count=len(result.plans), light=light)
        )
    [plan] = result.plans
    detail = MSG_TASK.format(mode=result.mode, images=plan.image_count, jobs=len(plan.jobs))
    return Check(CHECK_DOCUMENTS, True, detail)


def _joined(problems: list[str]) -> str:
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(MSG_MORE.format(count=len(problems) - MAX_PROBLEMS))
    return "; ".join(shown)
