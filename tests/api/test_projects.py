"""contract 5.1: /api/projects."""

from __future__ import annotations

import pytest

from cvat_lite.engine.models import Data, Label, Project, Task
from cvat_lite.engine.services import labels as label_service
from cvat_lite.engine.services import projects as service
from tests.engine.factories import (
    LABELS,
    make_cloud_storage,
    make_project,
    make_task,
    sdk_model,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/projects", "/api/projects/"])
def test_create_and_read(api, user, path):
    response = api.post(path, {"name": "zoo", "labels": LABELS}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    project = sdk_model(body, "ProjectRead")
    assert project.name == "zoo"
    assert body["owner"]["username"] == user.username
    assert body["owner"]["url"].startswith("http://testserver/api/users/")
    assert body["labels"]["url"] == f"http://testserver/api/labels?project_id={body['id']}"
    assert body["tasks"] == {
        "count": 0,
        "url": f"http://testserver/api/tasks?project_id={body['id']}",
    }
    assert body["organization"] is None and body["target_storage"] is None
    assert body["dimension"] is None and body["task_subsets"] == []
    names = set(Label.objects.filter(project_id=body["id"]).values_list("name", flat=True))
    assert names == {"car", "person", "body", "head", "tail"}

    for detail in (f"/api/projects/{body['id']}", f"/api/projects/{body['id']}/"):
        again = api.get(detail)
        assert again.status_code == 200
        assert again.json()["id"] == body["id"]


def test_list_is_paginated_newest_first_and_filterable(api, user):
    for name in ("alpha", "beta", "gamma"):
        make_project(user, name=name, labels=[])
    body = api.get("/api/projects?org=&page=1").json()
    sdk_model(body, "PaginatedProjectReadList")
    assert [p["name"] for p in body["results"]] == ["gamma", "beta", "alpha"]
    assert body["count"] == 3 and body["next"] is None

    assert [p["name"] for p in api.get("/api/projects?name=beta").json()["results"]] == ["beta"]
    assert [p["name"] for p in api.get("/api/projects?search=MM").json()["results"]] == ["gamma"]
    assert [p["name"] for p in api.get("/api/projects?sort=name").json()["results"]] == [
        "alpha",
        "beta",
        "gamma",
    ]
    paged = api.get("/api/projects?page_size=2").json()
    assert len(paged["results"]) == 2 and paged["next"]

    response = api.get("/api/projects?sort=secret")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_read_shows_tasks_and_subsets(api, user):
    project = make_project(user)
    make_task(user, project=project, size=0)
    Task.objects.filter(project=project).update(subset="train")
    body = api.get(f"/api/projects/{project.id}").json()
    assert body["tasks"]["count"] == 1
    assert body["task_subsets"] == ["train"]
    assert body["dimension"] == "2d"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, None),
        ({"name": ""}, None),
        ({"name": "p", "labels": [{"name": "a"}, {"name": "a"}]}, "The label name 'a' is used"),
        ({"name": "p", "labels": [{"color": "#fff"}]}, label_service.LABEL_NAME_REQUIRED),
        (
            {"name": "p", "labels": [{"name": "a", "sublabels": [{"name": "b"}]}]},
            label_service.SUBLABELS_NEED_SKELETON.format(name="a"),
        ),
        (
            {
                "name": "p",
                "labels": [
                    {
                        "name": "a",
                        "attributes": [
                            {"name": "x", "mutable": False, "input_type": "select", "values": []}
                        ],
                    }
                ],
            },
            label_service.ATTRIBUTE_VALUES_REQUIRED.format(name="x", input_type="select"),
        ),
        (
            {
                "name": "p",
                "labels": [
                    {
                        "name": "a",
                        "attributes": [
                            {
                                "name": "n",
                                "mutable": False,
                                "input_type": "number",
                                "values": ["5", "1", "1"],
                            }
                        ],
                    }
                ],
            },
            label_service.ATTRIBUTE_NUMBER_VALUES.format(name="n"),
        ),
        (
            {"name": "p", "labels": [{"id": 999, "name": "a"}]},
            label_service.LABEL_UNKNOWN.format(id=999, owner="project"),
        ),
        (
            {"name": "p", "target_storage": {"location": "cloud_storage"}},
            service.STORAGE_NEEDS_ID.format(field="target_storage"),
        ),
        (
            {"name": "p", "source_storage": {"location": "share"}},
            None,
        ),
    ],
)
def test_bad_input_creates_nothing(api, payload, message):
    response = api.post("/api/projects", payload, format="json")

    assert response.status_code == 400, response.json()
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    if message:
        assert body["message"].startswith(message)
    assert not Project.objects.exists()
    assert not Label.objects.exists()


