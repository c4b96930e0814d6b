import hashlib
import io
import json
import zipfile

import pytest
from PIL import Image

from cvat_lite.errors import BadRequest
from cvat_lite.media import images
from cvat_lite.media.images import (
    compress_to_jpeg,
    image_size,
    image_size_from_header,
    make_preview,
    mime_type_for,
    pixel_md5,
    write_chunk,
)
from tests.fixtures.interop import interop_dir

SIZE = (720, 405)
# Pillow warns about what these tests feed it on purpose (truncated heads, small bomb limits).
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning:PIL"),
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
]


def encode(image, fmt, **params):
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def rgb(size=SIZE, color=(200, 30, 60)):
    return Image.new("RGB", size, color)


def rotated_exif(orientation=6):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def decode(data):
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.format, image.mode, image.size


@pytest.fixture
def small_pixel_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # bombs above 2000 pixels


# --- sizes ------------------------------------------------------------------------------------


def test_png_size_from_24_bytes():
    data = encode(rgb(), "PNG")
    assert image_size_from_header(data[:24]) == SIZE
    assert image_size_from_header(data[:23]) is None
    assert image_size_from_header(data[:8]) is None
    assert image_size(data) == SIZE


def test_png_with_a_bad_header_is_refused_at_once():
    data = bytearray(encode(rgb(), "PNG"))
    data[12:16] = b"IHDX"
    with pytest.raises(BadRequest) as caught:
        image_size_from_header(bytes(data[:24]))
    assert (caught.value.code, caught.value.message) == ("invalid_image", images.INVALID_IMAGE)
    data[12:16] = b"IHDR"
    data[16:20] = b"\x00\x00\x00\x00"
    with pytest.raises(BadRequest):
        image_size_from_header(bytes(data[:24]))


def test_jpeg_size_from_a_truncated_head():
    data = encode(rgb(), "JPEG", quality=90)
    assert image_size_from_header(data[:1024]) == SIZE
    assert image_size_from_header(data[:100]) is None
    assert image_size_from_header(b"") is None


def test_jpeg_whose_frame_header_follows_a_big_metadata_block():
    data = encode(rgb(), "JPEG", comment=b"c" * 60_000, exif=rotated_exif(1))
    assert data.index(b"\xff\xc0") > 60_000  # the SOF marker
    assert image_size_from_header(data[:4096]) is None
    assert image_size_from_header(data[:32_768]) is None
    assert image_size_from_header(data[:65_536]) == SIZE


@pytest.mark.parametrize(
    ("mode", "options"),
    [("RGB", {}), ("RGBA", {}), ("RGB", {"lossless": True}), ("LA", {"lossless": True})],
)
def test_webp_size_from_its_first_chunk_as_pillow_reads_it(mode, options):
    for size in [SIZE, (1, 1), (16383, 3)]:
        data = encode(Image.new(mode, size), "WEBP", **options)
        assert image_size_from_header(data[:30]) == size, (data[12:16], size)
        assert image_size_from_header(data[:29]) is None
        with Image.open(io.BytesIO(data)) as opened:
            assert opened.size == size


def test_webp_with_exif_needs_the_whole_file_for_its_orientation():
    data = encode(rgb(), "WEBP", exif=rotated_exif(6))
    assert data[12:16] == b"VP8X"
    assert image_size_from_header(data[:30]) is None
    assert image_size(data) == SIZE[::-1]


def test_exif_orientation_swaps_the_size_like_cvat():
    for orientation, expected in [
        (1, SIZE),
        (3, SIZE),
        (5, SIZE[::-1]),
        (6, SIZE[::-1]),
        (8, SIZE[::-1]),
    ]:
        data = encode(rgb(), "JPEG", exif=rotated_exif(orientation))
        assert image_size_from_header(data[:4096]) == expected, orientation
        assert image_size(data) == expected
        assert image_size(data, exif_orientation=False) == SIZE


