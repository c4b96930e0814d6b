"""``cloud.evidence``: comparing what two buckets say of an object, and cloud_objects.jsonl."""

from __future__ import annotations

import io

import pytest

from cvat_lite.cloud.base import ObjectInfo
from cvat_lite.cloud.evidence import (
    Evidence,
    Verdict,
    compare,
    normal_etag,
    read_records,
    write_records,
)
from cvat_lite.errors import ArchiveError

MD5 = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"


@pytest.mark.parametrize(
    ("recorded", "listed", "verdict", "sized"),
    [
        (Evidence(10, MD5), Evidence(10, MD5), Verdict.MATCH, True),
        (Evidence(10, MD5), Evidence(11, MD5), Verdict.MISMATCH, True),  # size settles it
        (Evidence(10, MD5), Evidence(10, OTHER), Verdict.MD5_DIFFERS, True),  # head confirms
        (Evidence(10, MD5), Evidence(10, etag="abc-2"), Verdict.UNKNOWN, True),  # multipart
        (Evidence(10, etag="abc-2"), Evidence(10, etag="abc-2"), Verdict.MATCH, True),
        (Evidence(10, etag="abc-2"), Evidence(10, etag="abd-3"), Verdict.UNKNOWN, True),
        (Evidence(10, crc32c="0a0b0c0d"), Evidence(10, crc32c="0a0b0c0d"), Verdict.MATCH, True),
        (Evidence(10, crc32c="0a0b0c0d"), Evidence(10, crc32c="ffffffff"), Verdict.MISMATCH, True),
        (Evidence(None, MD5), Evidence(10, MD5), Verdict.MATCH, False),
        (Evidence(), Evidence(10, MD5, "e", "0a0b0c0d"), Verdict.UNKNOWN, False),
        (
            Evidence(10, MD5, crc32c="0a0b0c0d"),
            Evidence(10, OTHER, crc32c="0a0b0c0d"),
            Verdict.MD5_DIFFERS,
            True,
        ),
    ],
)
def test_compare_uses_only_kinds_both_sides_have(recorded, listed, verdict, sized):
    result = compare(recorded, listed)
    assert (result.verdict, result.size_compared) == (verdict, sized)


def test_evidence_from_a_listing_and_learning():
    info = ObjectInfo("k", 5, MD5.upper(), '"etag-1"', "0A0B0C0D")
    listed = Evidence.of(info)
    assert listed == Evidence(5, MD5, "etag-1", "0a0b0c0d")
    assert normal_etag('W/"x"') == "x"

    # a new bucket without an MD5 (multipart) keeps the content's MD5, takes its ETag
    learned = Evidence(5, MD5, "old", "").learned(Evidence(5, "", "new-2", ""))
    assert learned == Evidence(5, MD5, "new-2", "")


def test_cloud_objects_records_round_trip():
    records = [
        Evidence(5, MD5, "e1", "0a0b0c0d").to_record("a/b.jpg"),
        Evidence(7).to_record("c.png"),
    ]
    stream = io.BytesIO()
    assert write_records(records, stream) == 2
    assert stream.getvalue().splitlines()[1] == b'{"key":"c.png","size":7}'
    stream.seek(0)
    assert list(read_records(stream)) == [
        ("a/b.jpg", Evidence(5, MD5, "e1", "0a0b0c0d")),
        ("c.png", Evidence(7)),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "not an object"),
        (b'{"size": 1}', "no key"),
        (b'{"key": "a", "size": -1}', "size"),
        (b'{"key": "a", "size": true}', "size"),
        (b'{"key": "a", "md5": "xyz"}', "md5"),
        (b'{"key": "a", "crc32c": "123"}', "crc32c"),
        (b'{"key": "a", "etag": 5}', "etag"),
        (b'{"key": "' + b"a" * 9000 + b'"}', "too long"),
    ],
)
def test_invalid_records_name_the_line(line, problem):
    stream = io.BytesIO(b'{"key": "ok"}\n' + line + b"\n")
    with pytest.raises(ArchiveError) as caught:
        list(read_records(stream, member="task_0/cloud_objects.jsonl"))
    assert caught.value.message == (
        f"task_0/cloud_objects.jsonl: line 2 is not a valid object record ({problem})."
    )
