"""``backup_archive_verify``: the restore's checks, without restoring."""

from __future__ import annotations

import pytest

from cvat_lite.backup.verify import backup_archive_verify
from cvat_lite.engine.models import Task
from tests.backup.archives import checksum_lines, flip_byte_in_member, task_backup
from tests.backup.restore_helpers import INTEROP, project_backup, snapshot


def _checks(result) -> dict[str, bool]:
    return {check.name: check.ok for check in result.checks}


def test_a_good_archive_passes_every_check(tmp_path):
    path = task_backup(3).write(tmp_path / "good.zip")
    result = backup_archive_verify(path)
    assert result.ok, result.problems
    assert _checks(result) == {"structure": True, "content": True, "documents": True}
    assert (result.kind, result.mode, result.bytes) == ("task", "full", path.stat().st_size)
    assert result.checks[1].detail == "6 members, every one matching checksums.sha256"
    assert result.checks[2].detail == "a full task backup: 3 images, 2 jobs"
    assert result.as_dict()["ok"] is True and "plans" not in result.as_dict()


def test_a_project_archive_passes(tmp_path):
    path = project_backup((2, False), (3, True)).write(tmp_path / "project.zip")
    result = backup_archive_verify(path)
    assert result.ok, result.problems
    assert (result.kind, result.mode) == ("project", "mixed")
    assert result.checks[2].detail == "a project backup with 2 task(s) (1 lightweight)"


CVAT_ARCHIVES = [
    INTEROP / "task_30_backup_pre_consensus_replica_removal.zip",
    *sorted((INTEROP / "cvat-2.73").glob("*.zip")),
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", CVAT_ARCHIVES, ids=lambda p: p.name)
def test_verify_agrees_with_restore_on_archives_written_by_cvat(path, user):
    """Real CVAT archives (no checksums.sha256): verify says what a restore of them says,
    because it runs the restore's own checks."""
    from cvat_lite.backup.restore import backup_restore_project, backup_restore_task
    from cvat_lite.errors import ArchiveError

    assert path.is_file(), path
    result = backup_archive_verify(path)
    assert result.checks[1].detail.endswith("(no checksums.sha256: a CVAT archive; CRCs only)")
    restore = backup_restore_project if result.kind == "project" else backup_restore_task
    try:
        restore(owner=user, archive_path=path)
    except ArchiveError as exc:
        assert not result.ok and result.problems == [f"documents: {exc.message}"]
    else:
        assert result.ok, result.problems


def test_the_cvat_test_suites_archive_passes():
    result = backup_archive_verify(CVAT_ARCHIVES[0])
    assert result.ok, result.problems
    assert (result.kind, result.mode) == ("task", "full")


def test_a_flipped_byte_is_caught(tmp_path):
    path = task_backup(3).write(tmp_path / "flipped.zip")
    flip_byte_in_member(path, "data/img1.png", at=20)  # stored: the byte itself changes
    result = backup_archive_verify(path)
    assert not result.ok
    assert _checks(result) == {"structure": True, "content": False, "documents": True}
    assert result.problems == [
        "content: The archive member 'data/img1.png' is corrupt."  # its CRC, before its sha256
    ]


def test_a_flipped_byte_in_a_document_fails_both_checks(tmp_path):
    path = task_backup(3).write(tmp_path / "flipped.zip")
    flip_byte_in_member(path, "annotations.json", at=4)  # deflated: a CRC/inflate error
    result = backup_archive_verify(path)
    assert _checks(result) == {"structure": True, "content": False, "documents": False}
    assert all("annotations.json" in problem for problem in result.problems)


def test_a_missing_member_is_caught(tmp_path):
    backup = task_backup(3)
    stale = checksum_lines(backup.members)  # still lists data/img2.png
    del backup.members["data/img2.png"]
    listed = backup.write_raw(tmp_path / "listed.zip", checksums=stale)
    result = backup_archive_verify(listed)
    assert _checks(result) == {"structure": False}
    assert result.problems == [
        "structure: checksums.sha256 lists 'data/img2.png', which is not in the archive."
    ]

    consistent = backup.write_raw(tmp_path / "consistent.zip", checksums="auto")
    result = backup_archive_verify(consistent)
    assert _checks(result) == {"structure": True, "content": True, "documents": False}
    assert "data/img2.png" in result.problems[0]


def test_a_bad_json_member_is_caught(tmp_path):
    backup = task_backup(3)
    backup.members["task.json"] = b'{"name": "x", '
    path = backup.write_raw(tmp_path / "bad.zip", checksums="auto")  # checksums agree
    result = backup_archive_verify(path)
    assert _checks(result) == {"structure": True, "content": True, "documents": False}
    assert result.problems[0].startswith("documents: task.json")

    backup = task_backup(3).edit_json("annotations.json", lambda v: v[0].update(version="x"))
    path = backup.write_raw(tmp_path / "bad2.zip", checksums="auto")
    assert _checks(backup_archive_verify(path))["documents"] is False


def test_not_a_zip_or_no_file(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert backup_archive_verify(junk).problems == ["structure: The file is not a ZIP archive."]
    assert backup_archive_verify(tmp_path / "nothing.zip").problems == [
        "structure: The file does not exist."
    ]


@pytest.mark.django_db
def test_verify_writes_nothing(tmp_path, user):
    before = snapshot()
    tasks = Task.objects.count()
    for path in CVAT_ARCHIVES:
        backup_archive_verify(path)
    assert snapshot() == before and Task.objects.count() == tasks


def test_extra_checks_run_on_the_open_archive_after_the_documents(tmp_path):
    """The hook a storage check (--against-storage) plugs into."""
    from cvat_lite.backup.verify import Check
    from cvat_lite.errors import CloudStorageNotFound

    def manifest_count(reader, plans):
        lines = reader.read_bytes(plans[0].manifest).count(b"\n")
        return Check("manifest", lines == 5, f"{lines} lines")  # 2 header lines + 3 images

    def storage_gone(reader, plans):
        raise CloudStorageNotFound()

    path = task_backup(3, lightweight=True).write(tmp_path / "light.zip")
    result = backup_archive_verify(path, extra=[manifest_count, storage_gone])
    assert [(c.name, c.ok, c.detail) for c in result.checks[3:]] == [
        ("manifest", True, "5 lines"),
        ("storage_gone", False, "The cloud storage resource was not found."),
    ]
    assert not result.ok

    backup = task_backup(3)
    backup.members["task.json"] = b"{"
    path = backup.write_raw(tmp_path / "bad.zip", checksums="auto")
    assert len(backup_archive_verify(path, extra=[manifest_count]).checks) == 3  # not run
