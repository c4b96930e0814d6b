import io
import itertools
import json

import pytest

from cvat_lite.errors import BadRequest, ManifestError
from cvat_lite.media import manifest as m
from cvat_lite.media.manifest import (
    ManifestEntry,
    entry_from_key,
    manifest_dir,
    read_manifest,
    relative_key,
    write_manifest,
)

HEADER = [b'{"version":"1.1"}', b'{"type":"images"}']
GOOD = {"name": "a", "extension": ".jpg", "width": 720, "height": 405}


def _line(**changes):
    value = {**GOOD, **changes}
    return json.dumps({k: v for k, v in value.items() if v is not ...}).encode()


def _read(*lines, **kwargs):
    return list(read_manifest(io.BytesIO(b"\n".join(lines) + b"\n"), **kwargs))


def _refusal(*lines, **kwargs):
    with pytest.raises(ManifestError) as caught:
        _read(*lines, **kwargs)
    error = caught.value
    assert error.code == "invalid_manifest"
    assert error.extra["line"] == int(error.message.split()[2].rstrip(":"))
    return error.extra["line"], error.message


ENTRIES = [
    ManifestEntry("dir/img1", ".jpg", 720, 405),
    ManifestEntry(
        "dir/img2",
        ".PNG",
        1,
        2,
        checksum="0123456789abcdef0123456789abcdef",
        related_images=("dir/related/ctx1.png", "dir/related/ctx 2.jpg"),
    ),
    ManifestEntry("no_extension", "", 3, 4),
    ManifestEntry("ünïcødé/画像", ".webp", 5, 6),
]


# --- writing and round trip -------------------------------------------------------------------


def test_write_is_compact_with_cvat_key_order():
    out = io.BytesIO()
    assert write_manifest(ENTRIES[:2], out) == 2
    assert out.getvalue().decode().splitlines() == [
        '{"version":"1.1"}',
        '{"type":"images"}',
        '{"name":"dir/img1","extension":".jpg","width":720,"height":405}',
        '{"name":"dir/img2","extension":".PNG","width":1,"height":2,'
        '"meta":{"related_images":["dir/related/ctx1.png","dir/related/ctx 2.jpg"]},'
        '"checksum":"0123456789abcdef0123456789abcdef"}',
    ]


def test_round_trip(tmp_path):
    path = tmp_path / "manifest.jsonl"
    with path.open("wb") as out:
        assert write_manifest(iter(ENTRIES), out) == len(ENTRIES)
    with path.open("rb") as stream:
        assert list(read_manifest(stream)) == ENTRIES


VALID = [*ENTRIES, ManifestEntry('q"uote', ".j\u2028g", 2**31 - 1, 1, "ABCDEF0123456789" * 2)]
UNCHECKED = [  # written as given with validated=True (the reader would refuse them)
    ManifestEntry("back\\slash", "", 1, 1),
    ManifestEntry("tab\tdel\x7f", "", 1, 1, related_images=("ctx/é 1.png",)),
]


@pytest.mark.parametrize(("entries", "validated"), [(VALID, False), (VALID + UNCHECKED, True)])
def test_written_lines_are_json_dumps_of_the_entries(entries, validated):
    out = io.BytesIO()
    assert write_manifest(entries, out, validated=validated) == len(entries)
    assert out.getvalue().splitlines()[2:] == [
        json.dumps(m._entry_to_dict(entry), separators=(",", ":"), ensure_ascii=False).encode()
        for entry in entries
    ]


def test_write_empty_manifest_reads_back_empty():
    out = io.BytesIO()
    assert write_manifest([], out) == 0
    assert list(read_manifest(io.BytesIO(out.getvalue()))) == []


def test_write_refuses_an_invalid_entry():
    with pytest.raises(ManifestError) as caught:
        write_manifest([ENTRIES[0], ManifestEntry("../x", ".jpg", 1, 1)], io.BytesIO())
    assert caught.value.message == "Manifest entry 2: the name '../x' contains a '..' segment."
    assert caught.value.extra == {"entry": 2}


def test_entry_path():
    assert ENTRIES[0].path == "dir/img1.jpg"
    assert ENTRIES[2].path == "no_extension"


# --- reading what CVAT writes -----------------------------------------------------------------


def test_reads_cvat_manifest_with_optional_and_unknown_keys():
    entries = _read(
        b'{"version":"1.0"}',
        b'{"type":"images"}',
        b'{"name":"img1","extension":".jpg","width":10,"height":20,"meta":{},'
        b'"checksum":"0123456789ABCDEF0123456789ABCDEF","original_key":"s3://x/img1.jpg"}',
        b'{"name":"img2","extension":".jpg","width":10,"height":20,"meta":null,"checksum":null,'
        b'"unknown":{"nested":[1,2]}}',
        b'{"name":"img3","extension":".jpg","width":10,"height":20,'
        b'"meta":{"related_images":[],"other":1}}',
    )
    assert entries == [
        ManifestEntry("img1", ".jpg", 10, 20, checksum="0123456789abcdef0123456789abcdef"),
        ManifestEntry("img2", ".jpg", 10, 20),
        ManifestEntry("img3", ".jpg", 10, 20),
    ]


