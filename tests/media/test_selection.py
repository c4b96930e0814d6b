import pytest

from cvat_lite.errors import BadRequest
from cvat_lite.media.selection import (
    IMAGE_EXTENSIONS,
    filter_keys,
    frame_range,
    is_image_key,
    parse_frame_filter,
    sort_keys,
)

# --- sorting ----------------------------------------------------------------------------------


def test_natural_sort_compares_numbers_by_value():
    assert sort_keys(["img10.jpg", "img2.jpg", "img1.jpg"], "natural") == [
        "img1.jpg",
        "img2.jpg",
        "img10.jpg",
    ]


def test_natural_sort_is_case_insensitive_with_a_stable_tie_break():
    keys = ["b.jpg", "a10.jpg", "A2.jpg", "a.jpg", "A.jpg", "B1.jpg"]
    expected = ["A.jpg", "a.jpg", "A2.jpg", "a10.jpg", "b.jpg", "B1.jpg"]
    assert sort_keys(keys, "natural") == expected
    assert sort_keys(list(reversed(keys)), "natural") == expected


def test_natural_sort_is_path_aware():
    keys = ["dir10/a.jpg", "dir2/b.jpg", "dir2.jpg", "dir2/a10.jpg", "dir2/a9.jpg", "z.jpg"]
    assert sort_keys(keys, "natural") == [
        "dir2.jpg",
        "dir2/a9.jpg",
        "dir2/a10.jpg",
        "dir2/b.jpg",
        "dir10/a.jpg",
        "z.jpg",
    ]


def test_natural_sort_compares_the_stem_before_the_extension():
    assert sort_keys(["a.1.jpg", "a1.png", "a1.jpg", "a01.jpg"], "natural") == [
        "a01.jpg",  # a01 and a1 tie: the code point order decides
        "a1.jpg",
        "a1.png",
        "a.1.jpg",  # "a." > "a", as natsort has it
    ]


def test_lexicographical_sort_is_by_code_point():
    assert sort_keys(["img10.jpg", "img2.jpg", "Img3.jpg"], "lexicographical") == [
        "Img3.jpg",
        "img10.jpg",
        "img2.jpg",
    ]


def test_predefined_keeps_the_order_and_copies():
    keys = ["c", "a", "b"]
    result = sort_keys(keys, "predefined")
    assert result == ["c", "a", "b"]
    assert result is not keys


def test_random_is_reproducible_with_a_seed():
    keys = [f"img{i}.jpg" for i in range(50)]
    first = sort_keys(keys, "random", seed=42)
    assert first == sort_keys(keys, "random", seed=42)
    assert first != sort_keys(keys, "random", seed=43)
    assert sorted(first) == sorted(keys)
    assert keys == [f"img{i}.jpg" for i in range(50)]  # the input is left alone


def test_unknown_sorting_method():
    with pytest.raises(BadRequest) as caught:
        sort_keys(["a"], "alphabetical")
    assert caught.value.code == "invalid_sorting_method"
    assert caught.value.message == (
        "Unknown sorting method 'alphabetical'. "
        "Use one of: lexicographical, natural, predefined, random."
    )


# --- frame filter and range -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "step"),
    [
        ("", 1),
        (None, 1),
        ("step=1", 1),
        ("step=5", 5),
        (" step = 12 ", 12),
        ("step=999999999", 999999999),
    ],
)
def test_frame_filter(value, step):
    assert parse_frame_filter(value) == step


@pytest.mark.parametrize(
    "value",
    [
        "step=0",
        "step=-1",
        "step=",
        "step=05",
        "5",
        "step=1.5",
        "stride=2",
        "step=2;x",
        "step=1234567890",
        3,
    ],
)
def test_bad_frame_filter(value):
    with pytest.raises(BadRequest) as caught:
        parse_frame_filter(value)
    assert caught.value.code == "invalid_frame_filter"
    assert caught.value.message == (
        f"Invalid frame filter {str(value)!r}. Use 'step=N' with N >= 1, or ''."
    )


