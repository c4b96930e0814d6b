"""Does a bucket hold a task's media (contract 7.5): ``relink_verify``, in bounded memory.

A cloud task's Image rows are its media manifest: ``Image.path`` (and each of its
``related_files``) is a full object key; ``Image.checksum`` is CVAT's manifest checksum (the MD5
of the decoded pixels, never an object's MD5); ``Image.object_*`` is what a bucket said of the
object (``cloud.evidence``). The check is ONE paged listing under the keys' longest common
folder (never a request per object):

1. every key is listed;
2. size and fingerprints are compared where both the recorded evidence and the listing have the
   same kind (``evidence.compare``): a different size or CRC32C is another object; different
   MD5s are confirmed with ``head`` (an S3 listing shows the ETag of an SSE-KMS object, which is
   not its MD5); equal MD5s, CRC32Cs or ETags verify the object; anything else proves nothing;
3. the objects that only have CVAT's pixel checksum are verified by content on a random sample
   (``content_sample``, default ``settings.RELINK_CONTENT_SAMPLE``; None: all): downloaded,
   decoded, ``pixel_md5`` compared.

Memory does not grow with the task: the rows are read in byte order of their keys (``ordered``),
chunk by chunk, and merged with the listing, which S3 returns in that order (a listing out of
order is sorted on disk first); what is reported keeps the first ``REPORTED_KEYS`` keys in
frame order and counts the rest; the random sample is a reservoir; what a successful relink
learns (moved keys, the listing's evidence) is written in batches to a temporary file that
``relink_save`` reads back.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import random
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from cvat_lite import errors
from cvat_lite.cloud.base import CloudProvider, ObjectInfo
from cvat_lite.cloud.evidence import Evidence, Verdict, compare
from cvat_lite.engine.models import Data, Image
from cvat_lite.engine.services.relink.ordered import (
    OutOfOrder,
    RowsOutOfOrder,
    Spill,
    ascending,
    bytewise,
    external_sorted,
)
from cvat_lite.media.images import pixel_md5

REPORTED_KEYS = 100  # keys listed in a verification failure; the counts cover all of them
ROW_CHUNK = 2000
LEARN_BATCH = 5000
CONTENT_WORKERS = 8
CONTENT_BATCH = 256  # objects downloaded at a time when every candidate is checked

MSG_HOW = (
    "one listing under '{prefix}' ({listed} objects listed), {present} of {total} present; "
    "{fingerprints} compared by size/fingerprint ({fingerprint_matched} matched); "
    "{sampled} of {candidates} known only by CVAT's pixel checksum downloaded and compared "
    "({content_matched} matched); {unverified} present but not compared."
)

Progress = Callable[[float], None]
Position = tuple[int, int]  # (frame, 0 for the frame's own key, 1 + i for its i-th context image)


@dataclass(frozen=True)
class KeyMap:
    """Object keys under ``source`` ("" or a folder ending with "/") moved to ``target``. Every
    key of a task is under ``source``, so the move keeps their byte order."""

    source: str = ""
    target: str = ""

    @property
    def identity(self) -> bool:
        return self.source == self.target

    def __call__(self, key: str) -> str:
        return self.target + key[len(self.source) :]


@dataclass(frozen=True)
class Verification:
    """The outcome of ``relink_verify``: at most ``REPORTED_KEYS`` keys of each kind, in
    manifest order, the full counts, and how it was checked (not part of equality)."""

    missing: list[str] = field(default_factory=list)
    missing_count: int = 0
    mismatched: list[str] = field(default_factory=list)
    mismatched_count: int = 0
    checked: int = 0  # distinct object keys of the manifest
    prefix: str = field(default="", compare=False)  # the listing's prefix
    listed: int = field(default=0, compare=False)  # objects the listing returned
    present: int = field(default=0, compare=False)
    sizes_compared: int = field(default=0, compare=False)
    fingerprints_compared: int = field(default=0, compare=False)
    fingerprints_matched: int = field(default=0, compare=False)
    content_candidates: int = field(default=0, compare=False)
    content_sampled: int = field(default=0, compare=False)
    content_matched: int = field(default=0, compare=False)
    # the Image rows a successful relink rewrites: (pk, path, related_files, size, md5, etag,
    # crc32c), in batches on disk; None when nothing is to be learnt (a dry run)
    learned: Spill | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.missing_count and not self.mismatched_count

    @property
    def unverified(self) -> int:
        """Present objects that were neither compared by fingerprint nor by content."""
        checked = self.fingerprints_matched + self.content_matched + self.mismatched_count
        return max(self.present - checked, 0)

    @property
    def method(self) -> list[str]:
        used = ["listing"]
        if self.sizes_compared:
            used.append("size")
        if self.fingerprints_compared:
            used.append("fingerprint")
        if self.content_sampled:
            used.append("content_sample")
        return used

    def how(self) -> str:
        return MSG_HOW.format(
            prefix=self.prefix,
            listed=self.listed,
            present=self.present,
            total=self.checked,
            fingerprints=self.fingerprints_compared,
            fingerprint_matched=self.fingerprints_matched,
            sampled=self.content_sampled,
            candidates=self.content_candidates,
            content_matched=self.content_matched,
            unverified=self.unverified,
        )

    def report(self) -> dict[str, Any]:
        """The ``verification`` object of the API's answers."""
        return {
            "ok": self.ok,
            "method": self.method,
            "prefix": self.prefix,
            "listed": self.listed,
            "expected": self.checked,
            "present": self.present,
            "missing_count": self.missing_count,
            "missing": self.missing,
            "mismatched_count": self.mismatched_count,
            "mismatched": self.mismatched,
            "sizes_compared": self.sizes_compared,
            "fingerprints_compared": self.fingerprints_compared,
            "fingerprints_matched": self.fingerprints_matched,
            "content_candidates": self.content_candidates,
            "content_sampled": self.content_sampled,
            "content_matched": self.content_matched,
            "unverified": self.unverified,
            "summary": self.how(),
        }


