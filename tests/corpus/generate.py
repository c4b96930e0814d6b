"""Builders of the bad-input corpus (contract 9), and a command that writes every case to a folder.

Every archive is made by code from ``tests.backup.archives`` (a valid backup, changed), so the
repository holds no binary file. A builder takes a scratch folder and returns the file it
wrote there; ``cases.CASES`` pairs each builder with what the server must answer.

    python -m tests.corpus.generate OUTDIR      # OUTDIR/<case-slug>.zip, one per case
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cvat_lite.backup.format import build_annotations_json, build_task_json
from cvat_lite.media.manifest import ManifestEntry
from tests.backup.archives import (
    Backup,
    MiB,
    _central_entries,
    flip_byte_in_member,
    job_annotations,
    manifest,
    png,
    task_backup,
    task_spec,
    write_zip,
)

Builder = Callable[[Path], Path]
Change = Callable[[Backup], object]

ARCHIVE = "b.zip"


# --- whole files -------------------------------------------------------------------------------


def raw_bytes(content: bytes) -> Builder:
    """A file of ``content`` (not an archive at all)."""

    def build(folder: Path) -> Path:
        path = folder / ARCHIVE
        path.write_bytes(content)
        return path

    return build


def valid(images: int = 3, *, lightweight: bool = False) -> Builder:
    """A valid task backup (written by the ArchiveWriter, checksums included)."""
    return edited(lambda backup: None, images=images, lightweight=lightweight)


def truncated(folder: Path) -> Path:
    whole = task_backup(3).write(folder / "whole.zip").read_bytes()
    path = folder / ARCHIVE
    path.write_bytes(whole[: len(whole) // 2])
    (folder / "whole.zip").unlink()
    return path


def members_plus(*extra: tuple[str | zipfile.ZipInfo, bytes]) -> Builder:
    """A valid full backup's members, then ``extra`` (name, bytes) pairs, written raw."""

    def build(folder: Path) -> Path:
        return write_zip(folder / ARCHIVE, [*task_backup(3).members.items(), *extra])

    return build


def edited(change: Change, *, images: int = 3, lightweight: bool = False, **raw: Any) -> Builder:
    """A valid task backup changed by ``change``; written by the ArchiveWriter, or raw with
    zipfile when ``raw`` options are given (see ``Backup.write_raw``)."""

    def build(folder: Path) -> Path:
        backup = task_backup(images, lightweight=lightweight)
        change(backup)
        path = folder / ARCHIVE
        return backup.write_raw(path, **raw) if raw else backup.write(path)

    return build


def project(change: Change, *tasks: tuple[int, bool]) -> Builder:
    """A project backup of ``tasks`` ((images, lightweight) each), changed by ``change``."""

    def build(folder: Path) -> Path:
        from tests.backup.restore_helpers import project_backup  # imports models: lazily

        backup = project_backup(*tasks)
        change(backup)
        return backup.write(folder / ARCHIVE)

    return build


def patched(build_first: Builder, patch: Callable[[Path], Path]) -> Builder:
    """``build_first``'s archive, then its bytes patched in place."""
    return lambda folder: patch(build_first(folder))


def corrupt_member(folder: Path) -> Path:
    path = task_backup(3).write_raw(folder / ARCHIVE, compression=zipfile.ZIP_STORED)
    return flip_byte_in_member(path, "data/img1.png", at=20)


def zip_bomb(folder: Path) -> Path:
    backup = task_backup(3)
    backup.members["data/zeros.bin"] = bytes(5 * MiB)
    return backup.write_raw(folder / ARCHIVE)


def bzip2_member(folder: Path) -> Path:
    path = folder / ARCHIVE
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in task_backup(3).members.items():
            kind = zipfile.ZIP_BZIP2 if name == "task.json" else zipfile.ZIP_DEFLATED
            zf.writestr(name, data, compress_type=kind)
    return path


def empty_zip(folder: Path) -> Path:
    return write_zip(folder / ARCHIVE, [])


def byte_missing(folder: Path) -> Path:
    """A valid archive with one byte of its first member's data gone: the central directory
    starts a byte early, so zipfile shifts every offset by -1 (the first one below 0)."""
    path = valid()(folder)
    data = path.read_bytes()
    path.write_bytes(data[:40] + data[41:])
    return path


def version_needed(value: int, name: str = "task.json") -> Builder:
    """A valid archive whose member ``name`` needs ZIP version ``value`` / 10 to extract."""

    def build(folder: Path) -> Path:
        path = edited(lambda backup: None, checksums=None)(folder)
        data = bytearray(path.read_bytes())
        entry = next(e for e in _central_entries(bytes(data)) if e.name == name.encode())
        data[entry.offset + 6 : entry.offset + 8] = struct.pack("<H", value)
        path.write_bytes(bytes(data))
        return path

    return build


# --- changes of a Backup -----------------------------------------------------------------------


def drop(name: str) -> Change:
    return lambda backup: backup.members.pop(name)


def put(name: str, data: bytes) -> Change:
    return lambda backup: backup.members.update({name: data})


def json_edit(name: str, change: Callable[[Any], None]) -> Change:
    return lambda backup: backup.edit_json(name, change)


def set_field(path: str, value: Any) -> Callable[[Any], None]:
    """Set the value at a dotted path (``"jobs.1.stop_frame"``; digits index lists)."""

    def change(doc: Any) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[int(key)] if key.isdigit() else doc[key]
        doc[int(last) if last.isdigit() else last] = value

    return change


def raw_json(name: str, text: str) -> Change:
    """Replace a JSON member with ``text`` exactly (numbers json.dumps cannot write)."""
    return put(name, text.encode())


