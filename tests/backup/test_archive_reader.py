import struct
import zipfile

import pytest

from cvat_lite.backup.archive import ArchiveReader, Limits
from cvat_lite.backup.archive import reader as reader_module
from cvat_lite.errors import ArchiveError

from .archives import (
    MiB,
    add_alias,
    flip_byte_in_member,
    patch_member,
    symlink_member,
    task_backup,
    write_zip,
    zip_of_zeros,
)

SMALL = [("task.json", b"{}"), ("data/a.txt", b"a" * 100)]


def _refused(path, limits=None) -> ArchiveError:
    with pytest.raises(ArchiveError) as caught:
        ArchiveReader(path, limits=limits)
    assert caught.value.code == "invalid_backup"
    assert caught.value.status == 400
    return caught.value


def _read_refused(path, name, **kwargs) -> ArchiveError:
    reader = ArchiveReader(path, **kwargs)
    with reader, pytest.raises(ArchiveError) as caught, reader.open(name) as stream:
        while stream.read(7):
            pass
    return caught.value


# --- not a ZIP, truncated, corrupt -------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"hello, world", b"PK", b"\x89PNG\r\n\x1a\n" * 10])
def test_not_a_zip(tmp_path, content):
    path = tmp_path / "x.zip"
    path.write_bytes(content)
    assert _refused(path).message == "The file is not a ZIP archive."


@pytest.mark.parametrize("keep", [0.5, 0.9, -1, -10, -23])
def test_truncated(tmp_path, keep):
    whole = task_backup().write(tmp_path / "whole.zip").read_bytes()
    cut = int(len(whole) * keep) if keep > 0 else len(whole) + keep
    path = tmp_path / "cut.zip"
    path.write_bytes(whole[:cut])
    assert _refused(path).message == "The ZIP archive is truncated or corrupt."


def test_central_directory_pointing_outside_the_file(tmp_path):
    data = bytearray(write_zip(tmp_path / "a.zip", SMALL).read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 12 : end + 16] = (len(data) * 2).to_bytes(4, "little")  # directory size
    path = tmp_path / "b.zip"
    path.write_bytes(bytes(data))
    assert _refused(path).message == "The ZIP archive is truncated or corrupt."


def test_crc_error_names_the_member(tmp_path):
    path = write_zip(tmp_path / "a.zip", SMALL, compression=zipfile.ZIP_STORED)
    flip_byte_in_member(path, "data/a.txt")
    error = _read_refused(path, "data/a.txt")
    assert error.message == "The archive member 'data/a.txt' is corrupt."
    assert error.extra == {"member": "data/a.txt"}


def test_corrupt_deflate_stream(tmp_path):
    path = write_zip(tmp_path / "a.zip", [("a.txt", bytes(range(256)) * 40)])
    flip_byte_in_member(path, "a.txt")
    assert _read_refused(path, "a.txt").message == "The archive member 'a.txt' is corrupt."


def test_member_larger_than_its_header(tmp_path):
    path = write_zip(tmp_path / "a.zip", [("a.txt", b"0123456789" * 50)])
    patch_member(path, "a.txt", file_size=100)  # inflates to 500 bytes
    assert _read_refused(path, "a.txt").message == "The archive member 'a.txt' is corrupt."


def test_member_shorter_than_its_header(tmp_path):
    path = write_zip(tmp_path / "a.zip", [("a.txt", b"0123456789" * 50)])
    patch_member(path, "a.txt", file_size=600)  # inflates to 500 bytes
    message = _read_refused(path, "a.txt").message
    assert message == "The archive member 'a.txt' is shorter than its header says."


# --- member names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x", "contains a '..' segment"),
        ("data/../../x", "contains a '..' segment"),
        ("/abs", "is absolute"),
        ("C:/x", "starts with a drive letter"),
        ("a\\b", "contains a backslash"),
        ("a\x01b", "contains a control character"),
        ("a//b", "contains an empty segment"),
        ("./task.json", "contains a '.' segment"),
    ],
)
def test_bad_member_paths(tmp_path, name, reason):
    path = write_zip(tmp_path / "a.zip", [*SMALL, (name, b"x")])
    error = _refused(path)
    assert error.message == f"The archive member {name!r} {reason}."
    assert error.extra == {"member": name}


def test_nul_in_a_member_name(tmp_path):
    # zipfile will not write a NUL; patch one in (central directory and local header).
    path = write_zip(tmp_path / "a.zip", [*SMALL, ("evilXjpg", b"x")])
    patch_member(path, "evilXjpg", new_name=b"evil\x00jpg")
    assert _refused(path).message == "The archive member 'evil\\x00jpg' contains a NUL character."