# --- the task's keys, in byte order ------------------------------------------------------------

_ROW_FIELDS = ("id", "frame", "path", "checksum", "related_files", *Image.EVIDENCE_FIELDS)


@dataclass
class _Expected:
    """One distinct object key of the task, and what is expected of it."""

    key: str  # after the key map
    position: Position  # where it first occurs, for reports in frame order
    checksum: str  # CVAT's pixel MD5, "" when unknown
    evidence: Evidence | None  # None: nothing recorded (context images, CVAT's manifests)
    rows: list[tuple]  # the Image rows whose own key this is (_ROW_FIELDS)


def _frame_rows(data: Data) -> Generator[tuple, None, None]:
    """The Image rows (``_ROW_FIELDS``) in byte order of their key, then frame order; closing
    the generator closes the query's cursor."""
    yield from (
        Image.objects.filter(data=data)
        .order_by(bytewise("path"), "frame")
        .values_list(*_ROW_FIELDS)
        .iterator(chunk_size=ROW_CHUNK)
    )


def _related_keys(data: Data) -> Iterator[tuple[str, int, int]]:
    """(key, frame, index) of every context image, in byte order (sorted on disk if many)."""
    rows = (
        Image.objects.filter(data=data)
        .exclude(related_files=[])
        .values_list("frame", "related_files")
        .iterator(chunk_size=ROW_CHUNK)
    )
    items = (
        (key, frame, index)
        for frame, related in rows
        for index, key in enumerate(related or (), start=1)
    )
    return external_sorted(items, key=lambda item: item)


def _expected(data: Data, key_map: KeyMap) -> Generator[_Expected, None, None]:
    """Every distinct object key of ``data`` (after ``key_map``) in byte order; a key listed
    twice (e.g. honeypot frames) counts once, a frame's own key before a context image's."""
    rows = _frame_rows(data)
    try:
        yield from _distinct(rows, _related_keys(data), key_map)
    finally:
        rows.close()  # its server-side cursor, now (see ``relink_verify``)


def _distinct(
    frame_rows: Iterator[tuple], related_keys: Iterator[tuple[str, int, int]], key_map: KeyMap
) -> Iterator[_Expected]:
    frames = ascending(
        ((key_map(row[2]), 0, row) for row in frame_rows),
        key=lambda item: item[0],
        error=RowsOutOfOrder,
    )
    related = ((key_map(key), 1, (frame, index)) for key, frame, index in related_keys)
    merged = heapq.merge(frames, related, key=lambda item: item[0])
    for key, group in itertools.groupby(merged, key=lambda item: item[0]):
        rows: list[tuple] = []
        positions: list[Position] = []
        for _, kind, value in group:
            if kind == 0:
                rows.append(value)
                positions.append((value[1], 0))
            else:
                positions.append(value)
        chosen = None
        for row in sorted(rows, key=lambda row: row[1]):  # frame order
            if chosen is None or not chosen[3]:
                chosen = row
        if chosen is None:
            yield _Expected(key, min(positions), "", None, rows)
            continue
        size, md5, etag, crc32c = chosen[5:]
        evidence = Evidence(size, md5.lower(), etag, crc32c.lower())
        yield _Expected(
            key,
            min(positions),
            (chosen[3] or "").lower(),
            evidence if (evidence.size is not None or evidence.fingerprinted) else None,
            rows,
        )


