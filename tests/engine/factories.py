"""Tasks with data and jobs for tests, built through the services (no media, no worker)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cvat_lite.engine.models import (
    Attribute,
    CloudStorage,
    Data,
    Image,
    Label,
    Project,
    StorageChoice,
    Task,
)
from cvat_lite.engine.services.jobs import segments_create
from cvat_lite.engine.services.projects import project_create
from cvat_lite.engine.services.tasks import task_create

LABELS: list[dict[str, Any]] = [
    {
        "name": "car",
        "color": "#ff0000",
        "attributes": [
            {"name": "color", "mutable": False, "input_type": "select", "values": ["red", "blue"]},
            {"name": "speed", "mutable": True, "input_type": "number", "values": ["0", "100", "1"]},
        ],
    },
    {"name": "person"},
    {
        "name": "body",
        "type": "skeleton",
        "svg": '<circle r="1" data-label-name="head" />',
        "sublabels": [{"name": "head", "type": "points"}, {"name": "tail", "type": "points"}],
    },
]


def make_cloud_storage(owner) -> CloudStorage:
    """A storage row only: enough for references and links (no bucket behind it)."""
    return CloudStorage.objects.create(
        owner=owner,
        provider_type="AWS_S3_BUCKET",
        resource="bucket",
        display_name="s3",
        credentials_type="ANONYMOUS_ACCESS",
    )


def make_project(owner, *, name: str = "project", labels: Sequence[dict] = LABELS) -> Project:
    return project_create(owner=owner, name=name, labels=labels)


def make_task(
    owner,
    *,
    name: str = "task",
    size: int = 10,
    segment_size: int = 0,
    overlap: int | None = None,
    labels: Sequence[dict] = LABELS,
    project: Project | None = None,
    storage: str = StorageChoice.LOCAL,
) -> Task:
    task = task_create(
        owner=owner,
        name=name,
        project_id=project.id if project else None,
        labels=() if project else labels,
        segment_size=segment_size,
        overlap=overlap,
    )
    if size:
        data = Data.objects.create(size=size, stop_frame=size - 1, storage=storage)
        Image.objects.bulk_create(
            Image(data=data, path=f"img{i}.jpg", frame=i, width=8, height=6) for i in range(size)
        )
        task.data = data
        task.save()
        segments_create(task=task, frames=range(size))
        task.refresh_from_db()
    return task


def label_ids(task_or_project) -> dict[str, int]:
    """Label name → id, sublabels as ``parent/child``."""
    if isinstance(task_or_project, Project):
        labels = Label.objects.filter(project=task_or_project)
    elif task_or_project.project_id:
        labels = Label.objects.filter(project_id=task_or_project.project_id)
    else:
        labels = Label.objects.filter(task=task_or_project)
    result = {}
    for label in labels.select_related("parent"):
        key = f"{label.parent.name}/{label.name}" if label.parent else label.name
        result[key] = label.id
    return result


def spec_ids(task_or_project) -> dict[str, int]:
    """``label.attribute`` → attribute id."""
    ids = label_ids(task_or_project)
    return {
        f"{attr.label.name}.{attr.name}": attr.id
        for attr in Attribute.objects.filter(label_id__in=ids.values()).select_related("label")
    }


def sdk_model(data: Any, model: str) -> Any:
    """Deserialise ``data`` as cvat-sdk 2.80 does a response body (``_check_type=True``): a
    missing required key, a null in a non-nullable field or a wrong type raises."""
    import importlib
    import re

    from cvat_sdk.api_client import Configuration
    from cvat_sdk.api_client.model_utils import validate_and_convert_types

    module = re.sub(r"(?<!^)(?=[A-Z])", "_", model).lower()
    cls = getattr(importlib.import_module(f"cvat_sdk.api_client.model.{module}"), model)
    return validate_and_convert_types(
        data, (cls,), ["received_data"], True, True, configuration=Configuration()
    )
