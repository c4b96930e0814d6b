"""contract 5.1: /api/tasks."""

from __future__ import annotations

import pytest

from cvat_lite.api import tasks as api_tasks
from cvat_lite.engine.models import Data, Image, Job, Label, Segment, Task
from cvat_lite.engine.services import projects as project_service
from cvat_lite.engine.services import tasks as service
from cvat_lite.engine.services.jobs import segments_create
from tests.engine.factories import (
    LABELS,
    make_cloud_storage,
    make_project,
    make_task,
    sdk_model,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/tasks", "/api/tasks/"])
def test_create_without_data(api, user, path):
    response = api.post(
        path,
        {"name": "cars", "labels": LABELS, "segment_size": 5, "subset": "train"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    task = sdk_model(body, "TaskRead")
    assert task.name == "cars"
    assert body["url"] == f"http://testserver/api/tasks/{body['id']}"
    assert body["owner"]["username"] == user.username
    assert body["jobs"] == {
        "count": 0,
        "completed": 0,
        "validation": 0,
        "url": f"http://testserver/api/jobs?task_id={body['id']}",
    }
    assert body["labels"] == {"url": f"http://testserver/api/labels?task_id={body['id']}"}
    assert (body["size"], body["image_quality"], body["data"]) == (0, 0, None)
    assert body["data_chunk_size"] is None and body["data_compressed_chunk_type"] is None
    assert (body["segment_size"], body["overlap"], body["subset"]) == (5, None, "train")
    assert (body["mode"], body["dimension"], body["status"]) == ("annotation", "2d", "annotation")
    assert body["organization"] is None and body["assignee"] is None
    assert body["project_id"] is None and body["project_name"] is None
    assert body["target_storage"] is None and body["source_storage"] is None
    assert Label.objects.filter(task_id=body["id"], parent__isnull=True).count() == 3


def test_read_a_task_with_data_and_jobs(api, user):
    task = make_task(user, size=10, segment_size=4)
    Job.objects.filter(segment__task=task, segment__start_frame=0).update(state="completed")
    Job.objects.filter(segment__task=task, segment__start_frame=4).update(stage="validation")

    for path in (f"/api/tasks/{task.id}", f"/api/tasks/{task.id}/"):
        response = api.get(path)
        assert response.status_code == 200
    body = response.json()
    sdk_model(body, "TaskRead")
    assert body["jobs"]["count"] == 3
    assert (body["jobs"]["completed"], body["jobs"]["validation"]) == (1, 1)
    assert (body["size"], body["image_quality"], body["data"]) == (10, 70, task.data_id)
    assert body["data_chunk_size"] == 36
    assert body["data_compressed_chunk_type"] == body["data_original_chunk_type"] == "imageset"
    assert (body["segment_size"], body["overlap"]) == (4, 0)
    assert body["data_cloud_storage_id"] is None
    assert body["validation_mode"] is None


def test_list_filters(api, user):
    project = make_project(user, labels=[{"name": "car"}])
    make_task(user, name="first", size=0)
    in_project = make_task(user, name="second", size=0, project=project)

    body = api.get("/api/tasks?org=&page=1").json()
    sdk_model(body, "PaginatedTaskReadList")
    assert [t["name"] for t in body["results"]] == ["second", "first"]
    assert [t["id"] for t in api.get(f"/api/tasks?project_id={project.id}").json()["results"]] == [
        in_project.id
    ]
    assert [t["name"] for t in api.get("/api/tasks?name=first").json()["results"]] == ["first"]
    assert api.get("/api/tasks?project_id=x").status_code == 400
    assert api.get(f"/api/tasks/{in_project.id}").json()["project_name"] == "project"


def test_create_in_a_project(api, user):
    project = make_project(user)
    response = api.post("/api/tasks", {"name": "t", "project_id": project.id}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["project_id"] == project.id
    assert not Label.objects.filter(task_id=body["id"]).exists()
    labels = api.get(f"/api/labels?task_id={body['id']}").json()["results"]
    assert {label["name"] for label in labels} == {"car", "person", "body"}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": "t"}, api_tasks.LABELS_OR_PROJECT_REQUIRED),
        ({"name": "", "labels": [{"name": "a"}]}, None),
        ({"name": "t", "labels": [{"name": "a"}], "segment_size": -1}, None),
        ({"name": "t", "labels": [{"name": "a"}], "overlap": "x"}, None),
        ({"name": "t", "labels": [{"name": "a"}], "subset": "s" * 65}, None),
        ({"name": "t", "labels": [{"name": "a"}, {"name": "a"}]}, None),
        ({"name": "t", "project_id": 12345}, service.PROJECT_NOT_FOUND.format(id=12345)),
        (
            {"name": "t", "labels": [{"name": "a"}], "target_storage": {"cloud_storage_id": 7}},
            project_service.STORAGE_NOT_FOUND.format(field="target_storage", id=7),
        ),
    ],
)
def test_bad_input_creates_nothing(api, payload, message):
    response = api.post("/api/tasks", payload, format="json")

    assert response.status_code == 400, response.json()
    if message:
        assert response.json()["message"] == message
    assert not Task.objects.exists()
    assert not Label.objects.exists()


def test_a_task_in_a_project_refuses_its_own_labels(api, user):
    project = make_project(user)
    response = api.post(
        "/api/tasks", {"name": "t", "project_id": project.id, "labels": LABELS}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["message"] == service.TASK_LABELS_IN_PROJECT
    assert not Task.objects.exists()

    task = make_task(user, project=project, size=0)
    response = api.patch(f"/api/tasks/{task.id}", {"labels": [{"name": "x"}]}, format="json")
    assert response.status_code == 400
    assert not Label.objects.filter(name="x").exists()


def test_another_users_project_is_not_found(api, other_user):
    project = make_project(other_user)
    response = api.post("/api/tasks", {"name": "t", "project_id": project.id}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == service.PROJECT_NOT_FOUND.format(id=project.id)
    assert not Task.objects.exists()


def test_storages(api, user, other_user):
    mine, theirs = make_cloud_storage(user), make_cloud_storage(other_user)
    payload = {
        "name": "t",
        "labels": [{"name": "a"}],
        "source_storage": {"location": "cloud_storage", "cloud_storage_id": mine.id},
        "target_storage": None,
    }
    response = api.post("/api/tasks", payload, format="json")
    assert response.status_code == 201
    body = response.json()
    sdk_model(body, "TaskRead")
    assert body["source_storage"] == {"location": "cloud_storage", "cloud_storage_id": mine.id}

    response = api.patch(
        f"/api/tasks/{body['id']}",
        {"target_storage": {"location": "cloud_storage", "cloud_storage_id": theirs.id}},
        format="json",
    )
    assert response.status_code == 400
    assert Task.objects.get().target_storage is None


def test_patch(api, user):
    task = make_task(user, size=4)
    car = task.labels.get(name="car")

    response = api.patch(
        f"/api/tasks/{task.id}/",
        {
            "name": "renamed",
            "subset": "val",
            "bug_tracker": "https://bugs/1",
            "labels": [{"id": car.id, "color": "#00ff00"}, {"name": "bike"}],
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    sdk_model(body, "TaskRead")
    assert (body["name"], body["subset"], body["bug_tracker"]) == (
        "renamed",
        "val",
        "https://bugs/1",
    )
    car.refresh_from_db()
    assert car.color == "#00ff00"
    assert task.labels.filter(name="bike").exists()


def test_segment_size_is_fixed_once_there_are_jobs(api, user):
    task = make_task(user, size=4)
    response = api.patch(f"/api/tasks/{task.id}", {"segment_size": 2, "name": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == service.SEGMENTS_FIXED.format(field="segment_size")
    task.refresh_from_db()
    assert (task.segment_size, task.name) == (4, "task")

    empty = make_task(user, size=0)
    assert (
        api.patch(f"/api/tasks/{empty.id}", {"segment_size": 2}, format="json").status_code == 200
    )


def test_move_into_a_project(api, user):
    task = make_task(user, size=2)
    project = make_project(user)

    response = api.patch(f"/api/tasks/{task.id}", {"project_id": project.id}, format="json")

    assert response.status_code == 200
    assert response.json()["project_id"] == project.id
    assert not Label.objects.filter(task=task).exists()

    response = api.patch(f"/api/tasks/{task.id}", {"project_id": None}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == service.TASK_LEAVE_PROJECT


def test_delete_removes_data_images_jobs_and_files(
    api, user, settings, django_capture_on_commit_callbacks
):
    task = make_task(user, size=3, segment_size=1)
    other = make_task(user, name="kept", size=2)
    files = settings.DATA_DIR / "tasks" / str(task.id)
    (files / "raw").mkdir(parents=True)
    (files / "raw" / "a.jpg").write_bytes(b"jpeg")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/tasks/{task.id}")

    assert response.status_code == 204
    assert list(Task.objects.all()) == [other]
    assert list(Data.objects.all()) == [other.data]
    assert Image.objects.count() == 2
    assert Segment.objects.count() == 1
    assert not Label.objects.filter(task_id=task.id).exists()
    assert not files.exists()
    assert api.get(f"/api/tasks/{task.id}").status_code == 404


def test_visibility(api, other_api, admin_api, user):
    task = make_task(user, size=1)
    url = f"/api/tasks/{task.id}"

    assert other_api.get("/api/tasks").json()["count"] == 0
    for method in ("get", "patch", "delete"):
        assert getattr(other_api, method)(url, {"name": "x"}, format="json").status_code == 404
    assert Task.objects.get().name == "task"

    assert admin_api.get("/api/tasks").json()["count"] == 1
    assert admin_api.get(url).status_code == 200
    assert api.get("/api/tasks/abc").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_sdk_drives_projects_tasks_jobs_labels_and_annotations(live_server, user):
    """The unmodified cvat-sdk 2.80 against a live server (responses are type-checked)."""
    from cvat_sdk import make_client, models
    from cvat_sdk.core.proxies.annotations import AnnotationUpdateAction

    from tests.conftest import PASSWORD

    with make_client(live_server.url, credentials=(user.username, PASSWORD)) as client:
        project = client.projects.create(
            models.ProjectWriteRequest(name="p", labels=[{"name": "car"}])
        )
        in_project = client.tasks.create(models.TaskWriteRequest(name="a", project_id=project.id))
        assert [label.name for label in in_project.get_labels()] == ["car"]
        assert [t.id for t in project.get_tasks()] == [in_project.id]

        task = client.tasks.create(
            models.TaskWriteRequest(name="b", labels=[{"name": "dog"}], segment_size=2)
        )
        db_task = Task.objects.get(pk=task.id)
        db_task.data = Data.objects.create(size=5, stop_frame=4)
        db_task.save()
        segments_create(task=db_task, frames=5)
        task.fetch()
        assert task.size == 5 and task.jobs.count == 3
        jobs = task.get_jobs()
        assert [(j.start_frame, j.stop_frame) for j in jobs] == [(0, 1), (2, 3), (4, 4)]

        dog = task.get_labels()[0].id
        task.set_annotations(
            models.LabeledDataRequest(
                shapes=[
                    models.LabeledShapeRequest(
                        type="rectangle", frame=3, label_id=dog, points=[1, 2, 3, 4]
                    )
                ]
            )
        )
        (shape,) = task.get_annotations().shapes
        jobs[1].update_annotations(
            models.PatchedLabeledDataRequest(
                tags=[models.LabeledImageRequest(frame=2, label_id=dog)]
            ),
            action=AnnotationUpdateAction.CREATE,
        )
        task.remove_annotations(ids=[shape.id])
        annotations = task.get_annotations()
        assert annotations.shapes == [] and [t.frame for t in annotations.tags] == [2]

        jobs[0].update({"stage": "validation"})
        assert (jobs[0].stage, jobs[0].status) == ("validation", "validation")
        task.remove()
        project.remove()
    assert not Task.objects.exists()
