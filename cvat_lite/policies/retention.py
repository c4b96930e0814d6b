"""Which archives a policy keeps: restic's ``forget --keep-last/-daily/-weekly/-monthly``.

Pure: no ORM, no I/O. Applied to the archives of one item (one task or project: restic's
``--group-by``), it answers the same as restic's ``ApplyPolicy`` for those four options:

- archives are walked newest first (ties: the later id first);
- each rule with a count left keeps an archive whose bucket (keep-last: every archive; daily:
  its date; weekly: its ISO year and week; monthly: its year and month, all on the wall clock
  of the policy's time zone) differs from the bucket of the last archive that rule kept, and
  uses up one of its count;
- the oldest archive is also kept by every rule that still has a count left (restic keeps it
  "to maximise the history length");
- an archive kept by no rule is removed; with every count 0 nothing is removed (restic refuses
  an empty policy rather than forgetting everything).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Retention:
    last: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    @property
    def empty(self) -> bool:
        return not (self.last or self.daily or self.weekly or self.monthly)


@dataclass(frozen=True)
class Snapshot:
    id: int
    created: datetime  # timezone-aware


S = TypeVar("S", bound=Snapshot)


def _daily(when: datetime, nr: int) -> int:
    return when.year * 10000 + when.month * 100 + when.day


def _weekly(when: datetime, nr: int) -> int:
    year, week, _ = when.isocalendar()
    return year * 100 + week


def _monthly(when: datetime, nr: int) -> int:
    return when.year * 100 + when.month


def _always(when: datetime, nr: int) -> int:
    return nr


def retention_apply(
    snapshots: Sequence[S], retention: Retention, *, tz: str = "UTC"
) -> tuple[list[S], list[S]]:
    """``(keep, remove)``, each newest first (see the module docstring)."""
    ordered = sorted(snapshots, key=lambda s: (s.created, s.id), reverse=True)
    if retention.empty or not ordered:
        return ordered, []
    zone = ZoneInfo(tz)
    rules: list[tuple[int, Callable[[datetime, int], int]]] = [
        (retention.last, _always),
        (retention.daily, _daily),
        (retention.weekly, _weekly),
        (retention.monthly, _monthly),
    ]
    counts = [count for count, _ in rules]
    lasts: list[int | None] = [None] * len(rules)
    keep: list[S] = []
    remove: list[S] = []
    oldest = len(ordered) - 1
    for nr, snapshot in enumerate(ordered):
        local = snapshot.created.astimezone(zone)
        kept = False
        for i, (_, bucket_of) in enumerate(rules):
            if counts[i] <= 0:
                continue
            bucket = bucket_of(local, nr)
            if bucket != lasts[i] or nr == oldest:
                kept = True
                lasts[i] = bucket
                counts[i] -= 1
        (keep if kept else remove).append(snapshot)
    return keep, remove