def test_tolerates_bom_crlf_blank_and_trailing_lines():
    data = b'\xef\xbb\xbf{"version":"1.1"}\r\n\r\n{"type":"images"}\r\n' + _line() + b"\r\n\n  \n"
    assert list(read_manifest(io.BytesIO(data))) == [ManifestEntry("a", ".jpg", 720, 405)]


def test_last_line_without_newline():
    assert _read(*HEADER, _line())[0].name == "a"
    data = HEADER[0] + b"\n" + HEADER[1] + b"\n" + _line()
    assert next(read_manifest([data])).width == 720


def test_chunks_need_not_be_lines():
    data = b"\n".join([*HEADER, _line(name="a"), _line(name="b"), _line(name="c")])
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    assert [entry.name for entry in read_manifest(chunks)] == ["a", "b", "c"]


def test_duplicates_allowed_on_request():
    lines = (*HEADER, _line(), _line(name="b"), _line())
    assert len(_read(*lines, allow_duplicates=True)) == 3


def test_an_allowed_duplicate_must_repeat_the_same_entry():
    line, message = _refusal(*HEADER, _line(), _line(width=1), allow_duplicates=True)
    assert message == m.LINE_ERROR.format(
        line=line, problem=m.REPEATED_DIFFERENT.format(path=repr(GOOD["name"] + GOOD["extension"]))
    )


def test_same_name_with_other_extension_is_not_a_duplicate():
    assert len(_read(*HEADER, _line(), _line(extension=".png"))) == 2


# --- refusals ---------------------------------------------------------------------------------


def test_the_message_format():
    assert _refusal(*HEADER, _line(), _line(name="b"), _line(name="c", width=-1)) == (
        5,
        "Manifest line 5: 'width' must be a positive integer.",
    )


HEADER_REFUSALS = [
    ([], 1, m.EMPTY_MANIFEST),
    ([b"", b"  "], 1, m.EMPTY_MANIFEST),
    ([b'{"type":"images"}'], 1, m.NO_VERSION),
    ([b'{"version":"2.0"}'], 1, m.BAD_VERSION.format(version="'2.0'")),
    ([b'{"version":1.1}'], 1, m.BAD_VERSION.format(version="'1.1'")),
    ([b'{"version":"1.1"}'], 2, m.NO_TYPE),
    ([b'{"version":"1.1"}', b'{"name":"a"}'], 2, m.NO_TYPE),
    ([b'{"version":"1.1"}', b'{"type":"video"}'], 2, m.VIDEO_TYPE),
    ([b'{"version":"1.1"}', b'{"type":"3d"}'], 2, m.BAD_TYPE.format(type="'3d'")),
    ([b"[1]"], 1, m.NOT_OBJECT),
    ([b"{"], 1, m.NOT_JSON),
]


@pytest.mark.parametrize(("lines", "line", "problem"), HEADER_REFUSALS)
def test_header_refusals(lines, line, problem):
    data = b"".join(item + b"\n" for item in lines)
    with pytest.raises(ManifestError) as caught:
        list(read_manifest(io.BytesIO(data)))
    assert caught.value.message == f"Manifest line {line}: {problem}"
    assert caught.value.extra == {"line": line}


def test_video_message_text():
    assert _refusal(HEADER[0], b'{"type":"video"}')[1] == (
        "Manifest line 2: video manifests are not supported; "
        'only image manifests ("type":"images") are.'
    )


BAD_NAMES = [
    ("/abs", "is absolute"),
    ("../up", "contains a '..' segment"),
    ("a/../b", "contains a '..' segment"),
    ("a\\b", "contains a backslash"),
    ("a\x00b", "contains a NUL character"),
    ("C:/x", "starts with a drive letter"),
    ("a//b", "contains an empty segment"),
    ("a/", "contains an empty segment"),
    ("a\tb", "contains a control character"),
    ("", "is empty"),
]


@pytest.mark.parametrize(("name", "reason"), BAD_NAMES)
def test_bad_names(name, reason):
    problem = m.BAD_NAME.format(name=repr(name), reason=reason)
    assert _refusal(*HEADER, _line(name=name)) == (3, f"Manifest line 3: {problem}")


@pytest.mark.parametrize(("path", "reason"), BAD_NAMES)
def test_bad_related_images(path, reason):
    line = _line(meta={"related_images": ["ok/ctx.png", path]})
    problem = m.BAD_RELATED.format(path=repr(path), reason=reason)
    assert _refusal(*HEADER, line) == (3, f"Manifest line 3: {problem}")