def test_directory_paths_are_checked_too(tmp_path):
    path = write_zip(tmp_path / "a.zip", [*SMALL, ("../dir/", b"")])
    assert _refused(path).message == "The archive member '../dir/' contains a '..' segment."


def test_long_names(tmp_path):
    ok = "task_1/data/" + "/".join(["d" * 250] * 5)  # 1,266 bytes
    too_long = "data/" + "/".join(["d" * 250] * 6)
    with ArchiveReader(write_zip(tmp_path / "a.zip", [*SMALL, (ok, b"x")])) as reader:
        assert reader.read_bytes(ok) == b"x"
    path = write_zip(tmp_path / "b.zip", [*SMALL, (too_long, b"x")])
    assert _refused(path).message.endswith(" is longer than 1280 bytes.")
    huge_segment = "data/" + "e" * 1100
    path = write_zip(tmp_path / "c.zip", [*SMALL, (huge_segment, b"x")])
    assert _refused(path).message.endswith(" is longer than 1024 bytes.")


def test_unicode_names_and_directory_entries(tmp_path):
    members = [("data/", b""), ("data/ünï/", b""), ("data/ünï/画像 1.png", b"x"), *SMALL]
    with ArchiveReader(write_zip(tmp_path / "a.zip", members)) as reader:
        assert reader.names() == ["data/ünï/画像 1.png", "task.json", "data/a.txt"]
        assert reader.has("data/ünï/画像 1.png")
        assert not reader.has("data/")


def test_symlink(tmp_path):
    path = write_zip(tmp_path / "a.zip", [*SMALL, symlink_member("data/link.jpg", "/etc/passwd")])
    error = _refused(path)
    assert error.message == "The archive member 'data/link.jpg' is a symbolic link."


def test_duplicate_members(tmp_path):
    path = write_zip(tmp_path / "a.zip", [*SMALL, ("task.json", b"{}")])
    assert _refused(path).message == "The archive member 'task.json' appears more than once."


@pytest.mark.parametrize(
    "members",
    [
        [("data/a", b"x"), ("data/a/b", b"y")],
        [("data/a/b", b"y"), ("data/a", b"x")],
        [("data/a", b"x"), ("data/a/", b"")],
        [("data/a/", b""), ("data/a", b"x")],
    ],
)
def test_a_file_that_is_also_a_folder(tmp_path, members):
    path = write_zip(tmp_path / "a.zip", members)
    assert _refused(path).message == "The archive member 'data/a' is both a file and a folder."


def test_encrypted_member(tmp_path):
    path = patch_member(write_zip(tmp_path / "a.zip", SMALL), "data/a.txt", flag_bits=0x1)
    assert _refused(path).message == "The archive member 'data/a.txt' is encrypted."


def test_unsupported_compression(tmp_path):
    path = write_zip(tmp_path / "a.zip", SMALL, compression=zipfile.ZIP_LZMA)
    message = _refused(path).message
    assert message == "The archive member 'task.json' uses an unsupported compression method."


# --- limits ------------------------------------------------------------------------------------


def test_too_many_members(tmp_path):
    path = write_zip(tmp_path / "a.zip", [(f"m{i}", b"") for i in range(6)])
    assert _refused(path, Limits(max_members=5)).message == "The archive has more than 5 members."
    with ArchiveReader(path, limits=Limits(max_members=6)) as reader:
        assert len(reader.names()) == 6


def test_member_over_the_size_limit(tmp_path):
    path = write_zip(tmp_path / "a.zip", [("data/big.bin", bytes(range(256)) * 8)])
    error = _refused(path, Limits(max_member_size=2000))
    assert error.message == "The archive member 'data/big.bin' is larger than 2000 bytes."
    with ArchiveReader(path, limits=Limits(max_member_size=2048)) as reader:
        assert len(reader.read_bytes("data/big.bin")) == 2048
        with pytest.raises(ArchiveError) as caught:
            reader.read_bytes("data/big.bin", limit=1000)
        assert (
            caught.value.message == "The archive member 'data/big.bin' is larger than 1000 bytes."
        )


def test_total_over_the_limit(tmp_path):
    path = write_zip(tmp_path / "a.zip", [(f"m{i}", bytes(range(256)) * 4) for i in range(4)])
    error = _refused(path, Limits(max_total_size=3000))
    assert error.message == "The archive's content is larger than 3000 bytes."


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    return zip_of_zeros(tmp_path_factory.mktemp("bomb") / "bomb.zip", [50 * MiB])


