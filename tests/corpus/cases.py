"""The bad-input corpus (contract 9): every crafted upload, and what the server must answer.

One row per case: how the file is built (``generate``), how it is sent (multipart by default;
TUS or the cloud-storage form where the case is about the transport), where it is refused and
the exact message:

- ``Where.REFUSED``: a 4xx answer before anything is queued (``status``, ``code``);
- ``Where.FAILED``: 202, then the ``import:backup`` request fails with ``message``;
- ``Where.RESTORED``: not bad input after all (a decision, in ``decision``): the import
  finishes and ``check`` looks at what was restored.

For REFUSED and FAILED cases nothing may be left behind: rows, requests other than the
import's own, files under DATA_DIR (imports/ and uploads/ included), cache keys.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.backup.archives import add_alias, patch_member, symlink_member, task_backup

from . import generate as g

MEMBER_LIMIT = 600
LONG = 1300  # bytes: over the member name limit (1280)


class Where(enum.Enum):
    REFUSED = "refused before queueing (4xx)"
    FAILED = "failed request"
    RESTORED = "restored (not an error)"


class Send(enum.Enum):
    MULTIPART = "multipart task_file / project_file"
    CLOUD = "?location=cloud_storage (an S3 emulator bucket)"
    TUS_CREATE = "TUS create declaring the archive's length"
    TUS_OVERRUN = "TUS: declares N bytes, sends more"
    TUS_SHORT = "TUS: declares N bytes, sends fewer, then Upload-Finish"


@dataclass(frozen=True)
class Case:
    build: g.Builder
    message: str
    where: Where = Where.FAILED
    status: int | None = None  # REFUSED: the HTTP status
    code: str = "invalid_backup"  # REFUSED: the error code
    target: str = "task"
    send: Send = Send.MULTIPART
    settings: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[..., None] | None = None  # RESTORED: check(api, result_id)
    decision: str = ""  # why, where the spec leaves it open


def _first_member_over(limit: int) -> str:
    """The member of a 3-image full backup the reader reports first for ``limit``."""
    for name, content in task_backup(3).members.items():
        if len(content) > limit:
            return name
    raise AssertionError("no member over the limit")


def _long_member() -> str:
    return "data/" + "x" * (LONG - len("data/"))


def _shown(text: str) -> str:
    """``media.paths.shown``: quoted, cut after 200 characters."""
    return repr(text[:200]) + "..." if len(text) > 200 else repr(text)


BAD_ENTRY = {"name": "../evil", "extension": ".png", "width": 4, "height": 3}
EMOJI_NAME = "🐱" * 257  # 257 characters, 1,028 bytes of UTF-8


# --- checks of the restored cases --------------------------------------------------------------


def _check_unicode(api, task_id: int) -> None:
    task = api.get(f"/api/tasks/{task_id}").json()
    assert task["name"] == g.UNICODE_TASK_NAME
    labels = api.get(f"/api/labels?task_id={task_id}").json()["results"]
    assert g.UNICODE_LABEL in {label["name"] for label in labels}
    meta = api.get(f"/api/tasks/{task_id}/data/meta").json()
    assert [frame["name"] for frame in meta["frames"]] == g.UNICODE_PATHS
    first, second = (
        api.get(f"/api/tasks/{task_id}/data?type=frame&number={n}&quality=original") for n in (0, 1)
    )
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.content != second.content  # NFC and NFD: two images


def _check_honeypot(api, task_id: int) -> None:
    meta = api.get(f"/api/tasks/{task_id}/data/meta").json()
    assert [frame["name"] for frame in meta["frames"]] == g.HONEYPOT_PATHS
    frames = [
        api.get(f"/api/tasks/{task_id}/data?type=frame&number={n}&quality=original").content
        for n in (1, 3)
    ]
    assert frames[0] == frames[1]


def _check_deleted_frame_annotations(api, task_id: int) -> None:
    meta = api.get(f"/api/tasks/{task_id}/data/meta").json()
    assert meta["deleted_frames"] == [0]
    annotations = api.get(f"/api/tasks/{task_id}/annotations").json()
    assert [tag["frame"] for tag in annotations["tags"]] == [0, 1]
    assert 0 in {shape["frame"] for shape in annotations["shapes"]}


# --- the table ---------------------------------------------------------------------------------

CASES: dict[str, Case] = {
    # --- not a ZIP, or a broken one
    "empty file": Case(
        g.raw_bytes(b""), "The file is not a ZIP archive.", Where.REFUSED, status=400
    ),
    "text file": Case(
        g.raw_bytes(b"hello, world"), "The file is not a ZIP archive.", Where.REFUSED, status=400
    ),
    "PNG file": Case(
        g.raw_bytes(b"\x89PNG\r\n\x1a\n" * 10),
        "The file is not a ZIP archive.",
        Where.REFUSED,
        status=400,
    ),
    "starts like a ZIP but is not one": Case(
        g.raw_bytes(b"PK, but not a ZIP archive at all"), "The file is not a ZIP archive."
    ),
    "truncated": Case(g.truncated, "The ZIP archive is truncated or corrupt."),
    "corrupt member": Case(g.corrupt_member, "The archive member 'data/img1.png' is corrupt."),
    "empty ZIP": Case(g.empty_zip, "The archive has no task.json."),
    "a byte missing inside": Case(g.byte_missing, "The archive member 'data/img0.png' is corrupt."),
    "ZIP version 8.4 needed": Case(
        g.version_needed(84), "The ZIP archive needs a ZIP feature this server does not support."
    ),
    # --- member names and kinds
    "dot-dot": Case(
        g.members_plus(("data/../../x", b"x")),
        "The archive member 'data/../../x' contains a '..' segment.",
    ),
    "absolute path": Case(
        g.members_plus(("/etc/cron.d/x", b"x")), "The archive member '/etc/cron.d/x' is absolute."
    ),
    "drive letter": Case(
        g.members_plus(("C:/x.png", b"x")),
        "The archive member 'C:/x.png' starts with a drive letter.",
    ),
    "backslash": Case(
        g.members_plus(("data\\x.png", b"x")),
        "The archive member 'data\\\\x.png' contains a backslash.",
    ),
    "NUL in a member name": Case(
        g.patched(
            g.members_plus(("data/nul_.png", b"x")),
            lambda path: patch_member(path, "data/nul_.png", new_name=b"data/nul\x00.png"),
        ),
        "The archive member 'data/nul\\x00.png' contains a NUL character.",
    ),
    "member name starting with NUL": Case(
        g.patched(
            g.members_plus(("data/_x", b"x")),
            lambda path: patch_member(path, "data/_x", new_name=b"\x00ata/_x"),
        ),
        "The archive member '\\x00ata/_x' contains a NUL character.",
    ),
    "symlink": Case(
        g.members_plus(symlink_member("data/link.png", "/etc/passwd")),
        "The archive member 'data/link.png' is a symbolic link.",
    ),
    "duplicate member": Case(
        g.members_plus(("task.json", b"{}")),
        "The archive member 'task.json' appears more than once.",
    ),
    "file and folder": Case(
        g.members_plus(("task.json/x", b"x")),
        "The archive member 'task.json' is both a file and a folder.",
    ),
    "overlapping members": Case(
        g.patched(g.valid(), lambda path: add_alias(path, "annotations.json", "data/alias.png")),
        "The archive members 'annotations.json' and 'data/alias.png' overlap.",
    ),
    "encrypted member": Case(
        g.patched(
            g.edited(lambda backup: None, checksums=None),
            lambda path: patch_member(path, "task.json", flag_bits=0x1),
        ),
        "The archive member 'task.json' is encrypted.",
    ),
    "unsupported compression": Case(
        g.bzip2_member, "The archive member 'task.json' uses an unsupported compression method."
    ),
    "member name over the limit": Case(
        g.members_plus((_long_member(), b"x")),
        f"The archive member {_shown(_long_member())} is longer than 1280 bytes.",
    ),
    # --- sizes
    "member over the limit": Case(
        g.valid(),
        f"The archive member {_first_member_over(MEMBER_LIMIT)!r} is larger than "
        f"{MEMBER_LIMIT} bytes.",
        settings={"BACKUP_MAX_MEMBER_SIZE": MEMBER_LIMIT},
    ),
    "total over the limit": Case(
        g.valid(),
        "The archive's content is larger than 1000 bytes.",
        settings={"BACKUP_MAX_TOTAL_SIZE": 1000},
    ),
    "too many members": Case(
        g.valid(), "The archive has more than 4 members.", settings={"BACKUP_MAX_MEMBERS": 4}
    ),
    # --- counts inside the documents
    "more jobs than the limit": Case(
        g.valid(),
        "task.json: 'jobs' lists 2 jobs; the limit is 1.",
        settings={"BACKUP_MAX_JOBS": 1},
    ),
    "more annotation objects than the limit": Case(
        g.valid(),
        "annotations.json: the archive has more than 11 annotation objects (tags, shapes, "
        "tracks, the shapes of tracks and skeleton elements).",
        settings={"BACKUP_MAX_OBJECTS": 11},
    ),
    "zip bomb": Case(
        g.zip_bomb,
        "The archive member 'data/zeros.bin' is compressed more than 200:1 (a ZIP bomb?).",
    ),
    "member size in its header is wrong": Case(
        g.patched(
            g.edited(lambda backup: None, checksums=None),
            lambda path: patch_member(path, "annotations.json", file_size=10),
        ),
        "The archive member 'annotations.json' is corrupt.",
    ),
    "archive over the upload limit (multipart)": Case(
        g.valid(),
        "The file is larger than the limit of 1000 bytes.",
        Where.REFUSED,
        status=413,
        code="upload_too_large",
        settings={"MAX_UPLOAD_SIZE": 1000},
    ),
    "archive over the upload limit (TUS create)": Case(
        g.valid(),
        "The file is larger than the limit of 1000 bytes.",
        Where.REFUSED,
        status=413,
        code="upload_too_large",
        send=Send.TUS_CREATE,
        settings={"MAX_UPLOAD_SIZE": 1000},
    ),
    "archive over the upload limit (cloud storage)": Case(
        g.valid(),
        "The file is larger than the limit of 1000 bytes.",
        send=Send.CLOUD,
        settings={"MAX_UPLOAD_SIZE": 1000},
    ),
    "TUS upload longer than declared": Case(
        g.valid(),
        "The chunk would write past the declared Upload-Length ({length} bytes).",
        Where.REFUSED,
        status=413,
        code="upload_past_length",
        send=Send.TUS_OVERRUN,
        decision="The refused chunk writes nothing; the upload stays resumable at its offset "
        "(TUS) until UPLOAD_TTL expires it.",
    ),
    "TUS upload shorter than declared": Case(
        g.valid(),
        "The upload is incomplete: {offset} of {length} bytes were received.",
        Where.REFUSED,
        status=400,
        code="upload_incomplete",
        send=Send.TUS_SHORT,
        decision="Nothing is queued; the upload stays resumable (TUS) until UPLOAD_TTL expires it.",
    ),
    # --- checksums
    "checksum mismatch": Case(
        g.edited(lambda backup: None, checksums="auto", tamper={"annotations.json": b"[]"}),
        "The archive member 'annotations.json' does not match its checksum.",
    ),
    "checksum mismatch in the media": Case(
        g.edited(lambda backup: None, checksums="auto", tamper={"data/img2.png": b"evil"}),
        "The archive member 'data/img2.png' does not match its checksum.",
    ),
    "checksums file with a malformed line": Case(
        g.edited(lambda backup: None, checksums="not a checksum line\n"),
        "checksums.sha256 line 1 is malformed.",
    ),
    "checksums file naming a missing member": Case(
        g.edited(lambda backup: None, checksums=f"{'0' * 64}  data/ghost.png\n"),
        "checksums.sha256 lists 'data/ghost.png', which is not in the archive.",
    ),
    # --- the documents
    "missing task.json": Case(g.edited(g.drop("task.json")), "The archive has no task.json."),
    "missing annotations.json": Case(
        g.edited(g.drop("annotations.json")), "The archive has no annotations.json."
    ),
    "unknown version": Case(
        g.edited(g.json_edit("task.json", g.set_field("version", "2.0"))),
        "Unsupported backup version '2.0'.",
    ),
    "malformed json": Case(
        g.edited(g.put("task.json", b'{"name": ')), "task.json is not valid JSON."
    ),
    "task.json not UTF-8": Case(
        g.edited(g.put("task.json", b'{"name": "\xff"}')), "task.json is not valid UTF-8."
    ),
    "wrong type": Case(
        g.edited(g.json_edit("task.json", g.set_field("data.chunk_size", "36"))),
        "task.json: 'data.chunk_size' must be an integer.",
    ),
    "duplicate JSON key": Case(
        g.edited(g.task_json_text(lambda text: '{"name": "a", ' + text[1:])),
        "task.json has the key 'name' twice in one object.",
    ),
    "lone surrogate in a name": Case(
        g.edited(g.task_json_text(lambda text: text.replace('"cats and dogs"', '"\\ud800"'))),
        "task.json contains a string that is not valid Unicode (an unpaired surrogate).",
        decision="A lone \\ud800-\\udfff escape is valid JSON but no database stores it: "
        "refused when the document is read.",
    ),
    "undefined label": Case(
        g.edited(g.json_edit("annotations.json", g.set_field("0.tags.0.label", "horse"))),
        "annotations.json: label 'horse' is not defined.",
    ),
    "one annotations entry per job": Case(
        g.edited(g.json_edit("annotations.json", lambda doc: doc.pop())),
        "annotations.json: expected one entry per job of task.json (2), found 1.",
    ),
    # --- long names
    "task name over 256 characters": Case(
        g.edited(g.json_edit("task.json", g.set_field("name", "n" * 257))),
        "task.json: 'name' must be at most 256 characters long.",
    ),
    "label name over 64 characters": Case(
        g.edited(g.json_edit("task.json", g.set_field("labels.1.name", "l" * 65))),
        "task.json: 'labels[1].name' must be at most 64 characters long.",
    ),
    "image name over 1024 bytes (257 emoji)": Case(
        g.edited(g.manifest_line(g.entry_line(EMOJI_NAME))),
        f"Manifest line 3: the name {_shown(EMOJI_NAME)} is longer than 1024 bytes.",
    ),
    # --- numbers and nesting
    "number with 40 digits": Case(
        g.edited(g.raw_json("task.json", '{"version": "1.0", "name": 1' + "0" * 39 + "}")),
        "task.json contains a number with more than 30 digits.",
    ),
    "infinite number": Case(
        g.edited(
            g.task_json_text(
                lambda text: text.replace('"image_quality": 70', '"image_quality": 1e999')
            )
        ),
        "task.json contains NaN or an infinite number.",
    ),
    "huge stop frame": Case(
        g.edited(g.json_edit("task.json", g.set_field("data.stop_frame", 10**29))),
        "task.json: 'data.stop_frame' must be at most 2147483647.",
    ),
    "huge annotations version": Case(
        g.edited(g.json_edit("annotations.json", g.set_field("0.version", 10**29))),
        "annotations.json: '[0].version' must be at most 2147483647.",
    ),
    "huge image width": Case(
        g.edited(g.manifest_line(g.entry_line("img0", width=10**40))),
        "Manifest line 3: 'width' must be at most 2147483647.",
    ),
    "task.json nested 100 levels": Case(
        g.edited(g.json_edit("task.json", g.set_field("extra", g.nested(100)))),
        "task.json is nested more than 64 levels deep.",
    ),
    "annotations.json nested 10,000 levels": Case(
        g.edited(g.raw_json("annotations.json", g.deep_text(10_000))),
        "annotations.json is nested more than 64 levels deep.",
    ),
    "manifest line nested 10,000 levels": Case(
        g.edited(
            g.manifest_line(('{"name": "img0", "meta": ' + g.deep_text(10_000) + "}").encode())
        ),
        "Manifest line 3: the line is nested too deeply.",
    ),
    # --- frames
    "job with an empty frames list": Case(
        g.edited(g.json_edit("task.json", g.set_field("jobs.0.frames", []))),
        "task.json: 'jobs[0].frames' must not be empty.",
    ),
    "job frames out of range": Case(
        g.edited(g.json_edit("task.json", g.set_field("jobs.1.stop_frame", 7))),
        "task.json: 'jobs[1].stop_frame' is outside the task's frames 0..2.",
    ),
    "annotation frames out of range": Case(
        g.edited(g.json_edit("annotations.json", g.set_field("1.shapes.0.frame", 9))),
        "annotations.json: job 1 has an object on frame 9, outside the task's frames 0..2.",
    ),
    "track shape frame out of range": Case(
        g.edited(g.json_edit("annotations.json", g.set_field("0.tracks.0.shapes.0.frame", 3))),
        "annotations.json: job 0 has an object on frame 3, outside the task's frames 0..2.",
    ),
    "negative annotation frame": Case(
        g.edited(g.json_edit("annotations.json", g.set_field("0.tags.0.frame", -1))),
        "annotations.json: '[0].tags[0].frame' must be at least 0.",
    ),
    "deleted frame out of range": Case(
        g.edited(g.json_edit("task.json", g.set_field("data.deleted_frames", [1, 3]))),
        "task.json: 'data.deleted_frames[1]' is outside the task's frames 0..2.",
    ),
    "stop frame past the manifest": Case(
        g.edited(g.json_edit("task.json", g.set_field("data.stop_frame", 5))),
        "'data/manifest.jsonl' lists 3 images, but task.json says the task's frames go up to "
        "image 5.",
    ),
    "annotations on a deleted frame": Case(
        g.edited(g.json_edit("task.json", g.set_field("data.deleted_frames", [0]))),
        "",
        Where.RESTORED,
        check=_check_deleted_frame_annotations,
        decision="CVAT keeps the annotations of deleted frames (deleting a frame hides it, "
        "restoring the frame shows them again): they are restored, not refused.",
    ),
    # --- the manifest
    "manifest line that does not parse": Case(
        g.edited(g.manifest_line(b'{"name": "img0", ')),
        "Manifest line 3: the line is not valid JSON.",
    ),
    "manifest line with a bad path": Case(
        g.edited(g.manifest_line(json.dumps(BAD_ENTRY).encode())),
        "Manifest line 3: the name '../evil' contains a '..' segment.",
    ),
    "repeated image (honeypot)": Case(
        g.honeypot,
        "",
        Where.RESTORED,
        check=_check_honeypot,
        decision="CVAT's honeypots repeat a manifest line: a repeated image with the same "
        "line is one file shown at several frames.",
    ),
    "repeated image with another size": Case(
        g.honeypot_different_size,
        "Manifest line 6: the image 'img1.png' is listed again with a different width, "
        "height, checksum or related images.",
        decision="A name repeated with other values is not a honeypot: refused.",
    ),
    "lightweight data/ with media": Case(
        g.edited(g.put("data/img0.png", b"x"), lightweight=True),
        "A lightweight backup may only contain data/manifest.jsonl; found 'data/img0.png'.",
    ),
    "lightweight origin prefix with ..": Case(
        g.edited(
            g.json_edit("task.json", g.set_field("cloud_storage.prefix", "../other")),
            lightweight=True,
        ),
        "task.json: 'cloud_storage.prefix' contains a '..' segment.",
    ),
    "full backup lacking media": Case(
        g.edited(g.drop("data/img1.png")),
        "The backup says it is full but lacks media: 'data/img1.png'.",
    ),
    # --- unicode
    "unicode names (NFC, NFD, emoji, RTL)": Case(
        g.unicode_names,
        "",
        Where.RESTORED,
        check=_check_unicode,
        decision="Names are kept byte-exact, never normalized: NFC and NFD spellings are two "
        "different images, as they are two different object keys.",
    ),
    "NFD name in the manifest, NFC member": Case(
        g.nfd_manifest_nfc_member,
        f"The backup says it is full but lacks media: {_shown('data/' + g.NFD_NAME + '.png')}.",
    ),
    # --- projects
    "project with one bad task among good ones": Case(
        g.project(
            g.json_edit("task_2/task.json", g.set_field("jobs.0.status", "done")),
            (2, False),
            (1, True),
            (2, False),
        ),
        "task_2/task.json: 'jobs[0].status' must be one of 'annotation', 'validation', "
        "'completed'.",
        target="project",
    ),
    "project task with a label the project lacks": Case(
        g.project(
            g.json_edit("task_1/task.json", g.set_field("labels.1.name", "horse")),
            (1, False),
            (1, False),
        ),
        "task_1/task.json: the label 'horse' is not a label of the project.",
        target="project",
    ),
    "task archive sent as a project": Case(
        g.valid(),
        "The archive has no project.json: it is not a project backup.",
        target="project",
    ),
    "project archive sent as a task": Case(
        g.project(lambda backup: None, (1, False)), "The archive has no task.json."
    ),
}

REFUSED = {name: case for name, case in CASES.items() if case.where is not Where.RESTORED}
RESTORED = {name: case for name, case in CASES.items() if case.where is Where.RESTORED}
