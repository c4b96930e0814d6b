"""A task's backup manifest kept deflated, so that a lightweight export copies bytes.

Creating a task from a manifest and restoring a backup validate every entry and insert the
Image rows in one pass; ``ManifestRecorder`` renders the same rows as the backup's
``data/manifest.jsonl`` on the way (what ``export_spec.manifest_entries`` would render from the
rows) and keeps it deflated, with its CRC-32, sizes and SHA-256, under
``DATA_DIR/manifests/<data id>.deflate`` (and ``.json``). An export (``stored_manifest``) uses
it only while its stamp — the Data row's id, storage, ``cloud_prefix``, ``size`` and
``chunks_updated_date``, which a relink (the one service that rewrites a task's rows) moves —
still matches, and no row was saved through the ORM since (``Image`` post_save forgets it);
otherwise it renders the manifest from the rows as before. A failed creation or restore removes
what it recorded (it is written only when the transaction commits), a deleted Data row its
files. A row changed by a bulk
``QuerySet.update`` is not seen: no service does that.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from cvat_lite.engine.models import Data, Image, StorageChoice
from cvat_lite.media.manifest import WRITE_LINES, entry_line, header_lines

LEVEL = 6  # zlib's default, as zipfile deflates
SPOOL = 16 * 1024 * 1024


def _folder() -> Path:
    return Path(settings.DATA_DIR) / "manifests"


def _paths(data_id: int) -> tuple[Path, Path]:
    folder = _folder()
    return folder / f"{data_id}.deflate", folder / f"{data_id}.json"


def _stamp(data: Data) -> str:
    return "|".join(
        str(value)
        for value in (
            data.pk,
            data.storage,
            data.cloud_prefix,
            data.size,
            data.chunks_updated_date.isoformat(),
        )
    )


def media_prefix(data: Data) -> str:
    """The folder a backup names the task's media relative to, for rows that all lie under it
    (as creation and restore write them): what ``backup.export_spec.media_root`` finds by a
    query of every row ("" when the names are the paths)."""
    if data.storage != StorageChoice.CLOUD_STORAGE:
        return ""
    return data.cloud_prefix.strip("/")


class ManifestRecorder:
    """Feed it the task's rows in frame order (``add``), then ``save`` it for the Data row
    once that row is final, or ``discard`` it."""

    def __init__(self) -> None:
        # Deflated, a million-entry manifest is a few MB: kept in memory, spilled to an
        # anonymous file past SPOOL (gone by itself if the transaction never commits).
        self._out = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 (closed by _publish or discard)
        self._deflate = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
        self._crc = 0
        self._sha = hashlib.sha256()
        self._size = 0
        self._lines: list[str] = []
        self.prefix = ""  # the rows' folder (``media_prefix``), set before the first row
        self._feed(header_lines())

    def _feed(self, raw: bytes) -> None:
        self._crc = zlib.crc32(raw, self._crc)
        self._sha.update(raw)
        self._size += len(raw)
        self._out.write(self._deflate.compress(raw))

    def add(self, path: str, width: int, height: int, checksum: str, related) -> None:
        cut = len(self.prefix) + 1 if self.prefix else 0
        name, extension = posixpath.splitext(path[cut:])
        self.add_split(name, extension, width, height, checksum, related)

    def add_split(
        self, name: str, extension: str, width: int, height: int, checksum: str, related
    ) -> None:
        """``add`` for a caller that split the row's path already: ``name`` and ``extension``
        are ``posixpath.splitext`` of the path without the prefix; ``related`` are the related
        files' paths, with it."""
        if related:
            cut = len(self.prefix) + 1 if self.prefix else 0
            related = [item[cut:] for item in related]
        self._lines.append(entry_line(name, extension, width, height, checksum or None, related))
        if len(self._lines) == WRITE_LINES:
            self._feed("".join(self._lines).encode("utf-8"))
            self._lines.clear()

    def save(self, data: Data, *, evidence: bool = False) -> None:
        """Keep it for ``data`` once the current transaction commits (nothing is written if
        it rolls back); ``evidence``: whether any row was given object evidence (else an
        export leaves ``cloud_objects.jsonl`` out without looking)."""
        if self._lines:
            self._feed("".join(self._lines).encode("utf-8"))
            self._lines.clear()
        self._out.write(self._deflate.flush())
        record = {
            "stamp": _stamp(data),
            "crc": self._crc,
            "size": self._size,
            "compress_size": self._out.tell(),
            "sha256": self._sha.hexdigest(),
            "evidence": evidence,
        }
        transaction.on_commit(lambda: self._publish(data.pk, record))

    def _publish(self, data_id: int, record: dict) -> None:
        member, meta = _paths(data_id)
        try:
            member.parent.mkdir(parents=True, exist_ok=True)
            partial = member.with_suffix(".partial")
            self._out.seek(0)
            with partial.open("wb") as target:
                shutil.copyfileobj(self._out, target, 1024 * 1024)
            os.replace(partial, member)
            meta.write_text(json.dumps(record))
        except OSError:  # only an optimisation: an export renders the rows instead
            forget(data_id)
        finally:
            self._out.close()

    def discard(self) -> None:
        self._out.close()


@dataclass(frozen=True)
class StoredManifest:
    path: Path
    crc: int
    size: int
    compress_size: int
    sha256: str
    evidence: bool


def stored_manifest(data: Data) -> StoredManifest | None:
    """The deflated manifest recorded for ``data``, if it is still the rows' (see the module
    docstring)."""
    member, meta = _paths(data.pk)
    try:
        record = json.loads(meta.read_text())
        if record["stamp"] != _stamp(data) or member.stat().st_size != record["compress_size"]:
            return None
        return StoredManifest(
            member,
            record["crc"],
            record["size"],
            record["compress_size"],
            record["sha256"],
            bool(record["evidence"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget(data_id: int) -> None:
    """Remove what was recorded for a Data row (deleted, or its rows rewritten)."""
    for path in _paths(data_id):
        with contextlib.suppress(OSError):
            path.unlink()


@receiver(post_save, sender=Image, dispatch_uid="manifest_store_image_saved")
def _image_saved(sender, instance: Image, **kwargs) -> None:
    forget(instance.data_id)


@receiver(post_delete, sender=Data, dispatch_uid="manifest_store_data_deleted")
def _data_deleted(sender, instance: Data, **kwargs) -> None:
    # On Data, not Image: a receiver on Image would make Django load every row of a deleted
    # task to send it.
    forget(instance.pk)
