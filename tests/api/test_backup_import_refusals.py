"""Every bad archive of SPEC 9, imported through the API (multipart): the request fails with
the exact message, and nothing is left behind: no row, no file under DATA_DIR (the uploaded
file included), no cache entry."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backup.archives import (
    Backup,
    MiB,
    flip_byte_in_member,
    symlink_member,
    task_backup,
    write_zip,
)
from tests.backup.restore_helpers import snapshot

from .backup_import_helpers import post_archive, run_import

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], Path]  # writes the archive under the given folder
    message: str
    settings: dict | None = None


def _members_plus(*extra) -> Callable[[Path], Path]:
    """A valid full backup's members, then ``extra`` (name, bytes) pairs, written raw."""

    def build(folder: Path) -> Path:
        return write_zip(folder / "b.zip", [*task_backup(3).members.items(), *extra])

    return build


def _edited(change: Callable[[Backup], object], *, lightweight: bool = False, **raw):
    def build(folder: Path) -> Path:
        backup = task_backup(3, lightweight=lightweight)
        change(backup)
        return backup.write_raw(folder / "b.zip", **raw) if raw else backup.write(folder / "b.zip")

    return build


def _json_edit(name: str, change: Callable[[dict], None]) -> Callable[[Backup], object]:
    return lambda backup: backup.edit_json(name, change)


def _manifest_line(line: bytes) -> Callable[[Backup], object]:
    def change(backup: Backup) -> None:
        lines = backup.members["data/manifest.jsonl"].splitlines(keepends=True)
        lines[2] = line + b"\n"
        backup.members["data/manifest.jsonl"] = b"".join(lines)

    return change


def _truncated(folder: Path) -> Path:
    whole = task_backup(3).write(folder / "whole.zip").read_bytes()
    path = folder / "b.zip"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _not_a_zip(folder: Path) -> Path:
    path = folder / "b.zip"
    path.write_bytes(b"PK, but not a ZIP archive at all")
    return path


def _corrupt_member(folder: Path) -> Path:
    path = task_backup(3).write_raw(folder / "b.zip", compression=zipfile.ZIP_STORED)
    return flip_byte_in_member(path, "data/img1.png", at=20)


def _zip_bomb(folder: Path) -> Path:
    backup = task_backup(3)
    backup.members["data/zeros.bin"] = bytes(5 * MiB)
    return backup.write_raw(folder / "b.zip")


def _first_member_over(limit: int) -> str:
    """The member of a 3-image full backup the reader reports first for ``limit``."""
    for name, content in task_backup(3).members.items():
        if len(content) > limit:
            return name
    raise AssertionError("no member over the limit")


def _drop(name: str) -> Callable[[Backup], object]:
    return lambda backup: backup.members.pop(name)


def _set(path: str, value) -> Callable[[dict], None]:
    def change(doc) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[int(key)] if key.isdigit() else doc[key]
        doc[int(last) if last.isdigit() else last] = value

    return change


BAD_ENTRY = {"name": "../evil", "extension": ".png", "width": 4, "height": 3}
MEMBER_LIMIT = 600

