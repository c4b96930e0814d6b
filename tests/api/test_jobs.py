"""contract 5.1: /api/jobs."""

from __future__ import annotations

import pytest

from cvat_lite.engine.models import Job
from cvat_lite.engine.services.jobs import jobs_create_from_layout
from tests.engine.factories import make_project, make_task, sdk_model

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/jobs", "/api/jobs/"])
def test_list_by_task(api, user, path):
    task = make_task(user, size=10, segment_size=4)
    make_task(user, name="other", size=2)

    response = api.get(path, {"task_id": task.id, "org": "", "page": 1})

    assert response.status_code == 200
    body = response.json()
    sdk_model(body, "PaginatedJobReadList")
    assert body["count"] == 3
    assert [(j["start_frame"], j["stop_frame"], j["frame_count"]) for j in body["results"]] == [
        (0, 3, 4),
        (4, 7, 4),
        (8, 9, 2),
    ]
    job = body["results"][0]
    assert job["task_id"] == task.id and job["task_name"] == "task"
    assert (job["type"], job["stage"], job["state"], job["status"]) == (
        "annotation",
        "annotation",
        "new",
        "annotation",
    )
    assert job["data_chunk_size"] == 36 and job["data_compressed_chunk_type"] == "imageset"
    assert job["labels"] == {"url": f"http://testserver/api/labels?job_id={job['id']}"}
    assert job["issues"]["count"] == 0
    assert job["url"] == f"http://testserver/api/jobs/{job['id']}"
    assert (job["parent_job_id"], job["replicas_count"]) == (None, 0)

    assert api.get("/api/jobs", {"task_id": "x"}).status_code == 400
    assert api.get("/api/jobs").json()["count"] == 4


def test_read_with_project_and_frame_list(api, user):
    project = make_project(user)
    task = make_task(user, project=project, size=0)
    gt, _ = jobs_create_from_layout(
        task=task,
        layout=[
            {"start_frame": 0, "stop_frame": 9, "type": "ground_truth", "frames": [0, 5, 9]},
            {"start_frame": 0, "stop_frame": 9, "type": "annotation"},
        ],
    )

    for path in (f"/api/jobs/{gt.id}", f"/api/jobs/{gt.id}/"):
        body = api.get(path).json()
        sdk_model(body, "JobRead")
    assert (body["type"], body["frame_count"], body["project_id"]) == (
        "ground_truth",
        3,
        project.id,
    )
    assert body["project_name"] == "project"
    assert body["data_chunk_size"] is None
    assert (
        api.get("/api/jobs", {"project_id": project.id, "type": "annotation"}).json()["count"] == 1
    )


def test_patch_stage_and_state(api, user):
    job = make_task(user, size=2).segments.get().jobs.get()

    response = api.patch(
        f"/api/jobs/{job.id}", {"stage": "acceptance", "state": "completed"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    sdk_model(body, "JobRead")
    assert (body["stage"], body["state"], body["status"]) == (
        "acceptance",
        "completed",
        "completed",
    )
    assert api.get(f"/api/tasks/{job.segment.task_id}").json()["jobs"]["completed"] == 1


@pytest.mark.parametrize(
    "payload", [{"stage": "done"}, {"state": "finished"}, {"status": "x"}, {"assignee": 5}]
)
def test_bad_patch_changes_nothing(api, user, payload):
    job = make_task(user, size=2).segments.get().jobs.get()
    response = api.patch(f"/api/jobs/{job.id}/", {"state": "in progress", **payload}, format="json")
    assert response.status_code == 400
    job.refresh_from_db()
    assert (job.stage, job.state, job.status) == ("annotation", "new", "annotation")


def test_visibility(api, other_api, admin_api, user):
    job = make_task(user, size=2).segments.get().jobs.get()
    assert other_api.get("/api/jobs").json()["count"] == 0
    assert other_api.get(f"/api/jobs/{job.id}").status_code == 404
    assert (
        other_api.patch(f"/api/jobs/{job.id}", {"state": "completed"}, format="json").status_code
        == 404
    )
    assert Job.objects.get().state == "new"
    assert admin_api.get(f"/api/jobs/{job.id}").status_code == 200
    assert admin_api.get("/api/jobs").json()["count"] == 1
