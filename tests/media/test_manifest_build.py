"""Selecting, ordering and measuring the images of a manifest made from a bucket listing."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from cvat_lite.errors import BadRequest
from cvat_lite.media.manifest import ManifestEntry, write_manifest
from cvat_lite.media.manifest_scan import read_image_size
from cvat_lite.media.manifest_selection import select_images


def _paths(keys: list[str], prefix: str = "") -> list[str]:
    return [c.path for c in select_images(((k, 1) for k in keys), prefix).images]


def test_order_is_segment_by_segment_like_cvats_pathlib_sort():
    keys = ["a.b.jpg", "a/x.jpg", "a-b.jpg", "B.png", "a/10.jpg", "a/9.jpg", "ä.jpg"]
    # plain string order would put "a-b.jpg" and "a.b.jpg" before "a/..."
    assert _paths(keys) == [
        "B.png",
        "a/10.jpg",
        "a/9.jpg",
        "a/x.jpg",
        "a-b.jpg",
        "a.b.jpg",
        "ä.jpg",
    ]
    assert sorted(keys) != _paths(keys)


def test_only_served_images_are_listed_and_other_images_are_reported():
    keys = ["x/a.JPG", "x/b.txt", "x/manifest.jsonl", "x/c.svg", "x/d.ico", "x/e.ppm", "x/f.webp",
            "x/", "x/g.jpe", "y/h.jpg", "x/sub/i.tiff"]  # fmt: skip
    selection = select_images(((k, 7) for k in keys), "x/")
    assert [(c.key, c.path, c.size) for c in selection.images] == [
        ("x/a.JPG", "a.JPG", 7),
        ("x/f.webp", "f.webp", 7),
        ("x/sub/i.tiff", "sub/i.tiff", 7),
    ]
    # CVAT's tool would list these (image/* but not SVG); cvat_lite serves none of them
    assert selection.unsupported == ["x/d.ico", "x/e.ppm", "x/g.jpe"]


def test_related_images_follow_cvats_folder_layout():
    keys = [
        "p/d/x.jpg",
        "p/d/related_images/x_jpg/b.png",
        "p/d/related_images/x_jpg/a.jpg",
        "p/d/related_images/orphan_jpg/c.jpg",  # no d/orphan.jpg: dropped
        "p/related_images/top_png/k.jpg",
        "p/top.png",
        "p/d/related_images/loose.jpg",  # not in a <stem>_<ext> folder: dropped
        "p/d/y.jpg",
    ]
    images = select_images(((k, 1) for k in keys), "p/").images
    assert [(c.path, c.related_images) for c in images] == [
        ("d/x.jpg", ("d/related_images/x_jpg/a.jpg", "d/related_images/x_jpg/b.png")),
        ("d/y.jpg", ()),
        ("top.png", ("related_images/top_png/k.jpg",)),
    ]


def _jpeg_with_big_exif(width: int, height: int, orientation: int, padding: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010E] = "x" * padding  # ImageDescription: pushes the frame header far back
    out = io.BytesIO()
    noise = Image.effect_noise((width, height), 64).convert("RGB")
    noise.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def _counting_reader(data: bytes, calls: list[tuple[int, int]]):
    def read(start: int, length: int) -> bytes:
        calls.append((start, length))
        return data[start : start + length]

    return read


def test_the_range_grows_until_the_header_is_complete_and_stays_short_of_the_image():
    data = _jpeg_with_big_exif(800, 600, orientation=6, padding=40_000)
    calls: list[tuple[int, int]] = []
    assert read_image_size(_counting_reader(data, calls), len(data), first=16384) == (600, 800)
    assert calls == [(0, 16384), (16384, 32768)]  # 16 KB was not enough, 48 KB was
    assert sum(length for _, length in calls) < len(data)


def test_a_png_needs_one_small_read():
    out = io.BytesIO()
    Image.effect_noise((300, 200), 64).save(out, format="PNG")
    data, calls = out.getvalue(), []
    assert read_image_size(_counting_reader(data, calls), len(data), first=1024) == (300, 200)
    assert calls == [(0, 1024)]


def test_the_whole_object_is_decided_on_and_garbage_is_refused():
    small = _jpeg_with_big_exif(10, 20, orientation=1, padding=10)
    assert read_image_size(_counting_reader(small, []), len(small), first=1 << 20) == (10, 20)
    junk = b"JFIF? no" * 100
    with pytest.raises(BadRequest):
        read_image_size(_counting_reader(junk, []), len(junk), first=64)
    with pytest.raises(BadRequest):
        read_image_size(_counting_reader(b"", []), 0)
    truncated = small[: len(small) // 2]  # listed at full size, shorter now
    with pytest.raises(BadRequest):
        read_image_size(_counting_reader(truncated, []), len(small), first=64)


def test_ascii_only_writes_what_json_dumps_writes_by_default():
    entries = [ManifestEntry("dir/ñandú 猫", ".jpg", 3, 4, "0" * 32, ("related_images/é.png",))]
    out = io.BytesIO()
    write_manifest(entries, out, ascii_only=True)
    expected = {
        "name": "dir/ñandú 猫", "extension": ".jpg", "width": 3, "height": 4,
        "meta": {"related_images": ["related_images/é.png"]}, "checksum": "0" * 32,
    }  # fmt: skip
    lines = out.getvalue().decode("ascii").splitlines()
    assert lines[2] == json.dumps(expected, separators=(",", ":"))