def test_frame_range():
    assert frame_range(10, 0, None, 1) == range(0, 10)
    assert list(frame_range(10, 2, 8, 3)) == [2, 5, 8]
    assert list(frame_range(10, 2, 7, 3)) == [2, 5]
    assert list(frame_range(10, 9, 9, 1)) == [9]
    assert list(frame_range(10, 0, 0, 1)) == [0]
    assert list(frame_range(10, 1, None, 4)) == [1, 5, 9]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((10, -1, None, 1), "start_frame -1 is out of range: the task has 10 frames (0..9)."),
        ((10, 10, None, 1), "start_frame 10 is out of range: the task has 10 frames (0..9)."),
        ((10, 0, 10, 1), "stop_frame 10 is out of range: the task has 10 frames (0..9)."),
        ((10, 0, -1, 1), "stop_frame -1 is out of range: the task has 10 frames (0..9)."),
        ((10, 5, 4, 1), "stop_frame 4 is less than start_frame 5."),
        ((10, 0, None, 0), "The frame step must be an integer of at least 1."),
        ((10, 0, None, True), "The frame step must be an integer of at least 1."),
        ((0, 0, None, 1), "The task has no frames."),
    ],
)
def test_bad_frame_range(args, message):
    with pytest.raises(BadRequest) as caught:
        frame_range(*args)
    assert (caught.value.code, caught.value.message) == ("invalid_frame_range", message)


# --- filtering --------------------------------------------------------------------------------

KEYS = ["a.jpg", "dir/b.jpg", "dir/sub/c.png", "dir2/d.jpg", "img_1.jpg", "x/img_2.JPG"]


def test_filter_keeps_everything_by_default():
    assert filter_keys(KEYS) == KEYS
    assert filter_keys(KEYS, filename_pattern="") == KEYS
    assert filter_keys(KEYS, filename_pattern="*") == KEYS


def test_filename_pattern_is_fnmatch_on_the_whole_key():
    assert filter_keys(KEYS, filename_pattern="*.jpg") == [
        "a.jpg",
        "dir/b.jpg",
        "dir2/d.jpg",
        "img_1.jpg",
    ]
    assert filter_keys(KEYS, filename_pattern="img_*") == ["img_1.jpg"]
    assert filter_keys(KEYS, filename_pattern="*img_?.*") == ["img_1.jpg", "x/img_2.JPG"]
    assert filter_keys(KEYS, filename_pattern="dir/*") == ["dir/b.jpg", "dir/sub/c.png"]
    assert filter_keys(KEYS, filename_pattern="[ad]*") == KEYS[:4]


def test_exclude_exact_keys_and_folders():
    assert filter_keys(KEYS, exclude=["a.jpg", "dir/"]) == [
        "dir2/d.jpg",
        "img_1.jpg",
        "x/img_2.JPG",
    ]
    assert filter_keys(KEYS, exclude=["dir/sub/"]) == [k for k in KEYS if k != "dir/sub/c.png"]
    assert filter_keys(KEYS, exclude=["dir"]) == KEYS  # no slash: only a key named exactly "dir"
    assert filter_keys(KEYS, exclude=["di"]) == KEYS


def test_exclude_then_pattern_keeps_the_order():
    keys = ["z.jpg", "b/a.jpg", "a.jpg", "b/z.png"]
    assert filter_keys(keys, filename_pattern="*.jpg", exclude=iter(["b/"])) == ["z.jpg", "a.jpg"]


# --- image keys -------------------------------------------------------------------------------


def test_image_keys():
    expected = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
    assert expected == IMAGE_EXTENSIONS
    for key in ("a.jpg", "d/a.JPEG", "a.Png", "a.bmp", "a.webp", "a.tif", "a.TIFF", "a.gif"):
        assert is_image_key(key), key
    for key in ("a.txt", "manifest.jsonl", "jpg", "a.jpg/", "dir.jpg/readme", ".jpg", "a.mp4"):
        assert not is_image_key(key), key
