"""Names of backup archives written by the CLI, the API's cloud uploads and backup policies.

    <kind>-<id>_<safe name>_<full|lightweight>_<YYYYMMDDTHHMMSSZ>[-<n>].zip
    task-12_street_lightweight_20261203T101500Z.zip
    project-3_Cars_2024_full_20261203T101500Z-2.zip

The name says what the archive holds (kind, id, the object's name, mode) and when it was
written (UTC, to the second). Two objects never share a name (the id), and two archives of one
object written in the same second get a counter (``-2``, ``-3``, ...): the destination picks it
(``destinations``), because only the destination knows what exists. The safe form of the name
is ASCII letters, digits, ``-`` and ``_`` (accents are dropped, anything else becomes ``_``),
at most ``MAX_SAFE_NAME`` characters, never empty; it is for people only: ``parse_archive_name``
takes the kind, id, mode, time and counter from the fixed parts around it.

Pure code: no ORM, no I/O.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from cvat_lite.engine.choices import values_of

KINDS = ("task", "project")


class ArchiveMode(enum.StrEnum):
    """What an archive holds: its media, or only the manifest of a cloud task's media."""

    FULL = "full"
    LIGHTWEIGHT = "lightweight"

    @classmethod
    def of(cls, lightweight: bool) -> ArchiveMode:
        return cls.LIGHTWEIGHT if lightweight else cls.FULL


MODES = values_of(ArchiveMode)
MAX_SAFE_NAME = 60
MAX_COUNTER = 999
SUFFIX = ".zip"
TIME_FORMAT = "%Y%m%dT%H%M%SZ"

_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")
_NAME = re.compile(
    r"(?P<kind>task|project)-(?P<id>[1-9][0-9]{0,18})"
    r"_(?P<name>[A-Za-z0-9_-]+)"
    r"_(?P<mode>full|lightweight)"
    r"_(?P<time>[0-9]{8}T[0-9]{6}Z)"
    r"(?:-(?P<counter>[2-9]|[1-9][0-9]{1,2}))?\.zip"
)


def safe_name(name: str, *, fallback: str = "backup") -> str:
    """``name`` as ASCII letters, digits, ``-`` and ``_``; at most ``MAX_SAFE_NAME`` chars."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    safe = _UNSAFE.sub("_", ascii_name)[:MAX_SAFE_NAME].strip("_-")
    return safe or fallback


@dataclass(frozen=True)
class ArchiveName:
    kind: str  # "task" | "project"
    id: int
    name: str  # the safe form
    mode: str  # "full" | "lightweight"
    written: datetime  # UTC, whole seconds
    counter: int = 1  # 1: no suffix; 2, 3, ...: "-2", "-3", ...

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.mode not in MODES or self.id < 1:
            raise ValueError(f"not an archive name: {self!r}")
        if not 1 <= self.counter <= MAX_COUNTER:
            raise ValueError(f"archive name counter out of range: {self.counter}")

    def __str__(self) -> str:
        suffix = f"-{self.counter}" if self.counter > 1 else ""
        stamp = self.written.astimezone(UTC).strftime(TIME_FORMAT)
        return f"{self.kind}-{self.id}_{self.name}_{self.mode}_{stamp}{suffix}{SUFFIX}"

    def with_counter(self, counter: int) -> ArchiveName:
        return ArchiveName(self.kind, self.id, self.name, self.mode, self.written, counter)


def archive_name(*, kind: str, id: int, name: str, lightweight: bool, now: datetime) -> ArchiveName:
    """The name of a new archive of ``kind`` ``id`` called ``name``, written at ``now``."""
    return ArchiveName(
        kind=kind,
        id=id,
        name=safe_name(name, fallback=kind),
        mode=ArchiveMode.of(lightweight).value,
        written=now.astimezone(UTC).replace(microsecond=0),
    )


def parse_archive_name(filename: str) -> ArchiveName | None:
    """The parts of a name written by ``ArchiveName`` (the last segment of a path or key), or
    None for any other name (e.g. CVAT's ``task_<name>_backup_<date>.zip``)."""
    match = _NAME.fullmatch(filename.rsplit("/", 1)[-1])
    if match is None or len(match["name"]) > MAX_SAFE_NAME:
        return None
    try:
        written = datetime.strptime(match["time"], TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:  # e.g. month 13
        return None
    return ArchiveName(
        kind=match["kind"],
        id=int(match["id"]),
        name=match["name"],
        mode=match["mode"],
        written=written,
        counter=int(match["counter"] or 1),
    )
