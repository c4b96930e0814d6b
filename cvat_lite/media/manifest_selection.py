"""Which objects under a bucket prefix go into a manifest, in which order, with which related
images: the rules of CVAT's manifest tool (``utils/dataset_manifest/create.py``), applied to
object keys instead of a local directory. Pure: keys in, a selection out.

- An entry's path is the key relative to the prefix (the folder the manifest will sit in).
- Only the formats cvat_lite serves are listed (``formats.IMAGE_EXTENSIONS``). CVAT's tool
  takes every file whose MIME type (guessed from its name) is ``image/*`` but not SVG; the
  keys it would take and cvat_lite cannot serve (``.ico``, ``.ppm``, ``.heic``, ...) are
  returned in ``unsupported`` so the caller can say they were left out.
- A key with a ``related_images`` folder in its path is never an entry of its own. When it
  is ``<dir>/related_images/<stem>_<ext>/<file>`` and ``<dir>/<stem>.<ext>`` is listed, it is
  one of that image's related images (``meta.related_images``, sorted, relative to the
  prefix); otherwise it is dropped, as CVAT drops it.
- Entries are sorted as CVAT sorts ``pathlib`` paths: segment by segment
  (``a/x.jpg`` before ``a.b.jpg``, because ``a`` < ``a.b.jpg``).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass

from cvat_lite.media.formats import is_image_key

__all__ = ["Candidate", "Selection", "select_images"]

RELATED_FOLDER = "related_images"


@dataclass(frozen=True, slots=True)
class Candidate:
    key: str  # the object key
    path: str  # relative to the prefix: the manifest entry's name + extension
    size: int  # bytes, from the listing
    related_images: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    images: list[Candidate]
    unsupported: list[str]  # keys CVAT's tool would list that cvat_lite cannot serve


def _cvat_counts_as_image(path: str) -> bool:
    # "/" first: a path is never read as a URL with a scheme ("a:b.jpg")
    mime, _ = mimetypes.guess_type("/" + path, strict=True)
    return mime is not None and mime.startswith("image/") and not mime.startswith("image/svg")


def _related_owner(parts: list[str]) -> str | None:
    """``a/related_images/b_jpg/c.png`` -> ``a/b.jpg``; None for other paths."""
    if len(parts) < 3 or parts[-3] != RELATED_FOLDER:
        return None
    return "/".join([*parts[:-3], ".".join(parts[-2].rsplit("_", 1))])


def select_images(objects: Iterable[tuple[str, int]], prefix: str) -> Selection:
    """The manifest's images among ``objects`` (``(key, size)`` pairs, e.g. a listing of
    ``prefix``), in CVAT's order. Keys outside ``prefix`` are ignored."""
    scenes: dict[str, tuple[str, int]] = {}
    related: dict[str, list[str]] = {}
    unsupported: list[str] = []
    for key, size in objects:
        if not key.startswith(prefix) or key == prefix:
            continue
        path = key[len(prefix) :]
        if not is_image_key(path):
            if _cvat_counts_as_image(path):
                unsupported.append(key)
            continue
        parts = path.split("/")
        if RELATED_FOLDER not in parts:
            scenes[path] = (key, size)
        elif (owner := _related_owner(parts)) is not None:
            related.setdefault(owner, []).append(path)
    images = [
        Candidate(key, path, size, tuple(sorted(related.get(path, ()))))
        for path, (key, size) in sorted(scenes.items(), key=lambda item: item[0].split("/"))
    ]
    return Selection(images, sorted(unsupported))