ENTRY_REFUSALS = [
    ({"width": True}, m.NOT_POSITIVE.format(key="width")),
    ({"height": False}, m.NOT_POSITIVE.format(key="height")),
    ({"width": "720"}, m.NOT_POSITIVE.format(key="width")),
    ({"width": -1}, m.NOT_POSITIVE.format(key="width")),
    ({"height": 0}, m.NOT_POSITIVE.format(key="height")),
    ({"width": 720.0}, m.NOT_POSITIVE.format(key="width")),
    ({"width": None}, m.NOT_POSITIVE.format(key="width")),
    ({"width": 2**31}, m.TOO_BIG.format(key="width", limit=2**31 - 1)),
    ({"name": ...}, m.MISSING_KEY.format(key="name")),
    ({"extension": ...}, m.MISSING_KEY.format(key="extension")),
    ({"width": ...}, m.MISSING_KEY.format(key="width")),
    ({"height": ...}, m.MISSING_KEY.format(key="height")),
    ({"name": 1}, m.NOT_STRING.format(key="name")),
    ({"extension": None}, m.NOT_STRING.format(key="extension")),
    ({"extension": "jpg"}, m.BAD_EXTENSION.format(extension="'jpg'")),
    ({"extension": ".j/pg"}, m.BAD_EXTENSION.format(extension="'.j/pg'")),
    ({"extension": ".j\\pg"}, m.BAD_EXTENSION.format(extension="'.j\\\\pg'")),
    ({"extension": ".j\x00"}, m.BAD_EXTENSION.format(extension="'.j\\x00'")),
    (
        {"name": "a" * 1021},
        m.BAD_PATH.format(path=repr("a" * 200) + "...", reason="is longer than 1024 bytes"),
    ),
    ({"meta": []}, m.BAD_META),
    ({"meta": {"related_images": "a.png"}}, m.BAD_RELATED_LIST),
    ({"meta": {"related_images": [1]}}, m.BAD_RELATED_LIST),
    ({"checksum": "abc"}, m.BAD_CHECKSUM),
    ({"checksum": "g" * 32}, m.BAD_CHECKSUM),
    ({"checksum": "0" * 33}, m.BAD_CHECKSUM),
    ({"checksum": 12}, m.BAD_CHECKSUM),
]


@pytest.mark.parametrize(("changes", "problem"), ENTRY_REFUSALS)
def test_entry_refusals(changes, problem):
    assert _refusal(*HEADER, _line(name="first"), _line(**changes)) == (
        4,
        f"Manifest line 4: {problem}",
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"{not json}", m.NOT_JSON),
        (b'{"name": "a",}', m.NOT_JSON),
        (b"[" * 100_000, m.TOO_DEEP),  # nesting deep enough for a RecursionError
        (b'{"width":' + b"9" * 5000 + b"}", m.NOT_JSON),  # int literal over Python's limit
        (b"NaN", m.NOT_OBJECT),
        (b'"a string"', m.NOT_OBJECT),
        (b"null", m.NOT_OBJECT),
        (b'{"name":"\xff\xfe","extension":".jpg"}', m.NOT_UTF8),
        (
            b'{"name":"a\\ud800","extension":".jpg","width":1,"height":1}',
            m.BAD_NAME.format(name="'a\\ud800'", reason="is not valid UTF-8"),
        ),
    ],
)
def test_line_refusals(raw, problem):
    assert _refusal(*HEADER, raw, max_line_length=200_000) == (3, f"Manifest line 3: {problem}")


@pytest.mark.parametrize(
    "line",
    [
        b" " + json.dumps(GOOD).encode() + b" \t",  # padded: json.loads accepts it
        b"\t" + json.dumps(GOOD).encode(),
        json.dumps(GOOD, indent=None, separators=(" , ", " : ")).encode(),
        json.dumps({**GOOD, "meta": {"related_images": ["r/1.png"]}}).encode(),
    ],
)
def test_lines_read_as_json_loads_reads_them(line):
    expected = m._parse_entry(json.loads(line))
    assert _read(*HEADER, line) == [expected]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (json.dumps(GOOD).encode() + b" x", m.NOT_JSON),  # one object, then more text
        (json.dumps(GOOD).encode() * 2, m.NOT_JSON),
        ("\ufeff".encode() + json.dumps(GOOD).encode(), m.NOT_JSON),  # a BOM past line 1
    ],
)
def test_text_after_or_before_the_object_is_refused(raw, problem):
    assert _refusal(*HEADER, raw) == (3, f"Manifest line 3: {problem}")


def test_duplicate_is_refused():
    assert _refusal(*HEADER, _line(), _line(name="b"), _line(width=1)) == (
        5,
        "Manifest line 5: the image 'a.jpg' is listed more than once.",
    )