def _bounds(data: Data) -> tuple[str, str] | None:
    """The least and greatest object key of ``data`` (frames and context images)."""
    base = Image.objects.filter(data=data).values_list("path", flat=True)
    low = base.order_by(bytewise("path")).first()
    high = base.order_by(bytewise("path").desc()).first()
    if low is None or high is None:
        return None
    for related in (
        Image.objects.filter(data=data)
        .exclude(related_files=[])
        .values_list("related_files", flat=True)
        .iterator(chunk_size=ROW_CHUNK)
    ):
        for key in related or ():
            low, high = min(low, key), max(high, key)
    return low, high


def listing_prefix(keys: Iterable[str]) -> str:
    """The longest common folder of ``keys`` ("dir/sub/"), "" when they share none. The
    common prefix of a set of strings is that of its least and greatest members."""
    keys = list(keys)
    low, high = min(keys, default=""), max(keys, default="")
    length = 0
    while length < min(len(low), len(high)) and low[length] == high[length]:
        length += 1
    return low[: low.rfind("/", 0, length) + 1]


def _sample_size(content_sample: int | None) -> int | None:
    """None: every candidate."""
    if content_sample is None:
        content_sample = settings.RELINK_CONTENT_SAMPLE
    return None if content_sample < 0 else content_sample


# --- bounded accumulators ----------------------------------------------------------------------


class _First:
    """The ``limit`` entries of least position, and how many there were."""

    def __init__(self, limit: int = REPORTED_KEYS):
        self.limit = limit
        self.count = 0
        self._heap: list[tuple[int, int, str, Any]] = []  # max-heap by position

    def add(self, position: Position, key: str, value: Any = None) -> None:
        self.count += 1
        entry = (-position[0], -position[1], key, value)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, entry)
        elif entry > self._heap[0]:
            heapq.heapreplace(self._heap, entry)

    def entries(self) -> list[tuple[Position, str, Any]]:
        """In position order."""
        ordered = sorted(self._heap, reverse=True)
        return [((-f, -i), key, value) for f, i, key, value in ordered]

    def keys(self) -> list[str]:
        return [key for _, key, _ in self.entries()]


class _Reservoir:
    """A uniform random sample of ``size`` of the items added (every item when None)."""

    def __init__(self, size: int | None, rng: random.Random):
        self.size = size
        self.rng = rng
        self.seen = 0
        self.items: list[tuple[str, str, Position]] = []

    def add(self, item: tuple[str, str, Position]) -> None:
        self.seen += 1
        if self.size is None or len(self.items) < self.size:
            self.items.append(item)
            return
        slot = self.rng.randrange(self.seen)
        if slot < self.size:
            self.items[slot] = item


def _joined(a: _Reservoir, b: _Reservoir, size: int | None, rng: random.Random) -> list:
    """A uniform sample of ``size`` of the union of what ``a`` and ``b`` sampled (disjoint)."""
    if size is None or a.seen + b.seen <= size:
        return a.items + b.items
    from_a = 0
    left_a, left_b = a.seen, b.seen
    for _ in range(size):  # draws without replacement: how many come from a
        if rng.randrange(left_a + left_b) < left_a:
            from_a += 1
            left_a -= 1
        else:
            left_b -= 1
    return rng.sample(a.items, from_a) + rng.sample(b.items, size - from_a)


# --- the merge ---------------------------------------------------------------------------------


