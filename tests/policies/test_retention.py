"""Retention = restic's ``forget --keep-last/--keep-daily/--keep-weekly/--keep-monthly``.

Each case lists archive times and the rules; ``kept`` was worked out by hand following restic's
``ApplyPolicy`` (newest first; a rule with a count left keeps an archive whose bucket differs
from the last one it kept; the oldest archive is kept by any rule with a count left).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cvat_lite.policies.retention import Retention, Snapshot, retention_apply


def _t(text: str) -> datetime:
    """'2026-01-02 10:00' (UTC)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def _days(start: str, end: str) -> list[str]:
    day, last = _t(start + " 12:00"), _t(end + " 12:00")
    out = []
    while day <= last:
        out.append(day.strftime("%Y-%m-%d %H:%M"))
        day += timedelta(days=1)
    return out


CASES = [
    pytest.param(
        ["2026-01-01 12:00", "2026-01-02 12:00", "2026-01-03 12:00", "2026-01-04 12:00",
         "2026-01-05 12:00"],
        Retention(last=3),
        {"2026-01-05 12:00", "2026-01-04 12:00", "2026-01-03 12:00"},
        id="last-3",
    ),
    pytest.param(
        ["2026-01-01 10:00", "2026-01-01 20:00", "2026-01-02 09:00", "2026-01-02 18:00",
         "2026-01-03 08:00"],
        Retention(daily=2),
        {"2026-01-03 08:00", "2026-01-02 18:00"},
        id="daily-2-keeps-the-newest-of-each-day",
    ),
    pytest.param(
        ["2026-01-01 10:00", "2026-01-01 20:00", "2026-01-02 09:00"],
        Retention(daily=5),
        {"2026-01-02 09:00", "2026-01-01 20:00", "2026-01-01 10:00"},
        id="daily-with-counts-left-keeps-the-oldest-too",
    ),
    pytest.param(
        ["2026-01-01 10:00", "2026-01-01 20:00", "2026-01-02 09:00", "2026-01-02 18:00"],
        Retention(last=1, daily=2),
        {"2026-01-02 18:00", "2026-01-01 20:00"},
        id="last-1-daily-2",
    ),
    pytest.param(
        # 2025-12-29 (Mon) is in ISO week 1 of 2026, like 2026-01-04 (Sun); 2025-12-28 is in
        # week 52 of 2025.
        ["2025-12-28 12:00", "2025-12-29 12:00", "2026-01-04 12:00", "2026-01-05 12:00",
         "2026-01-11 12:00", "2026-01-12 12:00"],
        Retention(weekly=4),
        {"2026-01-12 12:00", "2026-01-11 12:00", "2026-01-04 12:00", "2025-12-28 12:00"},
        id="weekly-4-iso-weeks-across-the-year",
    ),
    pytest.param(
        ["2025-12-28 12:00", "2025-12-29 12:00", "2026-01-04 12:00", "2026-01-05 12:00",
         "2026-01-11 12:00", "2026-01-12 12:00"],
        Retention(weekly=3),
        {"2026-01-12 12:00", "2026-01-11 12:00", "2026-01-04 12:00"},
        id="weekly-3",
    ),
    pytest.param(
        ["2026-01-05 12:00", "2026-01-25 12:00", "2026-02-03 12:00", "2026-02-27 12:00",
         "2026-03-01 12:00"],
        Retention(monthly=2),
        {"2026-03-01 12:00", "2026-02-27 12:00"},
        id="monthly-2",
    ),
    pytest.param(
        _days("2026-01-01", "2026-03-31"),
        Retention(monthly=6),
        {"2026-03-31 12:00", "2026-02-28 12:00", "2026-01-31 12:00", "2026-01-01 12:00"},
        id="monthly-6-on-three-months-keeps-the-first-archive",
    ),
    pytest.param(
        # 2026-02-09 is a Monday: Feb 9-10 are ISO week 7, Feb 8 week 6.
        _days("2026-01-01", "2026-02-10"),
        Retention(last=2, daily=3, weekly=2, monthly=2),
        {"2026-02-10 12:00", "2026-02-09 12:00", "2026-02-08 12:00", "2026-01-31 12:00"},
        id="all-four-rules",
    ),
    pytest.param(
        ["2026-01-01 12:00", "2026-01-02 12:00"],
        Retention(),
        {"2026-01-01 12:00", "2026-01-02 12:00"},
        id="no-rule-keeps-everything",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("times", "retention", "kept"), CASES)
def test_retention_matches_restic(times, retention, kept):
    snapshots = [Snapshot(i, _t(text)) for i, text in enumerate(times, start=1)]
    keep, remove = retention_apply(snapshots, retention)
    assert {s.created.strftime("%Y-%m-%d %H:%M") for s in keep} == kept
    assert {s.id for s in keep} | {s.id for s in remove} == {s.id for s in snapshots}
    assert not {s.id for s in keep} & {s.id for s in remove}


def test_days_are_counted_on_the_policy_time_zone_wall_clock():
    # 03:00Z on Jan 2 is still Jan 1 (22:00) in New York.
    snapshots = [
        Snapshot(1, _t("2026-01-01 12:00")),
        Snapshot(2, _t("2026-01-02 03:00")),
        Snapshot(3, _t("2026-01-02 15:00")),
    ]
    keep_ny, _ = retention_apply(snapshots, Retention(daily=2), tz="America/New_York")
    keep_utc, _ = retention_apply(snapshots, Retention(daily=2), tz="UTC")
    assert [s.id for s in keep_ny] == [3, 2]
    assert [s.id for s in keep_utc] == [3, 1]


def test_equal_times_the_later_id_is_newer():
    when = _t("2026-01-01 12:00")
    keep, remove = retention_apply([Snapshot(1, when), Snapshot(2, when)], Retention(last=1))
    assert [s.id for s in keep] == [2]
    assert [s.id for s in remove] == [1]


def test_nothing_to_apply():
    assert retention_apply([], Retention(last=1)) == ([], [])
