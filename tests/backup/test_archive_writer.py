import hashlib
import io
import json
import os
import random
import threading
import zipfile

import pytest

from cvat_lite.backup.archive import ArchiveReader, ArchiveWriter
from cvat_lite.errors import ArchiveError

from .archives import DATE, MiB, png

MEMBERS = {
    "data/img0.jpg": b"\xff\xd8 not really a jpeg " * 100,
    "data/img1.PNG": png(),
    "data/dir/ünïcødé 画像.webp": b"webp" * 100,
    "data/notes.txt": b"hello " * 1000,
    "task.json": b'{"version":"1.0"}',
}


def _write(stream, members=MEMBERS) -> None:
    with ArchiveWriter(stream, date_time=DATE) as writer:
        for name, data in members.items():
            writer.add_bytes(name, data)


def _zip_bytes(members=MEMBERS) -> bytes:
    out = io.BytesIO()
    _write(out, members)
    return out.getvalue()


def test_round_trip_with_checksums_last(tmp_path):
    path = tmp_path / "backup.zip"
    path.write_bytes(_zip_bytes())

    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        assert [info.filename for info in infos] == [*MEMBERS, "checksums.sha256"]
        methods = {info.filename: info.compress_type for info in infos}
        checksums = zf.read("checksums.sha256").decode()
    assert methods["data/img0.jpg"] == zipfile.ZIP_STORED
    assert methods["data/img1.PNG"] == zipfile.ZIP_STORED
    assert methods["data/dir/ünïcødé 画像.webp"] == zipfile.ZIP_STORED
    assert methods["data/notes.txt"] == zipfile.ZIP_DEFLATED
    assert methods["task.json"] == zipfile.ZIP_DEFLATED
    assert methods["checksums.sha256"] == zipfile.ZIP_DEFLATED
    # sha256sum format, in write order
    assert checksums == "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in MEMBERS.items()
    )

    with ArchiveReader(path) as reader:
        assert reader.names() == [*MEMBERS, "checksums.sha256"]
        assert reader.has_checksums
        for name, data in MEMBERS.items():
            assert reader.read_bytes(name) == data
        reader.verify_checksums()


def test_members_are_streamed_and_sizes_may_be_unknown(tmp_path):
    chunks = (random.Random(index).randbytes(MiB) for index in range(5))
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        digest = writer.add_stream("data/big.bin", chunks)
        writer.add_stream("data/known.jpg", [b"ab", b"cd"], size=4)
        assert writer.checksums == [
            ("data/big.bin", digest),
            ("data/known.jpg", hashlib.sha256(b"abcd").hexdigest()),
        ]
    path = tmp_path / "big.zip"
    path.write_bytes(out.getvalue())
    with ArchiveReader(path) as reader:
        with reader.open("data/big.bin") as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == digest
        assert reader.read_bytes("data/known.jpg") == b"abcd"
        reader.verify_checksums()


def test_add_json_is_compact_utf8_and_streams_lists(tmp_path):
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        writer.add_json("task.json", {"name": "chat noir 猫", "n": 1})
        writer.add_json("annotations.json", [{"version": 0}, {"version": 1}])
        writer.add_json("empty.json", [])
    path = tmp_path / "json.zip"
    path.write_bytes(out.getvalue())
    with ArchiveReader(path) as reader:
        assert reader.read_bytes("task.json") == '{"name":"chat noir 猫","n":1}'.encode()
        assert reader.read_bytes("annotations.json") == b'[{"version":0},{"version":1}]'
        assert json.loads(reader.read_bytes("empty.json")) == []


class _WriteOnly:
    """A stream without seek or tell (an HTTP response, a socket)."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data):
        self.parts.append(bytes(data))
        return len(data)


def test_non_seekable_stream(tmp_path):
    stream = _WriteOnly()
    _write(stream)
    path = tmp_path / "streamed.zip"
    path.write_bytes(b"".join(stream.parts))
    with ArchiveReader(path) as reader:
        assert reader.read_bytes("data/img1.PNG") == MEMBERS["data/img1.PNG"]
        reader.verify_checksums()
    assert b"".join(stream.parts) != _zip_bytes()  # data descriptors instead of rewritten headers


def test_pipe(tmp_path):
    read_end, write_end = os.pipe()
    received = bytearray()

    def drain():
        with os.fdopen(read_end, "rb") as source:
            while chunk := source.read(65536):
                received.extend(chunk)

    reader_thread = threading.Thread(target=drain)
    reader_thread.start()
    with os.fdopen(write_end, "wb") as sink:
        _write(sink)
    reader_thread.join()
    path = tmp_path / "piped.zip"
    path.write_bytes(received)
    with ArchiveReader(path) as reader:
        assert reader.read_bytes("data/notes.txt") == MEMBERS["data/notes.txt"]
        reader.verify_checksums()


@pytest.mark.parametrize("seekable", [True, False])
def test_a_failed_write_leaves_no_readable_archive(tmp_path, seekable):
    out = io.BytesIO() if seekable else _WriteOnly()

    def chunks():
        yield b"first"
        raise OSError("the cloud went away")

    with pytest.raises(OSError), ArchiveWriter(out) as writer:
        writer.add_bytes("task.json", b"{}")
        writer.add_stream("data/a.jpg", chunks())
    path = tmp_path / "partial.zip"
    path.write_bytes(out.getvalue() if seekable else b"".join(out.parts))
    with pytest.raises(ArchiveError) as caught:
        ArchiveReader(path)
    assert caught.value.message == "The ZIP archive is truncated or corrupt."


@pytest.mark.parametrize(
    "name",
    ["../x", "/abs", "C:/x", "a\\b", "a\x00b", "a\x01b", "a//b", "./a", "", "dir/", "a" * 1300],
)
def test_bad_member_names_are_refused(name):
    with ArchiveWriter(io.BytesIO()) as writer, pytest.raises(ValueError):
        writer.add_bytes(name, b"x")


def test_names_may_be_longer_than_an_object_key():
    long_name = "task_12/data/" + "/".join(["d" * 200] * 5) + ".png"  # 1,021 + 13 bytes
    out = io.BytesIO()
    with ArchiveWriter(out) as writer:
        writer.add_bytes(long_name, b"x")
    assert long_name in zipfile.ZipFile(io.BytesIO(out.getvalue())).namelist()


def test_duplicate_reserved_and_wrong_size_are_refused():
    with ArchiveWriter(io.BytesIO()) as writer:
        writer.add_bytes("a.json", b"{}")
        with pytest.raises(ValueError):
            writer.add_bytes("a.json", b"{}")
        with pytest.raises(ValueError):
            writer.add_bytes("checksums.sha256", b"")
    with pytest.raises(ValueError), ArchiveWriter(io.BytesIO()) as writer:
        writer.add_stream("b.bin", [b"abc"], size=4)
    writer = ArchiveWriter(io.BytesIO())
    writer.close()
    with pytest.raises(ValueError):
        writer.add_bytes("late.json", b"{}")


class _Broken(io.BytesIO):
    """A client that goes away after 1,000 bytes: every later call fails."""

    def write(self, data):
        if self.tell() + len(data) > 1000:
            self.close()
        return super().write(data)


def test_the_stream_error_is_the_one_raised():
    with pytest.raises(ValueError, match="closed file"), ArchiveWriter(_Broken()) as writer:
        writer.add_bytes("data/a.bin", random.Random(0).randbytes(5000))