def test_corrupt_exif_is_ignored():
    data = encode(rgb(), "JPEG", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7f garbage")
    assert image_size(data) == SIZE
    assert decode(compress_to_jpeg(data, 80))[2] == SIZE


@pytest.mark.parametrize(
    ("fmt", "params"),
    [
        ("GIF", {}),
        ("BMP", {}),
        ("WEBP", {"quality": 80}),
        ("TIFF", {}),
        ("TIFF", {"compression": "tiff_lzw"}),
    ],
)
def test_other_formats(fmt, params):
    data = encode(rgb(), fmt, **params)
    assert image_size(data) == SIZE
    head = image_size_from_header(data[:64])
    assert head in (None, SIZE)


def test_webp_and_tiff_orientation():
    for fmt in ("WEBP", "TIFF"):
        data = encode(rgb(), fmt, exif=rotated_exif(6))
        assert image_size(data) == SIZE[::-1], fmt
        assert image_size(data, exif_orientation=False) == SIZE, fmt
        assert decode(compress_to_jpeg(data, 80))[2] == SIZE[::-1], fmt
        assert decode(make_preview(data))[2] == (144, 256), fmt


@pytest.mark.parametrize(
    "data", [b"", b"not an image at all" * 100, b"\xff\xd8\xff" + b"\x00" * 50, b"%PDF-1.4\n" * 10]
)
def test_non_images(data):
    assert image_size_from_header(data) is None
    with pytest.raises(BadRequest) as caught:
        image_size(data)
    assert (caught.value.code, caught.value.message) == ("invalid_image", images.INVALID_IMAGE)


def test_unsupported_formats_are_not_decoded():
    data = encode(rgb(), "PPM")
    with pytest.raises(BadRequest) as caught:
        image_size(data)
    assert caught.value.code == "invalid_image"


@pytest.mark.usefixtures("small_pixel_limit")
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_decompression_bombs_are_refused(fmt):
    data = encode(rgb((50, 41)), fmt)
    for call in (
        image_size_from_header,
        image_size,
        make_preview,
        lambda d: compress_to_jpeg(d, 75),
    ):
        with pytest.raises(BadRequest) as caught:
            call(data)
        assert caught.value.code == "image_too_large"
        assert caught.value.message == "The image is too large: it has more than 2000 pixels."
    assert image_size(encode(rgb((50, 40)), fmt)) == (50, 40)


# --- re-encoding ------------------------------------------------------------------------------


def test_compress_to_jpeg():
    data = encode(rgb(), "PNG")
    low, high = compress_to_jpeg(data, 10), compress_to_jpeg(data, 95)
    assert decode(low) == ("JPEG", "RGB", SIZE)
    assert decode(high) == ("JPEG", "RGB", SIZE)
    noisy = encode(Image.effect_noise(SIZE, 64).convert("RGB"), "PNG")
    assert len(compress_to_jpeg(noisy, 10)) < len(compress_to_jpeg(noisy, 95))


def test_compress_applies_the_exif_orientation():
    data = encode(rgb(), "JPEG", exif=rotated_exif(6))
    assert decode(compress_to_jpeg(data, 80))[2] == SIZE[::-1]


def _mode_images():
    paletted = rgb((40, 30)).convert("P")
    paletted.info["transparency"] = 0
    wide = Image.linear_gradient("L").resize((64, 48)).point(lambda v: v * 200).convert("I")
    return {
        "RGBA": encode(Image.new("RGBA", (40, 30), (1, 2, 3, 0)), "PNG"),
        "LA": encode(Image.new("LA", (40, 30), (9, 100)), "PNG"),
        "P": encode(paletted, "PNG"),
        "L": encode(Image.new("L", (40, 30), 7), "PNG"),
        "1": encode(Image.new("1", (40, 30), 1), "PNG"),
        "CMYK": encode(Image.new("CMYK", (40, 30), (0, 50, 100, 0)), "JPEG"),
        "I;16": encode(wide.convert("I;16"), "PNG"),
        "I;16-flat": encode(Image.new("I;16", (40, 30), 1000), "PNG"),
        "I": encode(wide, "TIFF"),
        "F": encode(wide.convert("F"), "TIFF"),
        "F-black": encode(Image.new("F", (40, 30), 0.0), "TIFF"),
    }


@pytest.mark.parametrize(("mode", "data"), list(_mode_images().items()))
def test_compress_converts_modes_to_rgb(mode, data):
    fmt, result_mode, size = decode(compress_to_jpeg(data, 90))
    assert (fmt, result_mode) == ("JPEG", "RGB"), mode
    assert size in ((40, 30), (64, 48))


def test_sixteen_bit_grey_is_stretched_not_clipped():
    # values 1000..3000 would clip to plain white with a naive conversion
    gradient = Image.linear_gradient("L").resize((64, 48)).convert("I")
    wide = gradient.point(lambda v: v * 8 + 1000).convert("I;16")
    with Image.open(io.BytesIO(compress_to_jpeg(encode(wide, "PNG"), 95))) as result:
        low, high = result.convert("L").getextrema()
    assert low < 30
    assert high > 220


@pytest.mark.parametrize("quality", [0, 101, -5, True, 50.0, None])
def test_bad_quality(quality):
    with pytest.raises(BadRequest) as caught:
        compress_to_jpeg(encode(rgb(), "PNG"), quality)
    assert (caught.value.code, caught.value.message) == ("invalid_quality", images.INVALID_QUALITY)


def test_truncated_or_bad_images_are_refused_when_decoding():
    data = encode(Image.effect_noise((300, 300), 50).convert("RGB"), "JPEG")
    for bad in (data[: len(data) // 2], b"garbage", b""):
        for call in (make_preview, lambda d: compress_to_jpeg(d, 75)):
            with pytest.raises(BadRequest) as caught:
                call(bad)
            assert caught.value.code == "invalid_image"


# --- previews ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "fmt", "expected"),
    [
        ((720, 405), "PNG", (256, 144)),
        ((405, 720), "JPEG", (144, 256)),
        ((3000, 2000), "JPEG", (256, 171)),
        ((100, 50), "PNG", (100, 50)),
    ],
)
def test_preview_fits_256_px(size, fmt, expected):
    assert decode(make_preview(encode(rgb(size), fmt))) == ("JPEG", "RGB", expected)


def test_preview_is_upright_and_respects_max_size():
    data = encode(rgb(), "JPEG", exif=rotated_exif(6))
    assert decode(make_preview(data))[2] == (144, 256)
    assert decode(make_preview(data, max_size=(64, 64)))[2] == (36, 64)


@pytest.mark.parametrize(("mode", "data"), list(_mode_images().items()))
def test_preview_of_every_mode(mode, data):
    assert decode(make_preview(data))[:2] == ("JPEG", "RGB"), mode


# --- chunks -----------------------------------------------------------------------------------


class _WriteOnly(io.RawIOBase):
    """A stream that cannot seek or tell, like an HTTP response."""

    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.data += b
        return len(b)


def _frames():
    return [
        ("dir/a.jpg", encode(rgb(), "JPEG")),
        ("b.PNG", encode(rgb((10, 10)), "PNG")),
        ("deep/er/c.bmp", encode(rgb((10, 10)), "BMP")),
        ("d.tiff", encode(rgb((10, 10)), "TIFF")),
        ("noext", b"raw bytes"),
    ]


def test_original_chunk_members_are_cvat_named_and_byte_identical():
    out = io.BytesIO()
    frames = _frames()
    assert write_chunk(iter(frames), out) == 5
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        infos = archive.infolist()
        assert [info.filename for info in infos] == [
            "000000.jpg",
            "000001.PNG",
            "000002.bmp",
            "000003.tiff",
            "000004",
        ]
        assert [archive.read(info) for info in infos] == [data for _, data in frames]
        assert [info.compress_type for info in infos] == [
            zipfile.ZIP_STORED,
            zipfile.ZIP_STORED,
            zipfile.ZIP_DEFLATED,
            zipfile.ZIP_DEFLATED,
            zipfile.ZIP_DEFLATED,
        ]
        assert archive.testzip() is None


def test_chunk_is_deterministic():
    first, second = io.BytesIO(), io.BytesIO()
    write_chunk(_frames(), first)
    write_chunk(_frames(), second)
    assert first.getvalue() == second.getvalue()


def test_chunk_streams_to_an_unseekable_output():
    out = _WriteOnly()
    assert write_chunk(_frames(), out) == 5
    with zipfile.ZipFile(io.BytesIO(bytes(out.data))) as archive:
        assert archive.read("000004") == b"raw bytes"
        assert archive.read("000000.jpg") == _frames()[0][1]


def test_compressed_chunk():
    out = io.BytesIO()
    frames = _frames()[:4]
    assert write_chunk(frames, out, quality=70) == 4
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        assert archive.namelist() == ["000000.jpeg", "000001.jpeg", "000002.jpeg", "000003.jpeg"]
        assert decode(archive.read("000000.jpeg")) == ("JPEG", "RGB", SIZE)
        assert archive.read("000001.jpeg") == compress_to_jpeg(frames[1][1], 70)


def test_empty_chunk_and_bad_quality():
    out = io.BytesIO()
    assert write_chunk([], out) == 0
    assert zipfile.ZipFile(io.BytesIO(out.getvalue())).namelist() == []
    with pytest.raises(BadRequest):
        write_chunk(_frames(), io.BytesIO(), quality=0)


def test_mime_types():
    assert mime_type_for("a/b.JPG") == "image/jpeg"
    assert mime_type_for("b.jpeg") == "image/jpeg"
    assert mime_type_for("c.png") == "image/png"
    assert mime_type_for("d.tif") == "image/tiff"
    assert mime_type_for("e.webp") == "image/webp"
    assert mime_type_for("f.gif") == "image/gif"
    assert mime_type_for("g.bmp") == "image/bmp"
    assert mime_type_for("h.txt") == "application/octet-stream"
    assert mime_type_for("noext") == "application/octet-stream"


CVAT_BUCKET = interop_dir() / "cvat-2.73" / "bucket"


@pytest.mark.interop
def test_pixel_md5_is_cvats_manifest_checksum():
    """Every checksum in the manifest CVAT's own tool wrote equals pixel_md5 of the image, and
    none equals the file's MD5 (what a bucket's ETag would give)."""
    manifest = CVAT_BUCKET / "manifest.jsonl"
    entries = [json.loads(line) for line in manifest.read_text().splitlines()]
    images_ = [entry for entry in entries if "name" in entry]
    assert len(images_) == 50
    for entry in images_:
        data = (CVAT_BUCKET / (entry["name"] + entry["extension"])).read_bytes()
        assert pixel_md5(data) == entry["checksum"]
        assert hashlib.md5(data).hexdigest() != entry["checksum"]


def test_pixel_md5_depends_on_pixels_not_encoding():
    image = Image.new("RGB", (8, 6), (10, 200, 30))
    first, second = encode(image, "PNG"), encode(image, "PNG", compress_level=0)
    assert first != second
    assert pixel_md5(first) == pixel_md5(second)
    other = Image.new("RGB", (8, 6), (10, 200, 31))
    assert pixel_md5(encode(other, "PNG")) != pixel_md5(first)
    with pytest.raises(BadRequest):
        pixel_md5(b"not an image")
