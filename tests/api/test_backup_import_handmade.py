"""A CVAT-format archive built by hand from the format alone — no checksums.sha256, no
origin block, only CVAT's keys — restores through the API."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image

from cvat_lite.engine.models import Task

from .backup_import_helpers import finished, run_import

pytestmark = pytest.mark.django_db(transaction=True)


def _png(color) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(out, "PNG")
    return out.getvalue()


TASK_JSON = {
    "name": "by hand",
    "bug_tracker": "",
    "status": "annotation",
    "subset": "train",
    "labels": [
        {
            "name": "car",
            "color": "#ff0000",
            "attributes": [
                {
                    "name": "parked",
                    "mutable": False,
                    "input_type": "checkbox",
                    "default_value": "false",
                    "values": ["false"],
                }
            ],
            "type": "any",
            "sublabels": [],
        }
    ],
    "version": "1.0",
    "data": {
        "chunk_size": 2,
        "image_quality": 80,
        "start_frame": 0,
        "stop_frame": 2,
        "storage_method": "cache",
        "sorting_method": "lexicographical",
        "chunk_type": "imageset",
        "deleted_frames": [1],
        "storage": "local",
    },
    "jobs": [
        {"status": "annotation", "type": "annotation", "start_frame": 0, "stop_frame": 1},
        {"status": "completed", "type": "annotation", "start_frame": 2, "stop_frame": 2},
    ],
}
ANNOTATIONS_JSON = [
    {
        "version": 3,
        "tags": [{"frame": 0, "label": "car", "group": 0, "source": "manual", "attributes": []}],
        "shapes": [
            {
                "type": "rectangle",
                "occluded": False,
                "outside": False,
                "z_order": 0,
                "rotation": 0.0,
                "points": [1.0, 1.0, 4.0, 3.0],
                "frame": 1,
                "label": "car",
                "group": 0,
                "source": "manual",
                "attributes": [{"value": "true", "name": "parked"}],
            }
        ],
        "tracks": [],
    },
    {"version": 0, "tags": [], "shapes": [], "tracks": []},
]
MEDIA = {"a.png": _png((255, 0, 0)), "b.png": _png((0, 255, 0)), "c.png": _png((0, 0, 255))}


def test_a_hand_built_cvat_archive_restores(api, drain, tmp_path):
    manifest = ['{"version":"1.1"}', '{"type":"images"}'] + [
        json.dumps({"name": name[:-4], "extension": ".png", "width": 8, "height": 6})
        for name in MEDIA
    ]
    path = tmp_path / "hand.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("task.json", json.dumps(TASK_JSON))
        archive.writestr("annotations.json", json.dumps(ANNOTATIONS_JSON))
        archive.writestr("data/manifest.jsonl", "\n".join(manifest) + "\n")
        for name, content in MEDIA.items():
            archive.writestr(f"data/{name}", content)

    task = Task.objects.get(pk=finished(run_import(api, path, drain)))

    assert (task.name, task.subset, task.data.storage) == ("by hand", "train", "local")
    meta = api.get(f"/api/tasks/{task.id}/data/meta").json()
    assert [f["name"] for f in meta["frames"]] == list(MEDIA)
    assert (meta["chunk_size"], meta["image_quality"], meta["deleted_frames"]) == (2, 80, [1])
    for number, content in enumerate(MEDIA.values()):
        url = f"/api/tasks/{task.id}/data/?type=frame&number={number}&quality=original"
        assert api.get(url).content == content
    jobs = api.get(f"/api/jobs?task_id={task.id}").json()["results"]
    assert sorted((j["start_frame"], j["stop_frame"], j["status"]) for j in jobs) == [
        (0, 1, "annotation"),
        (2, 2, "completed"),
    ]
    annotations = api.get(f"/api/tasks/{task.id}/annotations/").json()
    [label] = api.get(f"/api/labels?task_id={task.id}").json()["results"]
    [attribute] = label["attributes"]
    assert [(t["frame"], t["label_id"]) for t in annotations["tags"]] == [(0, label["id"])]
    [shape] = annotations["shapes"]
    assert shape["points"] == [1.0, 1.0, 4.0, 3.0]
    assert shape["attributes"] == [{"spec_id": attribute["id"], "value": "true"}]
