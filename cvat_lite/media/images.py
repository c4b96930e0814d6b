"""Image sizes, re-encoding, previews and ZIP chunks, with Pillow. Pure: bytes in, bytes out.

Only the formats of ``formats.IMAGE_EXTENSIONS`` are decoded (JPEG, PNG, GIF, BMP, WebP,
TIFF), whatever the key's extension says. Images larger than Pillow's decompression-bomb
limit (``2 * PIL.Image.MAX_IMAGE_PIXELS``, read at call time) are refused; truncated or corrupt
images are refused (``invalid_image``) rather than half-decoded (no global
``LOAD_TRUNCATED_IMAGES``).

Sizes follow CVAT's manifest: width and height *after* the EXIF orientation (an image whose
orientation tag is 5..8 is stored rotated by 90 degrees, and CVAT reports it swapped), because
compressed frames, previews and CVAT's UI all show it rotated. ``exif_orientation=False`` gives
the raw stored size. For PNG the size is read from IHDR alone (PNG orientation, in a rare
``eXIf`` chunk possibly after the pixels, is ignored, so a 24-byte head is always enough).
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, cast

from PIL import Image, ImageOps

from cvat_lite.errors import BadRequest, ImageTooLarge
from cvat_lite.media.formats import COMPRESSED_EXTENSIONS, extension_of, mime_type_for

__all__ = [
    "compress_to_jpeg",
    "image_size",
    "image_size_from_header",
    "make_preview",
    "mime_type_for",
    "pixel_md5",
    "write_chunk",
]

INVALID_IMAGE = "The file is not a supported image, or it is corrupt."
IMAGE_TOO_LARGE = "The image is too large: it has more than {limit} pixels."
INVALID_QUALITY = "The image quality must be an integer from 1 to 100."
PREVIEW_SIZE = (256, 256)
PREVIEW_QUALITY = 85
COMPRESSED_CHUNK_EXTENSION = ".jpeg"  # CVAT's ZipCompressedChunkWriter.IMAGE_EXT

_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WEBP_EXIF_FLAG = 0x08  # in the VP8X chunk's flags
_ORIENTATION_TAG = 0x0112
_ROTATED = frozenset({5, 6, 7, 8})
_MAX_SIDE = 2**31 - 1
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same frames give the same chunk bytes
# What Pillow raises on bad or short input, besides its documented OSError / ValueError.
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    ZeroDivisionError,
)


def _invalid_image() -> BadRequest:
    return BadRequest(INVALID_IMAGE, code="invalid_image")


def _too_large_error(extra: dict | None = None) -> ImageTooLarge:
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return ImageTooLarge(IMAGE_TOO_LARGE.format(limit=limit), extra=extra)


def _check_pixels(width: int, height: int) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > 2 * limit:
        raise _too_large_error({"width": width, "height": height})


@contextmanager
def _opened(data: bytes) -> Iterator[Image.Image]:
    """The image, opened lazily (header only); Pillow's errors become ``invalid_image``."""
    try:
        image = Image.open(io.BytesIO(data), formats=_FORMATS)
    except Image.DecompressionBombError:
        raise _too_large_error() from None
    except _DECODE_ERRORS:
        raise _invalid_image() from None
    with image:
        _check_pixels(*image.size)
        yield image


# --- sizes -------------------------------------------------------------------------------------


def _png_size(head: bytes) -> tuple[int, int] | None:
    if len(head) < 24:
        return None
    if head[12:16] != b"IHDR":
        raise _invalid_image()
    width, height = struct.unpack(">II", head[16:24])
    if not (0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE):
        raise _invalid_image()
    _check_pixels(width, height)
    return width, height


