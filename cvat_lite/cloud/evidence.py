"""What a bucket says about an object, kept to check later that another bucket holds the same.

``Evidence`` is an object's size and the fingerprints its provider gives: a real content MD5
(an S3 single-part ETag, Azure's Content-MD5, GCS's md5Hash), the ETag as listed (opaque: equal
ETags mean the same object, different ones prove nothing — a multipart upload with other part
sizes, an SSE-KMS object, another provider), and GCS's CRC32C. It is never CVAT's manifest
``checksum`` (the MD5 of the decoded pixels, see ``media.images.pixel_md5``).

``compare`` tells whether a listed object is the recorded one, using only what both sides have
of the same kind, so a missing or incomparable fingerprint is never a mismatch.

Backups carry the evidence in a member ``cloud_objects.jsonl`` (one JSON object per object:
``key`` relative to the manifest's folder, like the manifest's names, then ``size``, ``md5``,
``etag``, ``crc32c`` where known). Django-free and network-free.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from cvat_lite.cloud.base import ObjectInfo
from cvat_lite.errors import ArchiveError

CLOUD_OBJECTS = "cloud_objects.jsonl"
MAX_LINE = 8 * 1024
MAX_ETAG = 128

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX8 = re.compile(r"^[0-9a-f]{8}$")

MSG_BAD_LINE = "{member}: line {line} is not a valid object record ({problem})."


@dataclass(frozen=True)
class Evidence:
    size: int | None = None
    md5: str = ""  # lowercase hex, a real content MD5 only
    etag: str = ""  # as the provider lists it, without quotes
    crc32c: str = ""  # lowercase hex

    @classmethod
    def of(cls, info: ObjectInfo) -> Evidence:
        return cls(
            size=info.size,
            md5=(info.md5 or "").lower(),
            etag=normal_etag(info.etag),
            crc32c=(info.crc32c or "").lower(),
        )

    @property
    def fingerprinted(self) -> bool:
        return bool(self.md5 or self.etag or self.crc32c)

    def learned(self, listed: Evidence) -> Evidence:
        """This evidence updated with a listing of the same content in another bucket: its
        size and ETag are the listing's, its MD5 and CRC32C too when the listing has them (the
        content's MD5 stays true where the new bucket does not give one)."""
        return Evidence(
            size=listed.size if listed.size is not None else self.size,
            md5=listed.md5 or self.md5,
            etag=listed.etag,
            crc32c=listed.crc32c or self.crc32c,
        )

    def to_record(self, key: str) -> dict[str, Any]:
        record: dict[str, Any] = {"key": key}
        if self.size is not None:
            record["size"] = self.size
        for name in ("md5", "etag", "crc32c"):
            if value := getattr(self, name):
                record[name] = value
        return record


def normal_etag(etag: str | None) -> str:
    value = (etag or "").strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')[:MAX_ETAG]


class Verdict(enum.Enum):
    MATCH = "match"  # a fingerprint is equal (and nothing differs)
    MISMATCH = "mismatch"  # the size or a CRC32C differs: another object
    MD5_DIFFERS = "md5_differs"  # only the MD5s differ: the listed one may not be an MD5
    UNKNOWN = "unknown"  # no fingerprint of the same kind on both sides


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    size_compared: bool


def compare(recorded: Evidence, listed: Evidence) -> Comparison:
    """Is ``listed`` the object ``recorded`` describes (see the module docstring)."""
    sized = recorded.size is not None and listed.size is not None
    if sized and recorded.size != listed.size:
        return Comparison(Verdict.MISMATCH, sized)
    if recorded.crc32c and listed.crc32c:
        verdict = Verdict.MATCH if recorded.crc32c == listed.crc32c else Verdict.MISMATCH
        if verdict is Verdict.MISMATCH or not (recorded.md5 and listed.md5):
            return Comparison(verdict, sized)
    if recorded.md5 and listed.md5:
        verdict = Verdict.MATCH if recorded.md5 == listed.md5 else Verdict.MD5_DIFFERS
        return Comparison(verdict, sized)
    if recorded.etag and recorded.etag == listed.etag:
        return Comparison(Verdict.MATCH, sized)
    return Comparison(Verdict.UNKNOWN, sized)


# --- cloud_objects.jsonl -----------------------------------------------------------------------


def write_records(records: Iterable[dict[str, Any]], stream: IO[bytes]) -> int:
    """Write one JSON object per line; returns how many."""
    count = 0
    for record in records:
        stream.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode())
        stream.write(b"\n")
        count += 1
    return count


def _parse(record: Any) -> tuple[str, Evidence]:
    if not isinstance(record, dict):
        raise ValueError("not an object")
    key = record.get("key")
    if not isinstance(key, str) or not key:
        raise ValueError("no key")
    size = record.get("size")
    if size is not None and (type(size) is not int or size < 0):
        raise ValueError("size")
    md5, etag, crc32c = (record.get(name, "") for name in ("md5", "etag", "crc32c"))
    if not isinstance(md5, str) or (md5 and not _HEX32.match(md5)):
        raise ValueError("md5")
    if not isinstance(crc32c, str) or (crc32c and not _HEX8.match(crc32c)):
        raise ValueError("crc32c")
    if not isinstance(etag, str) or len(etag) > MAX_ETAG:
        raise ValueError("etag")
    return key, Evidence(size=size, md5=md5, etag=etag, crc32c=crc32c)


def read_records(
    stream: IO[bytes], *, member: str = CLOUD_OBJECTS
) -> Iterator[tuple[str, Evidence]]:
    """``(key, evidence)`` of each line of a ``cloud_objects.jsonl``; ArchiveError naming the
    line for anything else (blank lines are skipped)."""
    lines = iter(lambda: stream.readline(MAX_LINE + 1), b"")
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE:
            raise ArchiveError(
                MSG_BAD_LINE.format(member=member, line=number, problem="too long"),
                extra={"member": member},
            )
        if not line.strip():
            continue
        try:
            yield _parse(json.loads(line))
        except ValueError as exc:  # JSONDecodeError is a ValueError
            problem = "not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise ArchiveError(
                MSG_BAD_LINE.format(member=member, line=number, problem=problem),
                extra={"member": member},
            ) from None