def test_storages_must_be_visible(api, user, other_user):
    mine, theirs = make_cloud_storage(user), make_cloud_storage(other_user)

    response = api.post(
        "/api/projects",
        {
            "name": "p",
            "target_storage": {"location": "cloud_storage", "cloud_storage_id": theirs.id},
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"] == service.STORAGE_NOT_FOUND.format(
        field="target_storage", id=theirs.id
    )
    assert not Project.objects.exists()

    response = api.post(
        "/api/projects",
        {
            "name": "p",
            "target_storage": {"location": "cloud_storage", "cloud_storage_id": mine.id},
            "source_storage": {"location": "local", "cloud_storage_id": mine.id},
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["target_storage"] == {"location": "cloud_storage", "cloud_storage_id": mine.id}
    assert body["source_storage"] == {"location": "local", "cloud_storage_id": None}
    sdk_model(body, "ProjectRead")


def test_patch_fields_and_labels(api, user):
    project = make_project(user)
    car = project.labels.get(name="car")
    person = project.labels.get(name="person")
    speed = car.attributes.get(name="speed")

    response = api.patch(
        f"/api/projects/{project.id}/",
        {
            "name": "renamed",
            "bug_tracker": "https://bugs.example/1",
            "labels": [
                {
                    "id": car.id,
                    "name": "automobile",
                    "attributes": [{"id": speed.id, "deleted": True}],
                },
                {"id": person.id, "deleted": True},
                {
                    "name": "tree",
                    "attributes": [
                        {
                            "name": "leafy",
                            "mutable": False,
                            "input_type": "checkbox",
                            "values": ["false"],
                        }
                    ],
                },
            ],
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "renamed"
    assert response.json()["bug_tracker"] == "https://bugs.example/1"
    names = set(project.labels.filter(parent__isnull=True).values_list("name", flat=True))
    assert names == {"automobile", "body", "tree"}
    assert list(
        project.labels.get(name="automobile").attributes.values_list("name", flat=True)
    ) == ["color"]
    tree = project.labels.get(name="tree")
    assert tree.color and tree.attributes.get().default_value == "false"


def test_patch_refused_changes_nothing(api, user):
    project = make_project(user)
    car = project.labels.get(name="car")

    response = api.patch(
        f"/api/projects/{project.id}",
        {"name": "renamed", "labels": [{"id": car.id, "name": "person"}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["message"] == label_service.LABEL_NAME_DUPLICATE.format(name="person")
    project.refresh_from_db()
    assert project.name == "project"
    assert project.labels.filter(name="car").exists()


def test_delete_removes_tasks_and_their_data(
    api, user, django_capture_on_commit_callbacks, settings
):
    project = make_project(user)
    task = make_task(user, project=project, size=3)
    files = settings.DATA_DIR / "tasks" / str(task.id)
    files.mkdir(parents=True)
    (files / "x.jpg").write_bytes(b"x")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/projects/{project.id}/")

    assert response.status_code == 204
    assert not Project.objects.exists()
    assert not Task.objects.exists()
    assert not Data.objects.exists()
    assert not Label.objects.exists()
    assert not files.exists()


def test_other_users_see_nothing(api, other_api, admin_api, user):
    project = make_project(user, labels=[])
    url = f"/api/projects/{project.id}"

    assert other_api.get("/api/projects").json()["count"] == 0
    for method in ("get", "patch", "delete"):
        response = getattr(other_api, method)(url, {"name": "x"}, format="json")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert Project.objects.get().name == "project"

    assert admin_api.get("/api/projects").json()["count"] == 1
    assert admin_api.patch(url, {"name": "by admin"}, format="json").status_code == 200


def test_anonymous_is_refused(anon_api):
    assert anon_api.get("/api/projects").status_code == 401
    assert anon_api.post("/api/projects", {"name": "p"}, format="json").status_code == 401
    assert not Project.objects.exists()


def test_put_is_not_allowed(api, user):
    project = make_project(user, labels=[])
    response = api.put(f"/api/projects/{project.id}", {"name": "x"}, format="json")
    assert response.status_code == 405
