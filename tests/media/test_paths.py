import os

import pytest

from cvat_lite.errors import BadRequest
from cvat_lite.media import paths
from cvat_lite.media.paths import path_problem, safe_join, validate_relative_path

BAD_PATHS = [
    ("", paths.PATH_EMPTY),
    ("a" * 1025, paths.PATH_TOO_LONG),
    ("é" * 513, paths.PATH_TOO_LONG),  # 1026 bytes of UTF-8
    ("a\ud800b", paths.PATH_NOT_UTF8),
    ("a\x00b", paths.PATH_NUL),
    ("a\nb", paths.PATH_CONTROL),
    ("a\x1fb", paths.PATH_CONTROL),
    ("a\x7fb", paths.PATH_CONTROL),
    ("a\x85b", paths.PATH_CONTROL),
    ("a\\b", paths.PATH_BACKSLASH),
    ("..\\a", paths.PATH_BACKSLASH),
    ("C:/a.jpg", paths.PATH_DRIVE),
    ("c:a.jpg", paths.PATH_DRIVE),
    ("/etc/passwd", paths.PATH_ABSOLUTE),
    ("//server/share", paths.PATH_ABSOLUTE),
    ("a//b", paths.PATH_EMPTY_SEGMENT),
    ("a/", paths.PATH_EMPTY_SEGMENT),
    ("./a", paths.PATH_DOT_SEGMENT),
    ("a/./b", paths.PATH_DOT_SEGMENT),
    ("..", paths.PATH_DOTDOT),
    ("../a", paths.PATH_DOTDOT),
    ("a/../../b", paths.PATH_DOTDOT),
    ("a/..", paths.PATH_DOTDOT),
]

GOOD_PATHS = [
    "a",
    "img.jpg",
    "dir/sub/img 1.JPG",
    "..a/b..",
    ".hidden/...",
    "ab:c/d",
    "ünïcødé/画像.png",
    "x" * 1024,
]


@pytest.mark.parametrize(("path", "reason"), BAD_PATHS)
def test_bad_paths_are_refused_with_their_reason(path, reason):
    assert path_problem(path) == reason
    with pytest.raises(BadRequest) as caught:
        validate_relative_path(path)
    assert caught.value.code == "invalid_path"
    assert caught.value.message == paths.INVALID_PATH.format(path=paths.shown(path), reason=reason)
    assert caught.value.extra == {"path": path[:1025]}


def test_message_names_the_path():
    with pytest.raises(BadRequest) as caught:
        validate_relative_path("a/../b")
    assert caught.value.message == "The path 'a/../b' contains a '..' segment."


def test_long_paths_are_cut_in_the_message():
    with pytest.raises(BadRequest) as caught:
        validate_relative_path("/" + "a" * 500)
    assert caught.value.message == f"The path {'/' + 'a' * 199!r}... is absolute."


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_good_paths_are_returned_unchanged(path):
    assert path_problem(path) is None
    assert validate_relative_path(path) == path


def test_non_strings_are_refused():
    with pytest.raises(BadRequest) as caught:
        validate_relative_path(None)
    assert (caught.value.code, caught.value.message) == ("invalid_path", paths.PATH_NOT_STRING)


def test_safe_join_stays_under_root(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.jpg").write_bytes(b"x")
    assert safe_join(tmp_path, "dir/a.jpg") == (tmp_path / "dir" / "a.jpg").resolve()
    assert safe_join(tmp_path, "missing/b.jpg") == (tmp_path / "missing" / "b.jpg").resolve()
    with pytest.raises(BadRequest):
        safe_join(tmp_path, "../outside")


def test_safe_join_refuses_symlinks_leaving_root(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"s")
    os.symlink(outside, root / "link")
    os.symlink(outside / "secret", root / "file")
    os.symlink(root / "link", root / "inside")  # a link to a link is followed all the way
    for relative in ("link/secret", "file", "inside/secret"):
        with pytest.raises(BadRequest) as caught:
            safe_join(root, relative)
        assert caught.value.message == (f"The path {relative!r} points outside its root directory.")


def test_safe_join_allows_symlinks_within_root(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "alias")
    assert safe_join(tmp_path, "alias/x.jpg") == (tmp_path / "real" / "x.jpg").resolve()
