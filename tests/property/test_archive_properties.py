"""``ArchiveReader`` on any file: it opens, and every member reads whole (and the checksums
verify), or it raises ``ArchiveError``, never another exception. Inputs: arbitrary bytes, and
valid small archives with bytes flipped, cut, inserted or deleted."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from cvat_lite.backup.archive import ArchiveReader, Limits
from cvat_lite.errors import ArchiveError
from tests.backup.archives import task_backup, write_zip

from .strategies import PROFILE

SMALL = Limits(
    max_members=6,
    max_member_size=700,
    max_total_size=3000,
    max_ratio=3,
    ratio_threshold=100,
    max_task_json_size=700,
    max_name_length=20,
)
limits = st.sampled_from([Limits(), SMALL])


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


def _bases() -> dict[str, bytes]:
    """Small valid archives of each kind the reader meets: ours (streamed, data descriptors,
    checksums), zipfile's deflated and stored ones without checksums (as CVAT writes), and one
    with folder entries."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        backup = task_backup(2)
        ours = backup.write(root / "ours.zip")
        deflated = backup.write_raw(root / "deflated.zip")
        stored = backup.write_raw(root / "stored.zip", compression=zipfile.ZIP_STORED)
        folders = write_zip(
            root / "folders.zip",
            [(zipfile.ZipInfo("data/"), b""), *backup.members.items()],
        )
        return {path.stem: path.read_bytes() for path in (ours, deflated, stored, folders)}


BASES = _bases()


def _read_everything(path: Path, limits: Limits) -> None:
    try:
        with ArchiveReader(path, limits=limits) as reader:
            for name in reader.names():
                with reader.open(name) as stream:
                    while stream.read(997):
                        pass
                reader.read_bytes(name)
            reader.verify_checksums()
    except ArchiveError:
        event("refused")
    else:
        event("read")


@PROFILE
@given(st.binary(max_size=2048), st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06"]), limits)
def test_any_bytes(scratch, data, prefix, limits):
    path = scratch / "any.zip"
    path.write_bytes(prefix + data)
    _read_everything(path, limits)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, bytes]:
    """A base archive and 1..4 changes: a byte xor-ed, the file cut, bytes inserted, bytes
    deleted, or a little-endian integer of the ZIP headers overwritten."""
    name = draw(st.sampled_from(sorted(BASES)))
    data = bytearray(BASES[name])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete", "integer"]))
        if kind == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "integer":
            size = draw(st.sampled_from([2, 4, 8]))
            value = draw(st.sampled_from([0, 1, 2 ** (8 * size) - 1, 2 ** (8 * size - 1)]))
            data[at : at + size] = value.to_bytes(size, "little")
    return name, bytes(data)


@PROFILE
@given(mutations(), limits)
def test_mutated_archives(scratch, mutation, limits):
    _name, data = mutation
    path = scratch / "mutated.zip"
    path.write_bytes(data)
    _read_everything(path, limits)


@pytest.mark.parametrize("name", sorted(BASES))
def test_the_bases_read(scratch, name):
    path = scratch / f"{name}.zip"
    path.write_bytes(BASES[name])
    with ArchiveReader(path) as reader:
        assert "task.json" in reader.names()
        for member in reader.names():
            reader.read_bytes(member)
        reader.verify_checksums()
