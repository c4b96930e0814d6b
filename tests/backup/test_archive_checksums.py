import hashlib
import random

import pytest

from cvat_lite.backup.archive import ArchiveReader
from cvat_lite.errors import ArchiveError

from .archives import Backup, checksum_lines, flip_byte_in_member

MEMBERS = {"task.json": b'{"a":1}', "data/a.png": b"png" * 50, "data/b.png": b"PNG" * 50}


def _backup() -> Backup:
    return Backup(members=dict(MEMBERS))


def _refused(path) -> ArchiveError:
    with pytest.raises(ArchiveError) as caught:
        ArchiveReader(path)
    return caught.value


def _drain(reader: ArchiveReader, name: str) -> bytes:
    with reader.open(name) as stream:
        return b"".join(iter(lambda: stream.read(10), b""))


def test_without_checksums_is_accepted(tmp_path):
    with ArchiveReader(_backup().write_raw(tmp_path / "a.zip")) as reader:
        assert not reader.has_checksums
        assert reader.checksums is None
        reader.verify_checksums()


def test_matching_checksums_in_either_sha256sum_mode(tmp_path):
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in MEMBERS.items()}
    lines = (
        f"{digests['task.json'].upper()}  task.json\r\n"
        f"{digests['data/a.png']} *data/a.png\r\n"  # sha256sum --binary
        f"\n{digests['data/b.png']}  data/b.png"
    )
    with ArchiveReader(_backup().write_raw(tmp_path / "a.zip", checksums=lines)) as reader:
        assert reader.checksums == digests
        assert _drain(reader, "data/a.png") == MEMBERS["data/a.png"]
        reader.verify_checksums()


def test_a_tampered_member_fails_when_read(tmp_path):
    path = _backup().write_raw(
        tmp_path / "a.zip", checksums="auto", tamper={"data/b.png": b"evil" * 10}
    )
    with ArchiveReader(path) as reader:
        assert _drain(reader, "data/a.png") == MEMBERS["data/a.png"]
        with pytest.raises(ArchiveError) as caught:
            _drain(reader, "data/b.png")
        assert (
            caught.value.message == "The archive member 'data/b.png' does not match its checksum."
        )
        assert caught.value.extra == {"member": "data/b.png"}
        with pytest.raises(ArchiveError) as caught:
            reader.read_bytes("data/b.png")
    with ArchiveReader(path) as reader, pytest.raises(ArchiveError) as caught:
        reader.verify_checksums()
    assert caught.value.message == "The archive member 'data/b.png' does not match its checksum."


def test_what_was_read_whole_is_not_read_again(tmp_path):
    # Members larger than the file's read buffer, so that changes on disk are seen.
    members = {f"data/{i}.png": random.Random(i).randbytes(64 * 1024) for i in range(3)}
    path = Backup(members=members).write(tmp_path / "a.zip")
    with ArchiveReader(path) as reader:
        assert _drain(reader, "data/0.png") == members["data/0.png"]
        assert reader.read_bytes("data/1.png") == members["data/1.png"]
        with reader.open("data/2.png") as stream:
            stream.read(5)  # not to the end: not verified
        # Corrupt verified members in place: verify_checksums does not read them again.
        flip_byte_in_member(path, "data/0.png", at=40_000)
        flip_byte_in_member(path, "data/1.png", at=40_000)
        reader.verify_checksums()
    flip_byte_in_member(path, "data/2.png", at=40_000)
    with ArchiveReader(path) as reader:
        with reader.open("data/2.png") as stream:
            stream.read(5)
        with pytest.raises(ArchiveError) as caught:
            reader.verify_checksums()
        assert caught.value.message == "The archive member 'data/0.png' is corrupt."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda lines: lines[:-1],
            "The archive member 'data/b.png' is not listed in checksums.sha256.",
        ),
        (
            lambda lines: [*lines, "0" * 64 + "  data/c.png"],
            "checksums.sha256 lists 'data/c.png', which is not in the archive.",
        ),
        (
            lambda lines: [*lines, "0" * 64 + "  checksums.sha256"],
            "checksums.sha256 lists 'checksums.sha256', which is not in the archive.",
        ),
        (
            lambda lines: [*lines, lines[0]],
            "checksums.sha256 lists 'task.json' more than once.",
        ),
        (lambda lines: [lines[0], "not a checksum"], "checksums.sha256 line 2 is malformed."),
        (lambda lines: ["abc  task.json", *lines], "checksums.sha256 line 1 is malformed."),
        (lambda lines: [lines[0][:64] + "task.json"], "checksums.sha256 line 1 is malformed."),
    ],
)
def test_bad_listing(tmp_path, change, message):
    lines = change(checksum_lines(MEMBERS).splitlines())
    path = _backup().write_raw(tmp_path / "a.zip", checksums="\n".join(lines) + "\n")
    assert _refused(path).message == message


def test_non_utf8_listing(tmp_path):
    path = _backup().write_raw(tmp_path / "a.zip")
    members = {**MEMBERS, "checksums.sha256": b"\xff" * 70}
    path = Backup(members=members).write_raw(tmp_path / "b.zip")
    assert _refused(path).message == "checksums.sha256 line 1 is malformed."