def test_zip_bomb(bomb):
    assert bomb.stat().st_size < 100_000
    error = _refused(bomb)
    assert (
        error.message
        == "The archive member 'zeros0.bin' is compressed more than 200:1 (a ZIP bomb?)."
    )


def test_many_small_members_compressed_too_well(tmp_path):
    path = zip_of_zeros(tmp_path / "a.zip", [64 * 1024] * 20)
    limits = Limits(ratio_threshold=64 * 1024, max_ratio=50)
    assert (
        _refused(path, limits).message == "The archive is compressed more than 50:1 (a ZIP bomb?)."
    )


def test_overlapping_members(tmp_path):
    path = add_alias(write_zip(tmp_path / "a.zip", SMALL), "data/a.txt", "data/b.txt")
    with zipfile.ZipFile(path) as zf:  # what a naive reader sees
        assert zf.read("data/a.txt") == b"a" * 100
    assert _refused(path).message == "The archive members 'data/a.txt' and 'data/b.txt' overlap."


# --- reading -----------------------------------------------------------------------------------


def test_reading_an_absent_member(tmp_path):
    with ArchiveReader(write_zip(tmp_path / "a.zip", SMALL)) as reader:
        with pytest.raises(ArchiveError) as caught:
            reader.read_bytes("nothing.json")
        assert caught.value.message == "The archive has no member 'nothing.json'."
        assert reader.size("data/a.txt") == 100


# --- exactly one ZIP (a concatenated ZIP once restored the last archive in it) ---------------


def test_two_archives_joined_are_refused(tmp_path):
    first = task_backup(2).write(tmp_path / "first.zip").read_bytes()
    second = write_zip(tmp_path / "second.zip", SMALL).read_bytes()
    path = tmp_path / "joined.zip"
    path.write_bytes(first + second)
    assert _refused(path).message == reader_module.LEADING_DATA


@pytest.mark.parametrize("junk", [b"x", b"#!/bin/sh\nexit 0\n" * 10, b"PK\x03\x04" + b"\0" * 60])
def test_data_before_the_first_member_is_refused(tmp_path, junk):
    archive = write_zip(tmp_path / "a.zip", SMALL).read_bytes()
    path = tmp_path / "prefixed.zip"
    path.write_bytes(junk + archive)
    assert _refused(path).message == reader_module.LEADING_DATA


def test_first_member_not_at_the_start_is_refused(tmp_path):
    """Data before the first member with every offset adjusted to match, so that the end record
    and the central directory agree: the members still must start the file."""
    junk = b"J" * 64
    archive = bytearray(write_zip(tmp_path / "a.zip", SMALL).read_bytes())
    end = archive.rfind(b"PK\x05\x06")
    (offset,) = struct.unpack("<L", archive[end + 16 : end + 20])
    entry = offset
    while archive[entry : entry + 4] == b"PK\x01\x02":
        (local,) = struct.unpack("<L", archive[entry + 42 : entry + 46])
        archive[entry + 42 : entry + 46] = struct.pack("<L", local + len(junk))
        names = struct.unpack("<HHH", archive[entry + 28 : entry + 34])
        entry += 46 + sum(names)
    archive[end + 16 : end + 20] = struct.pack("<L", offset + len(junk))
    path = tmp_path / "shifted.zip"
    path.write_bytes(junk + bytes(archive))
    assert _refused(path).message == reader_module.LEADING_DATA


@pytest.mark.parametrize("junk", [b"\0", b"trailing bytes", b"PK\x05\x06" + b"\0" * 10])
def test_data_after_the_end_record_is_refused(tmp_path, junk):
    archive = write_zip(tmp_path / "a.zip", SMALL).read_bytes()
    path = tmp_path / "suffixed.zip"
    path.write_bytes(archive + junk)
    assert _refused(path).message in {
        reader_module.TRAILING_DATA,
        "The ZIP archive is truncated or corrupt.",
    }


def test_data_between_the_central_directory_and_its_end_is_refused(tmp_path):
    archive = write_zip(tmp_path / "a.zip", SMALL).read_bytes()
    end = archive.rfind(b"PK\x05\x06")
    path = tmp_path / "padded.zip"
    path.write_bytes(archive[:end] + b"\0" * 16 + archive[end:])
    assert _refused(path).message == reader_module.LEADING_DATA


def test_a_zip_comment_is_fine(tmp_path):
    path = tmp_path / "commented.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in SMALL:
            zf.writestr(name, data)
        zf.comment = b"made by hand"
    with ArchiveReader(path) as reader:
        assert reader.read_bytes("data/a.txt") == b"a" * 100
