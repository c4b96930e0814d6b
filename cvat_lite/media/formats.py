"""The image formats cvat_lite serves, recognised by the key's extension (case-insensitive)."""

from __future__ import annotations

import posixpath

MIME_TYPES: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".bmp": "image/bmp",
    ".webp": "image/webp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".gif": "image/gif",
}
IMAGE_EXTENSIONS = frozenset(MIME_TYPES)
# Already compressed: deflating them again costs CPU and saves nothing.
COMPRESSED_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif"})
DEFAULT_MIME_TYPE = "application/octet-stream"


def extension_of(key: str) -> str:
    """The extension of the key's last segment, dot included (``os.path.splitext`` rules)."""
    return posixpath.splitext(posixpath.basename(key))[1]


def is_image_key(key: str) -> bool:
    return extension_of(key).lower() in IMAGE_EXTENSIONS


def mime_type_for(key: str) -> str:
    return MIME_TYPES.get(extension_of(key).lower(), DEFAULT_MIME_TYPE)
