"""What every part of the backup format shares: versions, member names, the field reader.

``Fields`` reads one JSON object of an untrusted document key by key, with strict types, and
raises ``ArchiveError`` naming the document and the field path ("task.json: 'data.chunk_size'
must be an integer.").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from cvat_lite.backup.archive import CHECKSUMS_NAME
from cvat_lite.engine import choices
from cvat_lite.errors import ArchiveError
from cvat_lite.media.paths import shown

FORMAT_VERSION = "1.0"
SUPPORTED_VERSIONS = frozenset({"1.0"})
TASK_JSON = "task.json"
ANNOTATIONS_JSON = "annotations.json"
PROJECT_JSON = "project.json"
DATA_DIR = "data/"
MANIFEST = "data/manifest.jsonl"
CHECKSUMS = CHECKSUMS_NAME
TASK_FOLDER = "task_{index}/"
# Shape types of annotations: the label types but "any" and "tag".
SHAPE_TYPES = choices.SHAPE_TYPES

UNSUPPORTED_VERSION = "Unsupported backup version {version}."
NOT_OBJECT = "{what} must contain a JSON object."
NOT_LIST = "{what} must contain a JSON list."
MISSING = "{what}: {field} is missing."
WRONG_TYPE = "{what}: {field} must be {kind}."
TOO_SMALL = "{what}: {field} must be at least {limit}."
TOO_LARGE = "{what}: {field} must be at most {limit}."
TOO_LONG = "{what}: {field} must be at most {limit} characters long."
EMPTY = "{what}: {field} must not be empty."
NOT_CHOICE = "{what}: {field} must be one of {choices}."

REQUIRED: Any = object()
# The largest value of the database's integer columns (frames, versions, counts): a larger one
# would fail the write half-way (or overflow ``len(range(...))``), so it is refused on parsing.
MAX_INTEGER = 2**31 - 1


def is_int(value: Any) -> bool:
    return type(value) is int


class Fields:
    """The object at ``path`` in the document ``what``, read key by key with type checks."""

    def __init__(self, what: str, path: str, value: Any):
        if not isinstance(value, dict):
            raise self._fail(WRONG_TYPE, what, path or "root", kind="an object")
        self.what, self.path, self.value = what, path, value

    @staticmethod
    def _fail(message: str, what: str, path: str, **values: Any) -> ArchiveError:
        return ArchiveError(message.format(what=what, field=shown(path), **values))

    def fail(self, message: str, key: str, **values: Any) -> ArchiveError:
        return self._fail(message, self.what, self.at(key), **values)

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, default: Any) -> Any:
        if key in self.value and self.value[key] is not None:
            return self.value[key]
        if default is REQUIRED:
            raise self.fail(MISSING, key)
        return default

    def string(
        self, key: str, default: Any = REQUIRED, *, limit: int | None = None, empty: bool = True
    ) -> str:
        value = self.get(key, default)
        if not isinstance(value, str):
            raise self.fail(WRONG_TYPE, key, kind="a string")
        if limit is not None and len(value) > limit:
            raise self.fail(TOO_LONG, key, limit=limit)
        if not empty and not value:
            raise self.fail(EMPTY, key)
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = REQUIRED) -> str:
        value = self.get(key, default)
        if value not in choices:
            text = ", ".join(repr(choice) for choice in choices)
            raise self.fail(NOT_CHOICE, key, choices=text)
        return value

    def integer(
        self, key: str, default: Any = REQUIRED, *, minimum: int = 0, maximum: int = MAX_INTEGER
    ) -> int:
        value = self.get(key, default)
        if not is_int(value):
            raise self.fail(WRONG_TYPE, key, kind="an integer")
        if value < minimum:
            raise self.fail(TOO_SMALL, key, limit=minimum)
        if value > maximum:
            raise self.fail(TOO_LARGE, key, limit=maximum)
        return value

    def boolean(self, key: str, default: Any = REQUIRED) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(WRONG_TYPE, key, kind="a boolean")
        return value

    def number(self, key: str, default: float, *, minimum: float, maximum: float) -> float:
        value = self.get(key, default)
        if not (is_int(value) or isinstance(value, float)) or not math.isfinite(value):
            raise self.fail(WRONG_TYPE, key, kind="a number")
        if value < minimum:
            raise self.fail(TOO_SMALL, key, limit=minimum)
        if value > maximum:
            raise self.fail(TOO_LARGE, key, limit=maximum)
        return value

    def items(self, key: str, default: Any = REQUIRED) -> list[Any]:
        value = self.get(key, default)
        if not isinstance(value, list):
            raise self.fail(WRONG_TYPE, key, kind="a list")
        return value

    def strings(self, key: str, default: Any = REQUIRED) -> list[str]:
        value = self.items(key, default)
        if not all(isinstance(item, str) for item in value):
            raise self.fail(WRONG_TYPE, key, kind="a list of strings")
        return value

    def frames(self, key: str, default: Any = REQUIRED) -> list[int]:
        value = self.items(key, default)
        if not all(is_int(item) and item >= 0 for item in value):
            raise self.fail(WRONG_TYPE, key, kind="a list of non-negative integers")
        return value

    def objects(self, key: str, default: Any = REQUIRED) -> Iterator[Fields]:
        path = self.at(key)
        for index, item in enumerate(self.items(key, default)):
            yield Fields(self.what, f"{path}[{index}]", item)

    def child(self, key: str) -> Fields:
        return Fields(self.what, self.at(key), self.get(key, REQUIRED))

    def maybe(self, key: str, read: Callable[[str], Any]) -> Any:
        """``read(key)`` if the key is present and not null, else None."""
        return None if self.get(key, None) is None else read(key)


def root(obj: Any, what: str) -> Fields:
    if not isinstance(obj, dict):
        raise ArchiveError(NOT_OBJECT.format(what=what))
    return Fields(what, "", obj)


def check_version(doc: Fields) -> str:
    version = doc.get("version", REQUIRED)
    if not isinstance(version, str) or version not in SUPPORTED_VERSIONS:
        shown_version = shown(version) if isinstance(version, str) else shown(repr(version))
        raise ArchiveError(UNSUPPORTED_VERSION.format(version=shown_version))
    return version