@dataclass
class _Tally:
    provider: CloudProvider
    content_size: int | None
    rng: random.Random
    learn: Spill | None
    key_map: KeyMap
    listed: int = 0
    present: int = 0
    checked: int = 0
    sized: int = 0
    compared: int = 0
    matched: int = 0
    rows_done: int = 0
    sampled: int = 0
    content_bad: int = 0
    missing: _First = field(default_factory=_First)
    mismatched: _First = field(default_factory=_First)
    md5_differs: _First = field(default_factory=lambda: _First(2 * REPORTED_KEYS))
    candidates: _Reservoir = field(init=False)
    md5_candidates: _Reservoir = field(init=False)
    pending: list[tuple[str, str, Position]] = field(default_factory=list)  # "all": a batch

    def __post_init__(self) -> None:
        self.candidates = _Reservoir(self.content_size, self.rng)
        self.md5_candidates = _Reservoir(self.content_size, self.rng)

    # every present object whose content is to be compared goes through here
    def candidate(self, item: _Expected) -> None:
        if self.content_size is None:  # all of them: downloaded batch by batch
            self.candidates.seen += 1
            self.pending.append((item.key, item.checksum, item.position))
            if len(self.pending) >= CONTENT_BATCH:
                self.check_pending()
        else:
            self.candidates.add((item.key, item.checksum, item.position))

    def check_pending(self) -> None:
        batch, self.pending = self.pending, []
        for key, position, bad in _content_check(self.provider, batch):
            self.sampled += 1
            if bad:
                self.content_bad += 1
                self.mismatched.add(position, key)

    def present_object(self, item: _Expected, info: ObjectInfo) -> None:
        self.present += 1
        listed = Evidence.of(info)
        if self.learn is not None:
            self._learn(item, listed)
        if item.evidence is None:
            if item.checksum:
                self.candidate(item)
            return
        result = compare(item.evidence, listed)
        self.sized += result.size_compared
        if result.verdict is Verdict.UNKNOWN:
            if item.checksum:
                self.candidate(item)
            return
        self.compared += 1
        if result.verdict is Verdict.MATCH:
            self.matched += 1
        elif result.verdict is Verdict.MISMATCH:
            self.mismatched.add(item.position, item.key)
        else:
            self.md5_differs.add(item.position, item.key, (item.evidence.md5, item.checksum))
            if item.checksum:
                self.md5_candidates.add((item.key, item.checksum, item.position))

    def _learn(self, item: _Expected, listed: Evidence) -> None:
        assert self.learn is not None
        for pk, _frame, _path, _checksum, related, *recorded in item.rows:
            before = Evidence(*recorded)
            after = before.learned(listed)
            if self.key_map.identity and after == before:
                continue
            moved = [self.key_map(key) for key in related or ()]
            self.learn.add((pk, item.key, moved, after.size, after.md5, after.etag, after.crc32c))


def _merge(
    expected: Iterator[_Expected],
    listing: Iterator[ObjectInfo],
    tally: _Tally,
    progress: Progress,
    total_rows: int,
) -> None:
    """Walk the task's keys and the listing side by side, both in byte order; when every key
    was found, the listing is read only as far as the task's last key."""
    head: ObjectInfo | None = None
    exhausted = False
    for item in expected:
        tally.checked += 1
        while not exhausted:
            if head is None:
                head = next(listing, None)
                if head is None:
                    exhausted = True
                    break
                tally.listed += 1
            if head.key < item.key:  # another object (or a key listed twice)
                head = None
                continue
            break
        if head is not None and head.key == item.key:
            tally.present_object(item, head)
            head = None
        else:
            tally.missing.add(item.position, item.key)
        tally.rows_done += max(len(item.rows), 1)
        if total_rows:
            progress(min(tally.rows_done / total_rows, 1.0))
    if tally.missing.count and not exhausted:
        # A key taken for missing may still come in a listing that is not in byte order:
        # read the rest, so that ``ascending`` sees the order (the listing of a storage that
        # lacks objects is read to its end, as it always was).
        for _ in listing:
            tally.listed += 1