CASES = {
    "not a zip": Case(_not_a_zip, "The file is not a ZIP archive."),
    "truncated": Case(_truncated, "The ZIP archive is truncated or corrupt."),
    "corrupt member": Case(_corrupt_member, "The archive member 'data/img1.png' is corrupt."),
    "dot-dot": Case(
        _members_plus(("data/../../x", b"x")),
        "The archive member 'data/../../x' contains a '..' segment.",
    ),
    "absolute path": Case(
        _members_plus(("/etc/cron.d/x", b"x")), "The archive member '/etc/cron.d/x' is absolute."
    ),
    "drive letter": Case(
        _members_plus(("C:/x.png", b"x")),
        "The archive member 'C:/x.png' starts with a drive letter.",
    ),
    "backslash": Case(
        _members_plus(("data\\x.png", b"x")),
        "The archive member 'data\\\\x.png' contains a backslash.",
    ),
    "symlink": Case(
        _members_plus(symlink_member("data/link.png", "/etc/passwd")),
        "The archive member 'data/link.png' is a symbolic link.",
    ),
    "duplicate member": Case(
        _members_plus(("task.json", b"{}")),
        "The archive member 'task.json' appears more than once.",
    ),
    "member over the limit": Case(
        _edited(lambda backup: None),
        f"The archive member {_first_member_over(MEMBER_LIMIT)!r} is larger than "
        f"{MEMBER_LIMIT} bytes.",
        {"BACKUP_MAX_MEMBER_SIZE": MEMBER_LIMIT},
    ),
    "total over the limit": Case(
        _edited(lambda backup: None),
        "The archive's content is larger than 1000 bytes.",
        {"BACKUP_MAX_TOTAL_SIZE": 1000},
    ),
    "zip bomb": Case(
        _zip_bomb,
        "The archive member 'data/zeros.bin' is compressed more than 200:1 (a ZIP bomb?).",
    ),
    "missing task.json": Case(_edited(_drop("task.json")), "The archive has no task.json."),
    "unknown version": Case(
        _edited(_json_edit("task.json", _set("version", "2.0"))),
        "Unsupported backup version '2.0'.",
    ),
    "malformed json": Case(
        _edited(lambda backup: backup.members.update({"task.json": b'{"name": '})),
        "task.json is not valid JSON.",
    ),
    "wrong type": Case(
        _edited(_json_edit("task.json", _set("data.chunk_size", "36"))),
        "task.json: 'data.chunk_size' must be an integer.",
    ),
    "undefined label": Case(
        _edited(_json_edit("annotations.json", _set("0.tags.0.label", "horse"))),
        "annotations.json: label 'horse' is not defined.",
    ),
    "job frames out of range": Case(
        _edited(_json_edit("task.json", _set("jobs.1.stop_frame", 7))),
        "task.json: 'jobs[1].stop_frame' is outside the task's frames 0..2.",
    ),
    "annotation frames out of range": Case(
        _edited(_json_edit("annotations.json", _set("1.shapes.0.frame", 9))),
        "annotations.json: job 1 has an object on frame 9, outside the task's frames 0..2.",
    ),
    "manifest line that does not parse": Case(
        _edited(_manifest_line(b'{"name": "img0", ')),
        "Manifest line 3: the line is not valid JSON.",
    ),
    "manifest line with a bad path": Case(
        _edited(_manifest_line(json.dumps(BAD_ENTRY).encode())),
        "Manifest line 3: the name '../evil' contains a '..' segment.",
    ),
    "lightweight data/ with media": Case(
        _edited(lambda backup: backup.members.update({"data/img0.png": b"x"}), lightweight=True),
        "A lightweight backup may only contain data/manifest.jsonl; found 'data/img0.png'.",
    ),
    "checksum mismatch": Case(
        _edited(
            lambda backup: None,
            checksums="auto",
            tamper={"annotations.json": b"[]"},
        ),
        "The archive member 'annotations.json' does not match its checksum.",
    ),
    "checksum mismatch in the media": Case(
        _edited(lambda backup: None, checksums="auto", tamper={"data/img2.png": b"evil"}),
        "The archive member 'data/img2.png' does not match its checksum.",
    ),
    "full backup lacking media": Case(
        _edited(_drop("data/img1.png")),
        "The backup says it is full but lacks media: 'data/img1.png'.",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_archive_fails_the_import_and_leaves_nothing(
    api, user, drain, tmp_path, settings, name
):
    case = CASES[name]
    for key, value in (case.settings or {}).items():
        setattr(settings, key, value)
    path = case.build(tmp_path)
    before = snapshot()

    request = run_import(api, path, drain)

    assert request["status"] == "failed"
    assert request["message"] == case.message
    assert request["result_id"] is None
    assert request["operation"]["type"] == "import:backup"
    after = snapshot()
    assert after.rows == before.rows
    assert after.files == before.files
    assert after.cache_keys == before.cache_keys


@pytest.mark.parametrize("content", [b"", b"hello, world", b"\x89PNG\r\n\x1a\n" * 10])
def test_a_file_that_is_not_a_zip_is_refused_before_queueing(api, user, tmp_path, content):
    path = tmp_path / "b.zip"
    path.write_bytes(content)
    before = snapshot()
    response = post_archive(api, path)
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_backup",
        "message": "The file is not a ZIP archive.",
        "extra": {},
    }
    after = snapshot()
    assert (after.rows, after.files) == (before.rows, before.files)


def test_a_project_archive_with_a_bad_task_through_the_api(api, user, drain, tmp_path):
    from tests.backup.restore_helpers import project_backup

    backup = project_backup((2, False), (1, True), (2, False))
    backup.edit_json("task_2/task.json", _set("jobs.0.status", "done"))
    path = backup.write(tmp_path / "p.zip")
    before = snapshot()
    request = run_import(api, path, drain, target="project")
    assert request["status"] == "failed"
    assert request["message"] == (
        "task_2/task.json: 'jobs[0].status' must be one of 'annotation', 'validation', 'completed'."
    )
    after = snapshot()
    assert (after.rows, after.files, after.cache_keys) == (
        before.rows, before.files, before.cache_keys
    )  # fmt: skip