def _webp_size(head: bytes) -> tuple[int, int] | None:
    """The size in a WebP's first chunk, or None to let Pillow decide (too short, malformed,
    or an extended WebP with an EXIF chunk, whose orientation may come after the pixels).
    Pillow opens a WebP by decoding it, so without this it needs the whole file."""
    if len(head) < 30:
        return None
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":  # lossy key frame
        width, height = struct.unpack("<HH", head[26:30])
        width, height = width & 0x3FFF, height & 0x3FFF
    elif chunk == b"VP8L" and head[20] == 0x2F:  # lossless
        bits = int.from_bytes(head[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8X" and not head[20] & _WEBP_EXIF_FLAG:  # extended, no EXIF
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
    else:
        return None
    if not (width and height):
        return None
    _check_pixels(width, height)
    return width, height


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:  # a corrupt EXIF block does not make the image unusable
        return 1
    return value if isinstance(value, int) else 1


def image_size_from_header(head: bytes, *, exif_orientation: bool = True) -> tuple[int, int] | None:
    """``(width, height)`` from the first bytes of an image, or None when ``head`` is too
    short to tell (fetch more and call again; the whole file ends the loop, see
    ``image_size``). No pixel is decoded. PNG needs 24 bytes, WebP 30 (unless it has an EXIF
    chunk: then all of it); JPEG needs everything up to its first scan, which follows the EXIF
    block (tens of KB with a thumbnail). Raises ``BadRequest`` only when more bytes cannot
    help: a bad PNG header, a decompression bomb."""
    if head.startswith(_PNG_SIGNATURE):
        return _png_size(head)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and (size := _webp_size(head)):
        return size
    try:
        image = Image.open(io.BytesIO(head), formats=_FORMATS)
    except Image.DecompressionBombError:
        raise _too_large_error() from None
    except _DECODE_ERRORS:
        return None
    with image:
        width, height = image.size
        _check_pixels(width, height)
        rotated = _orientation(image) in _ROTATED
        if rotated and image.format == "TIFF":  # Pillow already reports TIFFs upright
            width, height = height, width
        if rotated and exif_orientation:
            return height, width
        return width, height


def image_size(data: bytes, *, exif_orientation: bool = True) -> tuple[int, int]:
    """``(width, height)`` of a whole image file (see ``image_size_from_header``); raises
    ``BadRequest`` (``invalid_image``) when it is not a supported image."""
    size = image_size_from_header(data, exif_orientation=exif_orientation)
    if size is None:
        raise _invalid_image()
    return size


def pixel_md5(data: bytes) -> str:
    """The checksum CVAT's manifest tool writes for an image: the MD5 of its decoded pixels as
    stored (Pillow's ``tobytes()`` in the file's own mode, before any EXIF rotation), not of the
    file. Two files with the same pixels (a re-saved PNG) share it; it never equals an object's
    MD5 or ETag. Raises ``BadRequest`` (``invalid_image``) for what is not a supported image."""
    with _opened(data) as image:
        try:
            return hashlib.md5(image.tobytes(), usedforsecurity=False).hexdigest()
        except _DECODE_ERRORS:
            raise _invalid_image() from None


# --- re-encoding -------------------------------------------------------------------------------


def _scaled_to_l(image: Image.Image, scale: float, offset: float) -> Image.Image:
    return image.point(lambda value: value * scale + offset).convert("L")


def _extrema(image: Image.Image) -> tuple[float, float]:
    low, high = image.getextrema()  # single-band modes only: (min, max)
    return cast(float, low), cast(float, high)


def _to_rgb(image: Image.Image) -> Image.Image:
    """The image upright (EXIF orientation applied) in 8-bit RGB, converted as CVAT does:
    16-bit grey is stretched to its own min..max then equalised, 32-bit int / float grey is
    scaled by 256 / max; every other mode (RGBA, LA, P, CMYK, 1, ...) goes through Pillow's
    ``convert("RGB")``, which drops alpha."""
    try:
        image = ImageOps.exif_transpose(image)
    except _DECODE_ERRORS:  # unreadable EXIF: keep the stored orientation
        image.load()
    if image.mode.startswith("I;16"):
        wide = image.convert("I")
        low, high = _extrema(wide)
        scale = 255 / (high - low) if high > low else 0
        image = ImageOps.equalize(_scaled_to_l(wide, scale, -low * scale))
    elif image.mode in ("I", "F"):
        high = _extrema(image)[1]
        scale = 256 / high if high > 0 else 0
        image = _scaled_to_l(image, scale, 0)
    return image.convert("RGB")


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    output = io.BytesIO()
    image.save(output, format="JPEG", quality=quality, optimize=True)
    return output.getvalue()


def _check_quality(quality: int) -> None:
    if type(quality) is not int or not 1 <= quality <= 100:
        raise BadRequest(INVALID_QUALITY, code="invalid_quality")


def compress_to_jpeg(data: bytes, quality: int) -> bytes:
    """The image upright, in RGB, re-encoded as JPEG at ``quality`` (1..100), like CVAT's
    compressed frames. Metadata (EXIF, ICC profile) is not carried over."""
    _check_quality(quality)
    with _opened(data) as image:
        try:
            return _encode_jpeg(_to_rgb(image), quality)
        except _DECODE_ERRORS:
            raise _invalid_image() from None


def make_preview(data: bytes, max_size: tuple[int, int] = PREVIEW_SIZE) -> bytes:
    """A JPEG thumbnail, upright, fitting in ``max_size`` (aspect ratio kept, never enlarged).
    JPEGs are decoded at a reduced scale when they are much larger than the preview."""
    with _opened(data) as image:
        try:
            side = max(max_size)  # square: the EXIF rotation comes after the draft
            image.draft("RGB", (side, side))
            preview = _to_rgb(image)
            preview.thumbnail(max_size)
            return _encode_jpeg(preview, PREVIEW_QUALITY)
        except _DECODE_ERRORS:
            raise _invalid_image() from None


# --- chunks ------------------------------------------------------------------------------------


def write_chunk(
    frames: Iterable[tuple[str, bytes]], stream: IO[bytes], *, quality: int | None = None
) -> int:
    """Write an ``imageset`` chunk: a ZIP of the frames, in order, to ``stream`` (which need
    not be seekable); return the number of frames.

    Members are named as CVAT's chunk writers name them: the frame's index *within the chunk*,
    zero-padded to 6 digits, plus an extension. With ``quality=None`` (original chunk) the
    member holds the frame's bytes unchanged and keeps the key's own extension
    (``"dir/a.PNG"`` third in the chunk -> ``000002.PNG``; no extension -> ``000002``), stored
    uncompressed for formats that are compressed already and deflated otherwise (BMP, TIFF).
    With a ``quality`` (compressed chunk) each frame is re-encoded with ``compress_to_jpeg``
    and named ``NNNNNN.jpeg``. Member timestamps are fixed, so equal frames give equal bytes.
    """
    if quality is not None:
        _check_quality(quality)
    count = 0
    with zipfile.ZipFile(stream, mode="w") as archive:
        for index, (key, data) in enumerate(frames):
            if quality is None:
                extension, payload = extension_of(key), data
            else:
                extension, payload = COMPRESSED_CHUNK_EXTENSION, compress_to_jpeg(data, quality)
            member = zipfile.ZipInfo(f"{index:06d}{extension}", date_time=_ZIP_DATE)
            member.external_attr = 0o644 << 16
            member.compress_type = (
                zipfile.ZIP_STORED
                if extension.lower() in COMPRESSED_EXTENSIONS
                else zipfile.ZIP_DEFLATED
            )
            archive.writestr(member, payload)
            count = index + 1
    return count
