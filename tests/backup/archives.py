"""Backup archives for tests, built in ``tmp_path`` by code (no binary files in the repository).

``task_backup()`` is a valid task backup (full or lightweight) as a ``Backup``: an ordered dict
of members that a test changes before writing it, with the ``ArchiveWriter`` (checksums
included) or raw with ``zipfile`` (any checksums file, or none). The other helpers craft the
bad archives of contract 9 that zipfile will not write directly, by patching bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from cvat_lite.backup.archive import ArchiveWriter
from cvat_lite.backup.format import (
    AttributeSpec,
    DataSpec,
    JobAnnotationsSpec,
    JobSpec,
    LabelSpec,
    OriginSpec,
    TaskSpec,
    build_annotations_json,
    build_task_json,
)
from cvat_lite.media.manifest import ManifestEntry, write_manifest

MiB = 1024 * 1024
DATE = (2026, 1, 2, 3, 4, 6)

LABELS = [
    LabelSpec(
        name="cat",
        color="#ff0000",
        attributes=[
            AttributeSpec(
                name="fluffy", input_type="checkbox", default_value="false", values=["false"]
            )
        ],
    ),
    LabelSpec(name="dog", color="#00ff00"),
    LabelSpec(
        name="person",
        type="skeleton",
        svg='<circle data-label-name="nose" />',
        sublabels=[
            LabelSpec(
                name="nose",
                type="points",
                attributes=[AttributeSpec(name="visible", input_type="text", values=[""])],
            ),
            LabelSpec(name="eye", type="points"),
        ],
    ),
]


def png(width: int = 4, height: int = 3, color: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def manifest(entries: Iterable[ManifestEntry]) -> bytes:
    buffer = io.BytesIO()
    write_manifest(entries, buffer)
    return buffer.getvalue()


def task_spec(images: int = 3, *, lightweight: bool = False) -> TaskSpec:
    """A task of ``images`` frames in two jobs (one when there is a single frame)."""
    half = max(images // 2, 1)
    jobs = [JobSpec(start_frame=0, stop_frame=half - 1)]
    if images > half:
        jobs.append(JobSpec(start_frame=half, stop_frame=images - 1, status="validation"))
    return TaskSpec(
        name="cats and dogs",
        labels=LABELS,
        data=DataSpec(
            chunk_size=36,
            image_quality=70,
            start_frame=0,
            stop_frame=images - 1,
            storage="cloud_storage" if lightweight else "local",
        ),
        jobs=jobs,
        origin=OriginSpec("AWS_S3_BUCKET", "bucket", "set1/") if lightweight else None,
    )


def job_annotations(frame: int = 0) -> JobAnnotationsSpec:
    common = {"group": 0, "source": "manual"}
    point = {"type": "points", "occluded": False, "outside": False, "z_order": 0}
    point |= {"rotation": 0.0, "points": [1.0, 2.0]}
    return JobAnnotationsSpec(
        version=0,
        tags=[
            {
                "frame": frame,
                **common,
                "attributes": [{"value": "true", "name": "fluffy"}],
                "label": "cat",
            }
        ],
        shapes=[
            {
                "type": "skeleton",
                "occluded": False,
                "outside": False,
                "z_order": 0,
                "rotation": 0.0,
                "points": [],
                "frame": frame,
                **common,
                "attributes": [],
                "elements": [
                    {
                        **point,
                        "frame": frame,
                        **common,
                        "attributes": [{"value": "yes", "name": "visible"}],
                        "label": "nose",
                    },
                    {**point, "frame": frame, **common, "attributes": [], "label": "eye"},
                ],
                "label": "person",
            }
        ],
        tracks=[
            {
                "frame": frame,
                **common,
                "shapes": [
                    {
                        "type": "rectangle",
                        "occluded": False,
                        "outside": False,
                        "z_order": 1,
                        "rotation": 45.0,
                        "points": [0, 0, 2, 2],
                        "frame": frame,
                        "attributes": [{"value": "false", "name": "fluffy"}],
                    },
                ],
                "attributes": [],
                "elements": [],
                "label": "cat",
            }
        ],
    )


@dataclass
class Backup:
    """Members by name, in write order."""

    members: dict[str, bytes] = field(default_factory=dict)

    def json(self, name: str) -> Any:
        return json.loads(self.members[name])

    def set_json(self, name: str, value: Any) -> Backup:
        self.members[name] = json.dumps(value).encode()
        return self

    def edit_json(self, name: str, change: Callable[[Any], None]) -> Backup:
        value = self.json(name)
        change(value)
        return self.set_json(name, value)

    def write(self, path: Path) -> Path:
        """With the ArchiveWriter: checksums.sha256 last."""
        with path.open("wb") as out, ArchiveWriter(out, date_time=DATE) as writer:
            for name, data in self.members.items():
                writer.add_bytes(name, data)
        return path

    def write_raw(
        self,
        path: Path,
        *,
        checksums: str | None = None,
        tamper: dict[str, bytes] | None = None,
        compression: int = zipfile.ZIP_DEFLATED,
    ) -> Path:
        """With zipfile: ``checksums`` is the checksums.sha256 text ("auto": computed from the
        members before ``tamper`` replaces some of them); None writes none (as CVAT)."""
        if checksums == "auto":
            checksums = checksum_lines(self.members)
        members = {**self.members, **(tamper or {})}
        if checksums is not None:
            members["checksums.sha256"] = checksums.encode()
        return write_zip(path, members.items(), compression=compression)


def checksum_lines(members: dict[str, bytes]) -> str:
    return "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in members.items()
    )


def task_backup(
    images: int = 3, *, lightweight: bool = False, prefix: str = "", spec: TaskSpec | None = None
) -> Backup:
    spec = spec or task_spec(images, lightweight=lightweight)
    entries = [ManifestEntry(f"img{i}", ".png", 4, 3) for i in range(images)]
    backup = Backup()
    if not lightweight:
        for index, entry in enumerate(entries):
            backup.members[f"{prefix}data/{entry.path}"] = png(color=(index * 40 % 256, 0, 0))
    backup.members[f"{prefix}data/manifest.jsonl"] = manifest(entries)
    backup.set_json(f"{prefix}task.json", build_task_json(spec))
    jobs = [job_annotations(job.start_frame) for job in spec.jobs]
    backup.set_json(f"{prefix}annotations.json", build_annotations_json(jobs))
    return backup


# --- raw ZIP crafting --------------------------------------------------------------------------


def write_zip(
    path: Path,
    members: Iterable[tuple[str | zipfile.ZipInfo, bytes]],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """Members as given, duplicates included (zipfile only warns about them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name: ..."
        with zipfile.ZipFile(path, "w", compression=compression) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


def symlink_member(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name, date_time=DATE)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def zip_of_zeros(path: Path, sizes: list[int], *, name: str = "zeros{index}.bin") -> Path:
    """Members of zeros, written a MiB at a time (a ZIP bomb when they are large)."""
    block = bytes(MiB)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for index, size in enumerate(sizes):
            with zf.open(name.format(index=index), "w", force_zip64=True) as out:
                for start in range(0, size, MiB):
                    out.write(block[: min(MiB, size - start)])
    return path


@dataclass
class _Entry:
    offset: int  # of the central directory record
    name: bytes
    header_offset: int


def _central_entries(data: bytes) -> list[_Entry]:
    end = data.rfind(b"PK\x05\x06")
    size, start = struct.unpack("<LL", data[end + 12 : end + 20])
    entries, at = [], start
    while at < start + size:
        name_length, extra_length, comment_length = struct.unpack("<HHH", data[at + 28 : at + 34])
        header_offset = struct.unpack("<L", data[at + 42 : at + 46])[0]
        name = data[at + 46 : at + 46 + name_length]
        entries.append(_Entry(at, name, header_offset))
        at += 46 + name_length + extra_length + comment_length
    return entries


def patch_member(
    path: Path,
    name: str,
    *,
    new_name: bytes | None = None,
    flag_bits: int | None = None,
    file_size: int | None = None,
) -> Path:
    """Change a member's entry in place: its name (same length; in the local header too), its
    flag bits or its declared size (central directory)."""
    data = bytearray(path.read_bytes())
    for entry in _central_entries(bytes(data)):
        if entry.name != name.encode():
            continue
        if new_name is not None:
            assert len(new_name) == len(entry.name)
            data[entry.offset + 46 : entry.offset + 46 + len(new_name)] = new_name
            local = entry.header_offset + 30
            data[local : local + len(new_name)] = new_name
        if flag_bits is not None:
            data[entry.offset + 8 : entry.offset + 10] = struct.pack("<H", flag_bits)
        if file_size is not None:
            data[entry.offset + 24 : entry.offset + 28] = struct.pack("<L", file_size)
    path.write_bytes(bytes(data))
    return path


def add_alias(path: Path, name: str, alias: str) -> Path:
    """A second central directory entry ``alias`` for the data of ``name`` (overlapping
    members: the other kind of ZIP bomb)."""
    data = path.read_bytes()
    entries = _central_entries(data)
    end = data.rfind(b"PK\x05\x06")
    start = entries[0].offset
    target = next(entry for entry in entries if entry.name == name.encode())
    following = [entry.offset for entry in entries if entry.offset > target.offset] + [end]
    record = bytearray(data[target.offset : min(following)])
    record[28:30] = struct.pack("<H", len(alias.encode()))
    record[46 : 46 + len(target.name)] = b""
    record[46:46] = alias.encode()
    directory = data[start:end] + bytes(record)
    count = len(entries) + 1
    eocd = bytearray(data[end:])
    eocd[8:20] = struct.pack("<HHLL", count, count, len(directory), start)
    path.write_bytes(data[:start] + directory + bytes(eocd))
    return path


def flip_byte_in_member(path: Path, name: str, at: int = 2) -> Path:
    """Corrupt the member's data at offset ``at`` (a CRC error when it is read)."""
    data = bytearray(path.read_bytes())
    entry = next(entry for entry in _central_entries(bytes(data)) if entry.name == name.encode())
    local = entry.header_offset
    name_length, extra_length = struct.unpack("<HH", data[local + 26 : local + 30])
    data[local + 30 + name_length + extra_length + at] ^= 0xFF
    path.write_bytes(bytes(data))
    return path
