"""Backup ZIP archives: a streaming writer and a reader that validates everything on open.

Pure code: no ORM, no network. Every problem with an archive is an ``ArchiveError`` whose
message is a module constant completed only with the archive's own values (member names, line
numbers) and the limits; never with exception text.

Writing (``writer.ArchiveWriter``): members go out as a stream to any binary file object,
seekable or not, one chunk at a time; already-compressed media (JPEG, PNG, ...) are STORED, the
rest DEFLATED. The sha256 of every member is computed while it is written, and ``close()`` adds
``checksums.sha256`` (``sha256sum`` format, one ``<hex>  <name>`` line per member **in write
order**) as the last member. If the ``with`` block fails, no central directory is written: a
partial archive is never a readable one.

Reading (``reader.ArchiveReader``): on open, the central directory is checked as a whole
against ``Limits``: member names (``names.member_name_problem``), symlinks, duplicates,
files that are also folders, encryption, compression methods, sizes, compression ratios and
overlapping members; a ``checksums.sha256`` must list every member exactly once. Reads are
streams that count the bytes a member really inflates to, map CRC and inflate errors to
``ArchiveError`` and, when the archive has checksums, verify the member's sha256 as its last
byte is read, so media are read once. ``verify_checksums()`` then hashes only the members that
were not read whole. Archives without ``checksums.sha256`` (CVAT's) are accepted.

``safe_json.load_json`` parses the archive's JSON documents strictly; ``load_json_lazily`` does
the same for annotations.json, leaving its lists of objects to be parsed one object at a time.
"""

from cvat_lite.backup.archive.names import CHECKSUMS_NAME, member_name_problem
from cvat_lite.backup.archive.reader import ArchiveReader
from cvat_lite.backup.archive.safe_json import (
    MAX_JSON_DEPTH,
    MAX_NUMBER_DIGITS,
    LazyItems,
    load_json,
    load_json_lazily,
)
from cvat_lite.backup.archive.writer import STORED_EXTENSIONS, ArchiveWriter
from cvat_lite.backup.limits import Limits

__all__ = [
    "CHECKSUMS_NAME",
    "MAX_JSON_DEPTH",
    "MAX_NUMBER_DIGITS",
    "STORED_EXTENSIONS",
    "ArchiveReader",
    "ArchiveWriter",
    "LazyItems",
    "Limits",
    "load_json",
    "load_json_lazily",
    "member_name_problem",
]
