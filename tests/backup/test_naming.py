"""Archive names: unique, say what they hold, and parse back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cvat_lite.backup.naming import MAX_SAFE_NAME, archive_name, parse_archive_name, safe_name

NOW = datetime(2026, 12, 3, 10, 15, 0, 123456, tzinfo=UTC)


def test_a_name_says_kind_id_name_mode_and_second():
    name = archive_name(kind="task", id=12, name="street", lightweight=True, now=NOW)
    assert str(name) == "task-12_street_lightweight_20261203T101500Z.zip"
    assert str(name.with_counter(2)) == "task-12_street_lightweight_20261203T101500Z-2.zip"
    full = archive_name(kind="project", id=3, name="Cars 2024", lightweight=False, now=NOW)
    assert str(full) == "project-3_Cars_2024_full_20261203T101500Z.zip"


def test_the_time_is_utc_whatever_the_zone_given():
    local = NOW.astimezone(timezone(timedelta(hours=-5)))
    name = archive_name(kind="task", id=1, name="x", lightweight=False, now=local)
    assert str(name).endswith("_20261203T101500Z.zip")


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("Straße / 街道 ünïcode", "Strae"),
        ("../../etc/passwd", "etc_passwd"),
        ("a_full_20261203T101500Z", "a_full_20261203T101500Z"),
        ("", "task"),
        ("日本", "task"),
        ("x" * 500, "x" * MAX_SAFE_NAME),
        ("name.with.dots\n\x00", "name_with_dots"),
    ],
)
def test_safe_names_are_ascii_and_bounded(given, safe):
    assert safe_name(given, fallback="task").startswith(safe)
    result = safe_name(given, fallback="task")
    assert result.isascii() and len(result) <= MAX_SAFE_NAME
    name = archive_name(kind="task", id=7, name=given, lightweight=False, now=NOW)
    parsed = parse_archive_name(str(name))
    assert parsed == name  # whatever the name holds, the fixed parts parse back


def test_parse_round_trips_with_counters_and_keys():
    name = archive_name(kind="project", id=98765, name="a_b-c", lightweight=True, now=NOW)
    for counter in (1, 2, 10, 999):
        text = str(name.with_counter(counter))
        parsed = parse_archive_name(f"backups/nightly/{text}")
        assert parsed is not None
        assert (parsed.kind, parsed.id, parsed.name, parsed.mode) == (
            "project", 98765, "a_b-c", "lightweight",
        )  # fmt: skip
        assert parsed.written == NOW.replace(microsecond=0)
        assert parsed.counter == counter


@pytest.mark.parametrize(
    "other",
    [
        "task_street_backup_2026_12_03_10_15_00.zip",  # CVAT's (and our API download's)
        "task_street_backup-lightweight_2026_12_03_10_15_00.zip",
        "task-12_street_lightweight_20261203T101500Z.zip.part",
        "task-0_street_full_20261203T101500Z.zip",
        "job-1_street_full_20261203T101500Z.zip",
        "task-1_street_fast_20261203T101500Z.zip",
        "task-1_street_full_20261303T101500Z.zip",  # month 13
        "task-1_street_full_20261203T101500Z-1.zip",  # counters start at 2
        "task-1_street_full_20261203T101500Z-1000.zip",
        "task-1__full_20261203T101500Z.zip",
        f"task-1_{'x' * (MAX_SAFE_NAME + 1)}_full_20261203T101500Z.zip",
        ".partial-0123.zip",
    ],
)
def test_other_names_are_not_recognised(other):
    assert parse_archive_name(other) is None