def relink_verify(
    *,
    data: Data,
    provider: CloudProvider,
    key_map: KeyMap | None = None,
    content_sample: int | None = None,
    learn: bool = False,
    progress: Progress | None = None,
) -> Verification:
    """Does the bucket of ``provider`` hold every object of ``data``'s manifest (see the module
    docstring). One paged listing (a second one only when the first is not in byte order).
    ``learn``: keep what a successful relink saves (``Verification.learned``). ``progress``
    gets the share of the task's rows done. Cloud errors (``CloudStorageError``…)
    propagate."""
    key_map = key_map or KeyMap()
    bounds = _bounds(data)
    prefix = listing_prefix(key_map(key) for key in bounds) if bounds else ""
    total_rows = Image.objects.filter(data=data).count()
    content_size = _sample_size(content_sample)
    report = progress or (lambda fraction: None)

    def attempt(listing: Iterator[ObjectInfo]) -> _Tally:
        tally = _Tally(
            provider,
            content_size,
            random.SystemRandom(),
            Spill(LEARN_BATCH) if learn else None,
            key_map,
        )
        expected = _expected(data, key_map)
        try:
            if bounds is not None:
                _merge(expected, listing, tally, report, total_rows)
        except BaseException:
            if tally.learn is not None:
                tally.learn.close()
            raise
        finally:
            # Closed here, not whenever the garbage collector finds it: the rows come from a
            # server-side cursor (PostgreSQL), and a failed listing's traceback keeps the
            # generator alive; finalised later, in the middle of another query on the same
            # connection, its cursor's CLOSE waits for the connection's lock that query holds.
            expected.close()
        return tally

    try:
        if bounds is None:  # no key: nothing to list
            tally = attempt(iter(()))
        else:
            tally = attempt(ascending(provider.iter_objects(prefix), key=lambda i: i.key))
    except OutOfOrder:  # not in byte order: sorted on disk, then merged
        tally = attempt(external_sorted(provider.iter_objects(prefix), key=lambda i: i.key))

    _settle_md5(tally)
    if tally.content_size is None:
        tally.check_pending()
    else:
        sample = tally.candidates.items
        for key, position, bad in _content_check(provider, sample):
            tally.sampled += 1
            if bad:
                tally.content_bad += 1
                tally.mismatched.add(position, key)
    candidates = tally.candidates.seen
    return Verification(
        missing=tally.missing.keys(),
        missing_count=tally.missing.count,
        mismatched=tally.mismatched.keys(),
        mismatched_count=tally.mismatched.count,
        checked=tally.checked,
        prefix=prefix,
        listed=tally.listed,
        present=tally.present,
        sizes_compared=tally.sized,
        fingerprints_compared=tally.compared,
        fingerprints_matched=tally.matched,
        content_candidates=candidates,
        content_sampled=tally.sampled,
        content_matched=tally.sampled - tally.content_bad,
        learned=tally.learn,
    )


def _settle_md5(tally: _Tally) -> None:
    """The MD5 mismatches that are real. A listed MD5 may not be one: S3 lists the ETag of an
    SSE-KMS / SSE-C object, which is not its MD5, and only ``head`` tells. So each mismatch
    is confirmed with ``head`` (failures only: a storage that verifies costs one listing), up
    to ``REPORTED_KEYS`` of them; when none of those had a real MD5, neither have the rest,
    which then prove nothing and join the content candidates."""
    differs = tally.md5_differs
    if not differs.count:
        return
    entries = differs.entries()
    checked, rest = entries[:REPORTED_KEYS], entries[REPORTED_KEYS:]
    confirmed: list[tuple[Position, str]] = []
    inconclusive: list[tuple[Position, str, str]] = []
    for position, key, (recorded_md5, checksum) in checked:
        try:
            md5 = tally.provider.head(key).md5
        except errors.CloudObjectNotFound:  # deleted since it was listed: not right either
            confirmed.append((position, key))
            continue
        if md5 is not None and md5.lower() != recorded_md5:
            confirmed.append((position, key))
        else:
            inconclusive.append((position, key, checksum))
    if confirmed:
        for position, key in confirmed:
            tally.mismatched.add(position, key)
        for position, key, _ in rest:  # the first of the unchecked ones, for the report
            tally.mismatched.add(position, key)
        tally.mismatched.count += differs.count - len(checked) - len(rest)
        tally.compared -= len(inconclusive)
        extra = _Reservoir(None, tally.rng)
        for position, key, checksum in inconclusive:
            if checksum:
                extra.add((key, checksum, position))
    else:  # none was an MD5: all of them prove nothing
        tally.compared -= differs.count
        extra = tally.md5_candidates
    if tally.content_size is None:
        for item in extra.items:
            tally.candidates.seen += 1
            tally.pending.append(item)
        return
    tally.candidates.items = _joined(tally.candidates, extra, tally.content_size, tally.rng)
    tally.candidates.seen += extra.seen


def _content_check(provider: CloudProvider, sample: list) -> Iterator[tuple[str, Position, bool]]:
    """Download each of ``sample`` ((key, checksum, position)) and compare CVAT's pixel
    checksum; yields (key, position, whether its pixels differ or it is no image)."""
    if not sample:
        return

    def differs(item: tuple[str, str, Position]) -> bool:
        key, checksum, _ = item
        try:
            content = provider.download(key)
        except errors.CloudObjectNotFound:  # deleted since it was listed
            return True
        if hashlib.md5(content, usedforsecurity=False).hexdigest() == checksum:
            return False  # the file's own MD5: what lightweight backups of tasks made from a
            # listing held before pixel checksums (identical bytes: as good as the pixels)
        try:
            return pixel_md5(content) != checksum
        except errors.BadRequest:  # not a decodable image
            return True

    with ThreadPoolExecutor(max_workers=min(CONTENT_WORKERS, len(sample))) as pool:
        results = list(pool.map(differs, sample))
    for (key, _, position), bad in zip(sample, results, strict=True):
        yield key, position, bad
