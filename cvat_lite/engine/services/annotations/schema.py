"""CVAT's annotation JSON (``{version, tags, shapes, tracks}``): validation and normalisation.

Pure code, no ORM: the input is untrusted (API bodies, backup archives). Every object is rebuilt
from the keys CVAT's format defines, with CVAT's defaults for the missing optional ones, so that
what a client PUTs (in CVAT's full shape) is exactly what it GETs back, plus ids. Unknown keys
are dropped. Labels are referenced by id (``label_id``, attributes by ``spec_id``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cvat_lite import errors

KINDS = ("tags", "shapes", "tracks")
SHAPE_TYPES = frozenset(
    {"rectangle", "polygon", "polyline", "points", "ellipse", "cuboid", "mask", "skeleton"}
)
MAX_ATTRIBUTE_VALUE = 4096

DOCUMENT_NOT_OBJECT = "The annotations must be a JSON object with 'tags', 'shapes' and 'tracks'."
NOT_A_LIST = "{path}: expected a list."
NOT_AN_OBJECT = "{path}: expected an object."
FIELD_REQUIRED = "{path}: this field is required."
FIELD_TYPE = "{path}: expected {expected}."
FIELD_RANGE = "{path}: {value} is out of range."
SHAPE_TYPE_UNKNOWN = "{path}: unknown shape type '{value}'."
TRACK_WITHOUT_SHAPES = "{path}: a track needs at least one shape."
ID_REQUIRED = "{path}.id: an id is required for this action."
ID_DUPLICATE = "{path}.id: the id {id} is given more than once."
LABEL_UNKNOWN = "{path}.label_id: label {label_id} is not a label of this task."
ATTRIBUTE_UNKNOWN = (
    "{path}.attributes: attribute {spec_id} is not an attribute of label {label_id}."
)


@dataclass(frozen=True)
class LabelSpec:
    """What annotation validation needs to know about one label."""

    attribute_ids: frozenset[int]


class Ids:
    """Hands out object ids, starting at ``start``."""

    def __init__(self, start: int):
        self.next = start

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value


def empty_document(version: int = 0) -> dict[str, Any]:
    return {"version": version, "tags": [], "shapes": [], "tracks": []}


def parse_document(
    data: Any, *, ids_required: bool = False, in_place: bool = False
) -> dict[str, list[dict]]:
    """Validate the structure of an annotations document and normalise its objects.

    ``ids_required``: every top-level object must carry an ``id`` (PATCH update/delete).
    ``in_place``: each object of the document's lists is replaced by its normalised form, and
    the result holds those same lists, so that one copy of the objects is alive at a time (a
    restore's large documents; the document must not be used afterwards)."""
    if not isinstance(data, Mapping):
        raise errors.BadRequest(DOCUMENT_NOT_OBJECT)
    result: dict[str, list[dict]] = {}
    for kind in KINDS:
        items = data.get(kind)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise errors.BadRequest(NOT_A_LIST.format(path=kind))
        if in_place:
            parsed: list[dict] = items
            for index, obj in enumerate(items):
                parsed[index] = parse_object(kind, obj, index)
        else:
            parsed = [parse_object(kind, obj, index) for index, obj in enumerate(items)]
        if ids_required:
            _check_ids(parsed, kind)
        result[kind] = parsed
    return result


def parse_object(kind: str, obj: Any, index: int) -> dict[str, Any]:
    """Object ``index`` of a document's ``kind`` list (one of ``KINDS``), validated and
    normalised as ``parse_document`` does it; its errors name it ``<kind>[<index>]``."""
    path = f"{kind}[{index}]"
    if kind == "tags":
        return _tag(obj, path)
    if kind == "shapes":
        return _shape(obj, path, top=True)
    return _track(obj, path, top=True)


def parse_ids(data: Any) -> dict[str, list[int]]:
    """The top-level ids of a PATCH ``delete`` document (the rest of each object is ignored)."""
    if not isinstance(data, Mapping):
        raise errors.BadRequest(DOCUMENT_NOT_OBJECT)
    result: dict[str, list[int]] = {}
    for kind in KINDS:
        items = data.get(kind) or []
        if not isinstance(items, list):
            raise errors.BadRequest(NOT_A_LIST.format(path=kind))
        objects = []
        for index, obj in enumerate(items):
            path = f"{kind}[{index}]"
            if not isinstance(obj, Mapping):
                raise errors.BadRequest(NOT_AN_OBJECT.format(path=path))
            objects.append({"id": _int(obj, "id", path, nullable=True, minimum=0)})
        _check_ids(objects, kind)
        result[kind] = [obj["id"] for obj in objects]
    return result


def check_labels(document: Mapping[str, list[dict]], labels: Mapping[int, LabelSpec]) -> None:
    """Every referenced label and attribute must belong to the task (or its project)."""
    for kind in KINDS:
        for index, obj in enumerate(document[kind]):
            _check_object_labels(obj, f"{kind}[{index}]", labels)


def frames_of(obj: Mapping[str, Any]) -> Iterator[int]:
    """Every frame an object touches: its own, its track shapes', its elements'."""
    yield obj["frame"]
    for shape in obj.get("shapes", ()):
        yield shape["frame"]
    for element in obj.get("elements", ()):
        yield from frames_of(element)


def fits(obj: Mapping[str, Any], frames: Container[int]) -> bool:
    return all(frame in frames for frame in frames_of(obj))


def assign_ids(obj: dict[str, Any], ids: Ids, *, keep: Container[int] = ()) -> None:
    """Give ``obj`` and its nested objects ids; ids found in ``keep`` stay as they are."""
    if obj.get("id") is None or obj["id"] not in keep:
        obj["id"] = ids.take()
    for nested in ("shapes", "elements"):
        for child in obj.get(nested, ()):
            assign_ids(child, ids, keep=keep)


def nested_ids(obj: Mapping[str, Any]) -> set[int]:
    """The ids of ``obj`` and everything inside it."""
    found = {obj["id"]} if obj.get("id") is not None else set()
    for nested in ("shapes", "elements"):
        for child in obj.get(nested, ()):
            found |= nested_ids(child)
    return found


def map_references(
    obj: dict[str, Any],
    *,
    label: Callable[[int], int | None],
    spec: Callable[[int], int | None],
) -> dict[str, Any] | None:
    """Rewrite ``obj``'s label and attribute ids. ``label``/``spec`` return None to drop the
    reference: an object whose label is dropped is dropped (None), an attribute value whose spec
    is dropped is removed."""
    if "label_id" in obj:
        new_label = label(obj["label_id"])
        if new_label is None:
            return None
        obj["label_id"] = new_label
    if "attributes" in obj:
        obj["attributes"] = [
            {"spec_id": new_spec, "value": attr["value"]}
            for attr in obj["attributes"]
            if (new_spec := spec(attr["spec_id"])) is not None
        ]
    if "shapes" in obj:
        obj["shapes"] = [
            mapped
            for shape in obj["shapes"]
            if (mapped := map_references(shape, label=label, spec=spec)) is not None
        ]
        if not obj["shapes"]:
            return None
    if "elements" in obj:
        obj["elements"] = [
            mapped
            for element in obj["elements"]
            if (mapped := map_references(element, label=label, spec=spec)) is not None
        ]
    return obj


# --- object parsers ----------------------------------------------------------------------------


def _base(obj: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The keys tags, shapes and tracks share."""
    return {
        "id": _int(obj, "id", path, nullable=True, minimum=0),
        "frame": _int(obj, "frame", path, required=True, minimum=0),
        "label_id": _int(obj, "label_id", path, required=True, minimum=0),
        "group": _int(obj, "group", path, nullable=True, minimum=0),
        "source": _str(obj, "source", path, default="manual"),
    }


def _tag(obj: Any, path: str) -> dict[str, Any]:
    obj = _object(obj, path)
    return {**_base(obj, path), "attributes": _attributes(obj, path)}


def _shape(obj: Any, path: str, *, top: bool) -> dict[str, Any]:
    obj = _object(obj, path)
    result = {
        "type": _shape_type(obj, path),
        **_base(obj, path),
        **_geometry(obj, path),
        "attributes": _attributes(obj, path),
    }
    if "score" in obj:
        result["score"] = _number(obj, "score", path, minimum=0, maximum=1)
    if top:
        result["elements"] = [
            _shape(element, f"{path}.elements[{index}]", top=False)
            for index, element in enumerate(_list(obj, "elements", path))
        ]
    return result


def _tracked_shape(obj: Any, path: str) -> dict[str, Any]:
    obj = _object(obj, path)
    return {
        "id": _int(obj, "id", path, nullable=True, minimum=0),
        "type": _shape_type(obj, path),
        "frame": _int(obj, "frame", path, required=True, minimum=0),
        **_geometry(obj, path),
        "attributes": _attributes(obj, path),
    }


def _track(obj: Any, path: str, *, top: bool) -> dict[str, Any]:
    obj = _object(obj, path)
    if "shapes" not in obj:
        raise errors.BadRequest(FIELD_REQUIRED.format(path=f"{path}.shapes"))
    shapes = [
        _tracked_shape(shape, f"{path}.shapes[{index}]")
        for index, shape in enumerate(_list(obj, "shapes", path))
    ]
    if not shapes:
        raise errors.BadRequest(TRACK_WITHOUT_SHAPES.format(path=path))
    result = {**_base(obj, path), "attributes": _attributes(obj, path), "shapes": shapes}
    if top:
        result["elements"] = [
            _track(element, f"{path}.elements[{index}]", top=False)
            for index, element in enumerate(_list(obj, "elements", path))
        ]
    return result


def _geometry(obj: Mapping[str, Any], path: str) -> dict[str, Any]:
    points = _list(obj, "points", path)
    for index, point in enumerate(points):
        if not _is_number(point):
            raise errors.BadRequest(
                FIELD_TYPE.format(path=f"{path}.points[{index}]", expected="a number")
            )
    return {
        "occluded": _bool(obj, "occluded", path),
        "outside": _bool(obj, "outside", path),
        "z_order": _int(obj, "z_order", path, default=0),
        "rotation": _number(obj, "rotation", path, default=0.0, minimum=0, maximum=360),
        "points": [float(point) for point in points],
    }


def _attributes(obj: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    result = []
    for index, attr in enumerate(_list(obj, "attributes", path)):
        attr_path = f"{path}.attributes[{index}]"
        attr = _object(attr, attr_path)
        value = attr.get("value")
        if not isinstance(value, str):
            raise errors.BadRequest(
                FIELD_TYPE.format(path=f"{attr_path}.value", expected="a string")
            )
        if len(value) > MAX_ATTRIBUTE_VALUE:
            raise errors.BadRequest(FIELD_RANGE.format(path=f"{attr_path}.value", value="length"))
        result.append({"spec_id": _int(attr, "spec_id", attr_path, required=True), "value": value})
    return result


# --- field readers -----------------------------------------------------------------------------


def _object(obj: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise errors.BadRequest(NOT_AN_OBJECT.format(path=path))
    return obj


def _list(obj: Mapping[str, Any], key: str, path: str) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.BadRequest(NOT_A_LIST.format(path=f"{path}.{key}"))
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _int(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    required: bool = False,
    nullable: bool = False,
    default: int | None = None,
    minimum: int | None = None,
) -> Any:
    field = f"{path}.{key}"
    if key not in obj or (obj[key] is None and not required):
        if required:
            raise errors.BadRequest(FIELD_REQUIRED.format(path=field))
        return None if nullable else default
    value = obj[key]
    if not _is_int(value):
        raise errors.BadRequest(FIELD_TYPE.format(path=field, expected="an integer"))
    if minimum is not None and value < minimum:
        raise errors.BadRequest(FIELD_RANGE.format(path=field, value=value))
    return value


def _number(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    *,
    default: float | None = None,
    minimum: float,
    maximum: float,
) -> float | None:
    field = f"{path}.{key}"
    if obj.get(key) is None:
        return default
    value = obj[key]
    if not _is_number(value):
        raise errors.BadRequest(FIELD_TYPE.format(path=field, expected="a number"))
    if not minimum <= value <= maximum:
        raise errors.BadRequest(FIELD_RANGE.format(path=field, value=value))
    return float(value)


def _bool(obj: Mapping[str, Any], key: str, path: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise errors.BadRequest(FIELD_TYPE.format(path=f"{path}.{key}", expected="a boolean"))
    return value


def _str(obj: Mapping[str, Any], key: str, path: str, *, default: str) -> str:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > 64:
        raise errors.BadRequest(FIELD_TYPE.format(path=f"{path}.{key}", expected="a short string"))
    return value


def _shape_type(obj: Mapping[str, Any], path: str) -> str:
    value = obj.get("type")
    if value is None:
        raise errors.BadRequest(FIELD_REQUIRED.format(path=f"{path}.type"))
    if value not in SHAPE_TYPES:
        raise errors.BadRequest(SHAPE_TYPE_UNKNOWN.format(path=f"{path}.type", value=value))
    return value


def _check_ids(objects: list[dict], kind: str) -> None:
    seen: set[int] = set()
    for index, obj in enumerate(objects):
        path = f"{kind}[{index}]"
        if obj["id"] is None:
            raise errors.BadRequest(ID_REQUIRED.format(path=path))
        if obj["id"] in seen:
            raise errors.BadRequest(ID_DUPLICATE.format(path=path, id=obj["id"]))
        seen.add(obj["id"])


def _check_object_labels(
    obj: Mapping[str, Any], path: str, labels: Mapping[int, LabelSpec], label_id: int | None = None
) -> None:
    if "label_id" in obj:
        label_id = obj["label_id"]
        if label_id not in labels:
            raise errors.BadRequest(LABEL_UNKNOWN.format(path=path, label_id=label_id))
    assert label_id is not None
    for attr in obj.get("attributes", ()):
        if attr["spec_id"] not in labels[label_id].attribute_ids:
            raise errors.BadRequest(
                ATTRIBUTE_UNKNOWN.format(path=path, spec_id=attr["spec_id"], label_id=label_id)
            )
    for index, shape in enumerate(obj.get("shapes", ())):
        _check_object_labels(shape, f"{path}.shapes[{index}]", labels, label_id)
    for index, element in enumerate(obj.get("elements", ())):
        _check_object_labels(element, f"{path}.elements[{index}]", labels)