def task_json_text(edit: Callable[[str], str]) -> Change:
    """task.json re-serialized, then its text edited (e.g. a literal json.dumps refuses)."""

    def change(backup: Backup) -> None:
        backup.members["task.json"] = edit(json.dumps(backup.json("task.json"))).encode()

    return change


def manifest_line(line: bytes, at: int = 2) -> Change:
    """Replace manifest line ``at`` (0-based; 2 is the first image)."""

    def change(backup: Backup) -> None:
        lines = backup.members["data/manifest.jsonl"].splitlines(keepends=True)
        lines[at] = line + b"\n"
        backup.members["data/manifest.jsonl"] = b"".join(lines)

    return change


def manifest_append(line: bytes) -> Change:
    def change(backup: Backup) -> None:
        backup.members["data/manifest.jsonl"] += line + b"\n"

    return change


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def deep_text(depth: int) -> str:
    """A JSON list nested ``depth`` levels (built as text: deeper than json.dumps can go)."""
    return "[" * depth + "]" * depth


def entry_line(name: str, *, width: int = 4, height: int = 3, extension: str = ".png") -> bytes:
    value = {"name": name, "extension": extension, "width": width, "height": height}
    return json.dumps(value, ensure_ascii=False).encode()


def combine(*changes: Change) -> Change:
    def change(backup: Backup) -> None:
        for one in changes:
            one(backup)

    return change


# --- backups with chosen image names -----------------------------------------------------------


def named_backup(paths: list[str], *, name: str = "cats and dogs", label: str = "cat") -> Backup:
    """A full task backup whose manifest lists ``paths`` in order (repeats allowed: CVAT's
    honeypots); each distinct path is one ``data/`` member. Its first label is ``label``."""
    spec = task_spec(len(paths))
    spec.name = name
    spec.labels[0].name = label
    entries = []
    for path in paths:
        stem, dot, extension = path.rpartition(".")
        entries.append(ManifestEntry(stem, dot + extension, 4, 3))
    backup = Backup()
    for index, path in enumerate(dict.fromkeys(paths)):
        backup.members[f"data/{path}"] = png(color=(index * 40 % 256, 60, 0))
    backup.members["data/manifest.jsonl"] = manifest(entries)
    backup.set_json("task.json", build_task_json(spec))
    jobs = [job_annotations(job.start_frame) for job in spec.jobs]
    for job in jobs:
        for obj in (*job.tags, *job.tracks):
            obj["label"] = label
    backup.set_json("annotations.json", build_annotations_json(jobs))
    return backup


NFC_NAME = unicodedata.normalize("NFC", "café")
NFD_NAME = unicodedata.normalize("NFD", "café")
UNICODE_PATHS = [
    f"{NFC_NAME}.png",
    f"{NFD_NAME}.png",  # another object: keys are byte-exact, never normalized
    "🐱/😺 cat.png",
    "صور/قطة.png",  # Arabic (RTL)
    "תמונות/חתול.png",  # Hebrew (RTL)
]
UNICODE_TASK_NAME = "חתולים 🐱 قطط café"
UNICODE_LABEL = "🐱 חתול"


def unicode_names(folder: Path) -> Path:
    backup = named_backup(UNICODE_PATHS, name=UNICODE_TASK_NAME, label=UNICODE_LABEL)
    return backup.write(folder / ARCHIVE)


def nfd_manifest_nfc_member(folder: Path) -> Path:
    """The manifest names the NFD spelling, the archive holds the NFC one."""
    backup = named_backup([f"{NFD_NAME}.png", "b.png"])
    backup.members[f"data/{NFC_NAME}.png"] = backup.members.pop(f"data/{NFD_NAME}.png")
    return backup.write(folder / ARCHIVE)


HONEYPOT_PATHS = ["img0.png", "img1.png", "img2.png", "img1.png"]


def honeypot(folder: Path) -> Path:
    return named_backup(HONEYPOT_PATHS).write(folder / ARCHIVE)


def honeypot_different_size(folder: Path) -> Path:
    backup = named_backup(HONEYPOT_PATHS)
    lines = backup.members["data/manifest.jsonl"].splitlines(keepends=True)
    lines[-1] = entry_line("img1", width=8, height=6) + b"\n"
    backup.members["data/manifest.jsonl"] = b"".join(lines)
    return backup.write(folder / ARCHIVE)


# --- the corpus on disk ------------------------------------------------------------------------


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


INDEX = "INDEX.tsv"


def build_corpus(outdir: Path, names: Iterable[str] | None = None) -> dict[str, Path]:
    """Write each case's file (all, or ``names``) as ``outdir/<slug>.zip``, and
    ``outdir/INDEX.tsv`` (file, case, how it is sent, where it is refused, status, message);
    return the files by case name."""
    from tests.corpus.cases import CASES

    outdir.mkdir(parents=True, exist_ok=True)
    wanted = set(CASES) if names is None else set(names)
    written = {}
    rows = ["file\tcase\tsent as\toutcome\tstatus\tmessage\tdecision"]
    for name, case in CASES.items():
        if name not in wanted:
            continue
        target = outdir / f"{slug(name)}.zip"
        with tempfile.TemporaryDirectory() as scratch:
            shutil.move(case.build(Path(scratch)), target)
        written[name] = target
        status = "" if case.status is None else str(case.status)
        fields = (name, case.send.value, case.where.value, status, case.message, case.decision)
        fields = (target.name, *fields)
        rows.append("\t".join(fields))
    (outdir / INDEX).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cvat_lite.settings")
    import django

    django.setup()
    for name, path in build_corpus(args.outdir).items():
        print(f"{path.name}\t{path.stat().st_size}\t{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
