"""contract 5.1: /api/labels."""

from __future__ import annotations

import pytest

from cvat_lite.engine.models import Attribute, Label
from cvat_lite.engine.services import annotations as annotation_service
from cvat_lite.engine.services import labels as service
from tests.engine.factories import label_ids, make_project, make_task, sdk_model

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/labels", "/api/labels/"])
def test_list_by_task(api, user, path):
    task = make_task(user, size=0)
    make_task(user, name="other", size=0, labels=[{"name": "dog"}])

    body = api.get(path, {"task_id": task.id, "org": ""}).json()

    sdk_model(body, "PaginatedLabelList")
    assert [label["name"] for label in body["results"]] == ["car", "person", "body"]
    car, _, body_label = body["results"]
    assert car["task_id"] == task.id and car["project_id"] is None
    assert car["has_parent"] is False and car["color"] == "#ff0000"
    assert [a["name"] for a in car["attributes"]] == ["color", "speed"]
    assert car["attributes"][0] == {
        "id": car["attributes"][0]["id"],
        "name": "color",
        "mutable": False,
        "input_type": "select",
        "default_value": "red",
        "values": ["red", "blue"],
    }
    assert body_label["type"] == "skeleton" and body_label["svg"]
    assert [s["name"] for s in body_label["sublabels"]] == ["head", "tail"]
    assert all(s["has_parent"] for s in body_label["sublabels"])

    elements = api.get(path, {"parent_id": body_label["id"]}).json()["results"]
    assert [e["name"] for e in elements] == ["head", "tail"]
    assert elements[0]["parent_id"] == body_label["id"]


def test_list_by_job_and_project(api, user):
    project = make_project(user, labels=[{"name": "car"}, {"name": "bus"}])
    task = make_task(user, project=project, size=2)
    job = task.segments.get().jobs.get()

    by_job = api.get("/api/labels", {"job_id": job.id}).json()["results"]
    by_task = api.get("/api/labels", {"task_id": task.id}).json()["results"]
    by_project = api.get("/api/labels", {"project_id": project.id}).json()["results"]
    assert [label["name"] for label in by_job] == ["car", "bus"]
    assert by_job == by_task == by_project
    assert by_job[0]["project_id"] == project.id

    assert api.get("/api/labels", {"task_id": 999}).json()["count"] == 0
    assert api.get("/api/labels", {"job_id": "x"}).status_code == 400


def test_read_and_patch(api, user):
    task = make_task(user, size=0)
    car = task.labels.get(name="car")
    color = car.attributes.get(name="color")

    response = api.get(f"/api/labels/{car.id}/")
    assert response.status_code == 200
    sdk_model(response.json(), "Label")

    response = api.patch(
        f"/api/labels/{car.id}",
        {
            "name": "auto",
            "color": "#123456",
            "attributes": [
                {
                    "id": color.id,
                    "name": "paint",
                    "mutable": True,
                    "input_type": "select",
                    "values": ["red", "blue", "green"],
                    "default_value": "green",
                },
                {"name": "plate", "mutable": False, "input_type": "text", "values": []},
            ],
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    sdk_model(body, "Label")
    assert (body["name"], body["color"]) == ("auto", "#123456")
    assert [(a["name"], a["default_value"]) for a in body["attributes"]] == [
        ("paint", "green"),
        ("speed", "0"),
        ("plate", ""),
    ]
    assert body["attributes"][0]["id"] == color.id


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": "person"}, service.LABEL_NAME_DUPLICATE.format(name="person")),
        (
            {
                "attributes": [
                    {
                        "id": 999999,
                        "name": "x",
                        "mutable": False,
                        "input_type": "text",
                        "values": [],
                    }
                ]
            },
            None,
        ),
        (
            {
                "attributes": [
                    {
                        "name": "y",
                        "mutable": False,
                        "input_type": "radio",
                        "values": ["a"],
                        "default_value": "b",
                    }
                ]
            },
            service.ATTRIBUTE_DEFAULT_NOT_IN_VALUES.format(name="y"),
        ),
        ({"type": "blob"}, None),
    ],
)
def test_bad_patch_changes_nothing(api, user, payload, message):
    task = make_task(user, size=0)
    car = task.labels.get(name="car")

    response = api.patch(f"/api/labels/{car.id}", {"color": "#000000", **payload}, format="json")

    assert response.status_code == 400, response.json()
    if message:
        assert response.json()["message"] == message
    car.refresh_from_db()
    assert (car.name, car.color, car.type) == ("car", "#ff0000", "any")
    assert list(car.attributes.values_list("name", flat=True)) == ["color", "speed"]


def test_delete_removes_the_label_and_its_annotations(api, user):
    task = make_task(user, size=2)
    ids = label_ids(task)
    job = task.segments.get().jobs.get()
    annotation_service.annotations_put(
        job=job,
        data={
            "tags": [{"frame": 0, "label_id": ids["car"]}, {"frame": 1, "label_id": ids["person"]}]
        },
    )

    response = api.delete(f"/api/labels/{ids['car']}/")

    assert response.status_code == 204
    assert not Label.objects.filter(name="car").exists()
    assert not Attribute.objects.filter(label_id=ids["car"]).exists()
    tags = annotation_service.annotations_get(job=job)["tags"]
    assert [tag["label_id"] for tag in tags] == [ids["person"]]


def test_visibility(api, other_api, admin_api, user):
    task = make_task(user, size=0)
    car = task.labels.get(name="car")

    assert other_api.get("/api/labels").json()["count"] == 0
    assert other_api.get("/api/labels", {"task_id": task.id}).json()["count"] == 0
    for method in ("get", "patch", "delete"):
        response = getattr(other_api, method)(f"/api/labels/{car.id}", {"name": "x"}, format="json")
        assert response.status_code == 404
    assert Label.objects.filter(name="car").exists()
    assert admin_api.get(f"/api/labels/{car.id}").status_code == 200
    assert admin_api.get("/api/labels").json()["count"] == 3
