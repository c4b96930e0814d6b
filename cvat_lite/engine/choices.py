"""The value sets of the domain's fields (contract 2), each defined here once.

Django-free (``tests/test_layers.py`` checks it), so that the backup format, which must not
import Django, derives its accepted values from the same enums as the models' ``choices``
(``cvat_lite/engine/models.py``) and the API's serializers. The provider enums live one layer
down, in ``cvat_lite/cloud/base.py``, and the sorting methods in ``cvat_lite/media/selection.py``
(where frames are sorted); this module re-exports them so every value set has one import.
"""

from __future__ import annotations

import enum

from cvat_lite.cloud.base import CredentialsType, ProviderType
from cvat_lite.media.selection import SortingMethod

__all__ = [
    "SHAPE_TYPES",
    "ChunkType",
    "CredentialsType",
    "InputType",
    "JobType",
    "LabelType",
    "Location",
    "ProviderType",
    "SortingMethod",
    "StageChoice",
    "StateChoice",
    "StatusChoice",
    "StorageChoice",
    "StorageMethod",
    "choices_of",
    "values_of",
]


class StorageChoice(enum.StrEnum):
    LOCAL = "local"
    SHARE = "share"
    CLOUD_STORAGE = "cloud_storage"


class StorageMethod(enum.StrEnum):
    """How CVAT keeps a task's chunks; accepted and recorded, the service always uses the cache."""

    CACHE = "cache"
    FILE_SYSTEM = "file_system"


class ChunkType(enum.StrEnum):
    """What a task's chunks hold; the service makes image sets only."""

    IMAGESET = "imageset"
    VIDEO = "video"


class Location(enum.StrEnum):
    """Where an export goes or an import comes from (CVAT's ``location``): the service's own
    storage (a download, an upload, a policy's folder) or a cloud storage."""

    LOCAL = "local"
    CLOUD_STORAGE = "cloud_storage"


class StatusChoice(enum.StrEnum):
    ANNOTATION = "annotation"
    VALIDATION = "validation"
    COMPLETED = "completed"


class StageChoice(enum.StrEnum):
    ANNOTATION = "annotation"
    VALIDATION = "validation"
    ACCEPTANCE = "acceptance"


class StateChoice(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in progress"
    REJECTED = "rejected"
    COMPLETED = "completed"


class JobType(enum.StrEnum):
    ANNOTATION = "annotation"
    GROUND_TRUTH = "ground_truth"
    CONSENSUS_REPLICA = "consensus_replica"


class LabelType(enum.StrEnum):
    ANY = "any"
    RECTANGLE = "rectangle"
    POLYGON = "polygon"
    POLYLINE = "polyline"
    POINTS = "points"
    ELLIPSE = "ellipse"
    CUBOID = "cuboid"
    MASK = "mask"
    SKELETON = "skeleton"
    TAG = "tag"


class InputType(enum.StrEnum):
    CHECKBOX = "checkbox"
    RADIO = "radio"
    NUMBER = "number"
    TEXT = "text"
    SELECT = "select"


# The shape types of annotations: the label types but "any" and "tag", in the same order.
SHAPE_TYPES: tuple[str, ...] = tuple(
    member.value for member in LabelType if member not in (LabelType.ANY, LabelType.TAG)
)


def values_of(values: type[enum.Enum]) -> tuple[str, ...]:
    """The values of an enum, in its order."""
    return tuple(member.value for member in values)


def choices_of(values: type[enum.Enum]) -> list[tuple[str, str]]:
    """Django-style choices of an enum, labelled as ``TextChoices`` labels are
    (``IN_PROGRESS`` → "In Progress"), so the models' migrations stay as they were."""
    return [(member.value, member.name.replace("_", " ").title()) for member in values]