def test_over_long_line():
    assert _refusal(*HEADER, _line(name="x" * 100), max_line_length=100) == (
        3,
        "Manifest line 3: the line is longer than 100 bytes.",
    )


def test_over_long_line_is_refused_without_reading_it_all():
    consumed = 0

    def endless():
        nonlocal consumed
        yield b"\n".join(HEADER) + b"\n"
        while True:
            consumed += 1
            yield b"x" * 1000

    with pytest.raises(ManifestError) as caught:
        list(read_manifest(endless(), max_line_length=10_000))
    assert caught.value.message == "Manifest line 3: the line is longer than 10000 bytes."
    assert consumed <= 12


def test_max_entries():
    lines = (*HEADER, _line(name="a"), _line(name="b"), _line(name="c"))
    assert len(_read(*lines, max_entries=3)) == 3
    assert _refusal(*lines, max_entries=2) == (
        5,
        "Manifest line 5: the manifest lists more than 2 images.",
    )


def test_entries_before_an_error_are_yielded():
    entries = read_manifest(io.BytesIO(b"\n".join([*HEADER, _line(), b"oops"])))
    assert next(entries).name == "a"
    with pytest.raises(ManifestError):
        next(entries)


# --- streaming --------------------------------------------------------------------------------


def _big_manifest(count, consumed):
    yield from (line + b"\n" for line in HEADER)
    for index in range(count):
        consumed.append(index)
        yield b'{"name":"d/img%d","extension":".jpg","width":640,"height":480}\n' % index


def test_nothing_is_read_before_iteration():
    consumed = []
    entries = read_manifest(_big_manifest(10, consumed))
    assert consumed == []
    next(entries)
    assert consumed == [0]


def test_streams_a_100000_line_manifest():
    consumed = []
    entries = read_manifest(_big_manifest(100_000, consumed))
    first = next(entries)
    assert first == ManifestEntry("d/img0", ".jpg", 640, 480)
    assert len(consumed) == 1
    count = 1 + sum(1 for _ in entries)
    assert count == 100_000
    assert len(consumed) == 100_000


def test_reads_a_binary_file_in_chunks(tmp_path):
    path = tmp_path / "manifest.jsonl"
    with path.open("wb") as out:
        write_manifest((ManifestEntry(f"img{i}", ".jpg", 1, 1) for i in range(5_000)), out)
    with path.open("rb") as stream:
        entries = read_manifest(stream)
        assert next(entries).name == "img0"
        assert stream.tell() < path.stat().st_size  # only the first chunk was read
        assert sum(1 for _ in itertools.chain([None], entries)) == 5_000


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "name", "extension"),
    [
        ("img.jpg", "img", ".jpg"),
        ("dir/sub/img.JPEG", "dir/sub/img", ".JPEG"),
        ("a/b.tar.gz", "a/b.tar", ".gz"),
        ("noext", "noext", ""),
        ("dir.d/noext", "dir.d/noext", ""),
        ("dir/.hidden", "dir/.hidden", ""),
        ("img.", "img", "."),
    ],
)
def test_entry_from_key(key, name, extension):
    entry = entry_from_key(key, 10, 20, "A" * 32, ["ctx/1.png"])
    assert entry == ManifestEntry(name, extension, 10, 20, "a" * 32, ("ctx/1.png",))
    assert entry.path == key


def test_entry_from_key_refusals():
    with pytest.raises(BadRequest) as caught:
        entry_from_key("../img.jpg", 1, 1)
    assert caught.value.code == "invalid_path"
    with pytest.raises(ManifestError) as caught:
        entry_from_key("img.jpg", 0, 1)
    assert caught.value.message == "Manifest entry 'img.jpg': 'width' must be a positive integer."
    assert caught.value.extra == {"key": "img.jpg"}
    with pytest.raises(ManifestError) as caught:
        entry_from_key("img.jpg", 1, 1, related_images=["/etc/passwd"])
    assert caught.value.message == (
        "Manifest entry 'img.jpg': the related image '/etc/passwd' is absolute."
    )


def test_relative_key_and_manifest_dir():
    assert manifest_dir("set1/manifest.jsonl") == "set1"
    assert manifest_dir("a/b/manifest.jsonl") == "a/b"
    assert manifest_dir("manifest.jsonl") == ""
    assert relative_key("set1/manifest.jsonl", "img1.jpg") == "set1/img1.jpg"
    assert relative_key("set1/manifest.jsonl", "dir/img1.jpg") == "set1/dir/img1.jpg"
    assert relative_key("manifest.jsonl", "img1.jpg") == "img1.jpg"
    for bad in (("../manifest.jsonl", "a.jpg"), ("set1/manifest.jsonl", "../a.jpg")):
        with pytest.raises(BadRequest):
            relative_key(*bad)
