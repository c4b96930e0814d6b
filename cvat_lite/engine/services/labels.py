"""Labels and their attributes, owned by a task or a project (contract 2).

Label lists follow CVAT's nested write shape: ``[{id?, name, color?, type?, svg?, deleted?,
attributes: [{id?, name, mutable, input_type, default_value?, values, deleted?}],
sublabels: [...]}]``. An item with an ``id`` updates (or, with ``deleted: true``, deletes) that
label; an item without one creates a label. Every write is atomic: a refused list saves nothing.
Deleting a label or an attribute also removes the annotations that use it, so that stored
annotations never reference a label the task does not have.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction

from cvat_lite import errors
from cvat_lite.engine.models import Attribute, InputType, Label, LabelType, Project, Task
from cvat_lite.engine.services.annotations import annotations_purge

LABEL_NAME_REQUIRED = "Every label needs a name."
LABEL_NAME_TOO_LONG = "The label name '{name}' is longer than 64 characters."
LABEL_NAME_DUPLICATE = "The label name '{name}' is used more than once."
LABEL_UNKNOWN = "Label {id} is not a label of this {owner}."
LABEL_TYPE_UNKNOWN = "Unknown label type '{type}'."
LABEL_DELETE_NEEDS_ID = "A label to delete must be given by its id."
SUBLABELS_NEED_SKELETON = "Only a skeleton label can have sublabels ('{name}')."
SUBLABEL_IS_SKELETON = "A sublabel cannot be a skeleton ('{name}')."
ATTRIBUTE_NAME_REQUIRED = "Every attribute of label '{label}' needs a name."
ATTRIBUTE_NAME_DUPLICATE = "The attribute name '{name}' is used more than once in label '{label}'."
ATTRIBUTE_UNKNOWN = "Attribute {id} is not an attribute of label '{label}'."
ATTRIBUTE_INPUT_TYPE_UNKNOWN = "Attribute '{name}' has an unknown input type '{input_type}'."
ATTRIBUTE_VALUES_INVALID = "The values of attribute '{name}' must be a list of strings."
ATTRIBUTE_VALUES_REQUIRED = "Attribute '{name}' ({input_type}) needs at least one value."
ATTRIBUTE_NUMBER_VALUES = (
    "Attribute '{name}' (number) needs three values [min, max, step] with min <= max and step > 0."
)
ATTRIBUTE_DEFAULT_NOT_IN_VALUES = (
    "The default value of attribute '{name}' must be one of its values."
)

# CVAT picks label colours from a palette when the client gives none.
PALETTE = (
    "#33ddff", "#fa3253", "#34d1b7", "#ff007c", "#ff6037", "#ddff33", "#24b353", "#b83df5",
    "#66ff66", "#32b7fa", "#ffcc33", "#83e070", "#fafa37", "#5986b3", "#8c78f0", "#ff6a4d",
    "#f078f0", "#2a7dd1", "#b25050", "#cc3366",
)  # fmt: skip


def labels_of(*, task: Task | None = None, project: Project | None = None):
    """The top-level labels a task uses (its project's when it is in one) or a project owns."""
    if task is not None:
        if task.project_id:
            return Label.objects.filter(project_id=task.project_id, parent__isnull=True)
        return Label.objects.filter(task=task, parent__isnull=True)
    assert project is not None
    return Label.objects.filter(project=project, parent__isnull=True)


@transaction.atomic
def labels_create(
    *, labels: Sequence[Mapping[str, Any]], task: Task | None = None, project: Project | None = None
) -> list[Label]:
    """Create ``labels`` for a new task or project (no ids, no deletions)."""
    return labels_patch(labels=labels, task=task, project=project)


@transaction.atomic
def labels_patch(
    *, labels: Sequence[Mapping[str, Any]], task: Task | None = None, project: Project | None = None
) -> list[Label]:
    """Apply CVAT's nested label changes to a task's or a project's labels.

    Returns the labels created or updated."""
    owner = {"task": task} if task is not None else {"project": project}
    owner_name = "task" if task is not None else "project"
    existing = {label.id: label for label in Label.objects.filter(**owner, parent__isnull=True)}
    purge = _Purge()
    written: list[Label] = []
    for item in labels:
        label_id = item.get("id")
        if label_id is None:
            if item.get("deleted"):
                raise errors.BadRequest(LABEL_DELETE_NEEDS_ID)
            written.append(_label_write(None, item, owner=owner, purge=purge))
            continue
        label = existing.get(label_id)
        if label is None:
            raise errors.BadRequest(LABEL_UNKNOWN.format(id=label_id, owner=owner_name))
        if item.get("deleted"):
            purge.label(label)
            label.delete()
            existing.pop(label_id)
        else:
            written.append(_label_write(label, item, owner=owner, purge=purge))
    _check_unique_names(Label.objects.filter(**owner, parent__isnull=True))
    purge.apply(task=task, project=project)
    return written


@transaction.atomic
def label_update(*, label: Label, data: Mapping[str, Any]) -> Label:
    """``PATCH /api/labels/{id}``: change one label (name, colour, attributes, sublabels)."""
    owner = {"task_id": label.task_id} if label.task_id else {"project_id": label.project_id}
    purge = _Purge()
    label = _label_write(label, data, owner=owner, purge=purge)
    siblings = Label.objects.filter(**owner, parent_id=label.parent_id)
    _check_unique_names(siblings)
    purge.apply(task=label.task, project=label.project)
    return label


@transaction.atomic
def label_delete(*, label: Label) -> None:
    """Delete a label, its sublabels and attributes, and the annotations that use them."""
    purge = _Purge()
    purge.label(label)
    task, project = label.task, label.project
    label.delete()
    purge.apply(task=task, project=project)


# --- internals ---------------------------------------------------------------------------------


class _Purge:
    """Label and attribute ids deleted by a write, whose annotations must go too."""

    def __init__(self) -> None:
        self.label_ids: set[int] = set()
        self.spec_ids: set[int] = set()

    def label(self, label: Label) -> None:
        self.label_ids.add(label.id)
        self.spec_ids.update(label.attributes.values_list("id", flat=True))
        for sub in label.sublabels.all():
            self.label(sub)

    def apply(self, *, task: Task | None, project: Project | None) -> None:
        if not (self.label_ids or self.spec_ids):
            return
        tasks: Iterable[Task]
        if project is not None:
            tasks = Task.objects.filter(project=project)
        else:
            assert task is not None  # labels belong to a task or a project
            tasks = [task]
        annotations_purge(tasks=tasks, label_ids=self.label_ids, spec_ids=self.spec_ids)


def _label_write(
    label: Label | None,
    data: Mapping[str, Any],
    *,
    owner: Mapping[str, Any],
    purge: _Purge,
    parent: Label | None = None,
) -> Label:
    name = data.get("name", label.name if label else None)
    if not name or not isinstance(name, str):
        raise errors.BadRequest(LABEL_NAME_REQUIRED)
    if len(name) > 64:
        raise errors.BadRequest(LABEL_NAME_TOO_LONG.format(name=name[:64]))
    label_type = data.get("type") or (label.type if label else LabelType.ANY)
    if label_type not in LabelType.values:
        raise errors.BadRequest(LABEL_TYPE_UNKNOWN.format(type=label_type))
    if parent is not None and label_type == LabelType.SKELETON:
        raise errors.BadRequest(SUBLABEL_IS_SKELETON.format(name=name))
    sublabels = data.get("sublabels") or []
    if sublabels and label_type != LabelType.SKELETON:
        raise errors.BadRequest(SUBLABELS_NEED_SKELETON.format(name=name))

    if label is None:
        color = data.get("color") or _next_color(owner, parent)
        label = Label.objects.create(
            **owner,
            parent=parent,
            name=name,
            color=color,
            type=label_type,
            svg=data.get("svg") or "",
        )
    else:
        label.name = name
        label.type = label_type
        if data.get("color"):
            label.color = data["color"]
        if "svg" in data:
            label.svg = data["svg"] or ""
        label.save()

    _attributes_write(label, data.get("attributes") or [], purge=purge)
    if sublabels:
        _sublabels_write(label, sublabels, owner=owner, purge=purge)
    return label


def _sublabels_write(
    parent: Label, items: Sequence[Mapping[str, Any]], *, owner: Mapping[str, Any], purge: _Purge
) -> None:
    by_name = {sub.name: sub for sub in parent.sublabels.all()}
    for item in items:
        sub = _match(by_name, item, LABEL_UNKNOWN.format(id=item.get("id"), owner="skeleton"))
        if item.get("deleted"):
            if sub is not None:
                purge.label(sub)
                sub.delete()
            continue
        _label_write(sub, item, owner=owner, purge=purge, parent=parent)
    _check_unique_names(parent.sublabels.all())


def _attributes_write(label: Label, items: Sequence[Mapping[str, Any]], *, purge: _Purge) -> None:
    by_name = {attr.name: attr for attr in label.attributes.all()}
    for item in items:
        attr = _match(by_name, item, ATTRIBUTE_UNKNOWN.format(id=item.get("id"), label=label.name))
        if item.get("deleted"):
            if attr is not None:
                purge.spec_ids.add(attr.id)
                attr.delete()
                by_name.pop(attr.name, None)
            continue
        fields = _attribute_clean(item, attr, label=label)
        if attr is None:
            attr = Attribute.objects.create(label=label, **fields)
        else:
            by_name.pop(attr.name, None)
            for key, value in fields.items():
                setattr(attr, key, value)
            attr.save()
        by_name[attr.name] = attr
    names = list(label.attributes.values_list("name", flat=True))
    for name in names:
        if names.count(name) > 1:
            raise errors.BadRequest(ATTRIBUTE_NAME_DUPLICATE.format(name=name, label=label.name))


def _match(by_name: Mapping[str, Any], item: Mapping[str, Any], unknown: str) -> Any:
    """The existing sublabel/attribute an item names: by ``id``, else by ``name``; None for a
    new one. An unknown id is refused."""
    item_id = item.get("id")
    if item_id is None:
        return by_name.get(str(item.get("name")))
    found = next((obj for obj in by_name.values() if obj.id == item_id), None)
    if found is None:
        raise errors.BadRequest(unknown)
    return found


def _attribute_clean(
    item: Mapping[str, Any], attr: Attribute | None, *, label: Label
) -> dict[str, Any]:
    def current(key: str, default: Any) -> Any:
        return item[key] if key in item else (getattr(attr, key) if attr else default)

    name = current("name", "")
    if not name or not isinstance(name, str):
        raise errors.BadRequest(ATTRIBUTE_NAME_REQUIRED.format(label=label.name))
    input_type = current("input_type", None)
    if input_type not in InputType.values:
        raise errors.BadRequest(
            ATTRIBUTE_INPUT_TYPE_UNKNOWN.format(name=name, input_type=input_type)
        )
    values = current("values", [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise errors.BadRequest(ATTRIBUTE_VALUES_INVALID.format(name=name))
    if input_type in (InputType.SELECT, InputType.RADIO) and not values:
        raise errors.BadRequest(ATTRIBUTE_VALUES_REQUIRED.format(name=name, input_type=input_type))
    if input_type == InputType.NUMBER and not _number_values_ok(values):
        raise errors.BadRequest(ATTRIBUTE_NUMBER_VALUES.format(name=name))
    default_value = current("default_value", "")
    if not default_value:
        default_value = values[0] if values else ""
    if input_type in (InputType.SELECT, InputType.RADIO) and default_value not in values:
        raise errors.BadRequest(ATTRIBUTE_DEFAULT_NOT_IN_VALUES.format(name=name))
    return {
        "name": name,
        "mutable": bool(current("mutable", False)),
        "input_type": input_type,
        "default_value": default_value,
        "values": values,
    }


def _number_values_ok(values: list[str]) -> bool:
    if len(values) != 3:
        return False
    try:
        low, high, step = (float(v) for v in values)
    except ValueError:
        return False
    return all(math.isfinite(v) for v in (low, high, step)) and low <= high and step > 0


def _check_unique_names(labels) -> None:
    seen: set[str] = set()
    for name in labels.values_list("name", flat=True):
        if name in seen:
            raise errors.BadRequest(LABEL_NAME_DUPLICATE.format(name=name))
        seen.add(name)


def _next_color(owner: Mapping[str, Any], parent: Label | None) -> str:
    used = set(Label.objects.filter(**owner, parent=parent).values_list("color", flat=True))
    for color in PALETTE:
        if color not in used:
            return color
    return PALETTE[len(used) % len(PALETTE)]
