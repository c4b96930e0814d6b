"""Annotation storage across jobs, and what label changes do to stored annotations."""

from __future__ import annotations

import pytest

from cvat_lite import errors
from cvat_lite.engine.models import JobAnnotations
from cvat_lite.engine.services import annotations as service
from cvat_lite.engine.services.labels import label_delete, labels_patch
from cvat_lite.engine.services.tasks import task_update
from tests.engine.factories import label_ids, make_project, make_task, spec_ids

pytestmark = pytest.mark.django_db


def _jobs(task):
    return [job for segment in task.segments.order_by("start_frame") for job in segment.jobs.all()]


def test_ids_are_unique_across_the_jobs_of_a_task(user):
    task = make_task(user, size=4, segment_size=2)
    car = label_ids(task)["car"]
    first, second = _jobs(task)

    a = service.annotations_put(job=first, data={"tags": [{"frame": 0, "label_id": car}] * 2})
    b = service.annotations_put(job=second, data={"tags": [{"frame": 3, "label_id": car}]})

    ids = [tag["id"] for tag in a["tags"] + b["tags"]]
    assert len(set(ids)) == 3
    assert service.task_annotations_get(task=task)["tags"] == a["tags"] + b["tags"]


def test_job_annotations_of_a_job_with_a_frame_list(user):
    task = make_task(user, size=0)
    from cvat_lite.engine.services.jobs import jobs_create_from_layout

    (gt,) = jobs_create_from_layout(
        task=task, layout=[{"start_frame": 0, "stop_frame": 8, "frames": [0, 4, 8]}]
    )
    car = label_ids(task)["car"]
    service.annotations_put(job=gt, data={"tags": [{"frame": 4, "label_id": car}]})
    with pytest.raises(errors.BadRequest) as error:
        service.annotations_put(job=gt, data={"tags": [{"frame": 3, "label_id": car}]})
    assert error.value.message == "tags[0].frame: frame 3 is outside the job's frames (0, 4, 8)."
    assert len(service.annotations_get(job=gt)["tags"]) == 1


def test_deleting_a_label_or_attribute_removes_what_uses_it(user):
    task = make_task(user, size=2)
    ids, specs = label_ids(task), spec_ids(task)
    (job,) = _jobs(task)
    service.annotations_put(
        job=job,
        data={
            "tags": [
                {
                    "frame": 0,
                    "label_id": ids["car"],
                    "attributes": [
                        {"spec_id": specs["car.color"], "value": "red"},
                        {"spec_id": specs["car.speed"], "value": "5"},
                    ],
                },
                {"frame": 1, "label_id": ids["person"]},
            ],
            "shapes": [
                {
                    "type": "skeleton",
                    "frame": 0,
                    "label_id": ids["body"],
                    "elements": [
                        {"type": "points", "frame": 0, "label_id": ids["body/head"]},
                        {"type": "points", "frame": 0, "label_id": ids["body/tail"]},
                    ],
                }
            ],
        },
    )
    version = service.annotations_get(job=job)["version"]

    labels_patch(
        task=task,
        labels=[{"id": ids["car"], "attributes": [{"id": specs["car.speed"], "deleted": True}]}],
    )
    label_delete(label=task.labels.get(name="person"))
    labels_patch(
        task=task,
        labels=[{"id": ids["body"], "sublabels": [{"id": ids["body/tail"], "deleted": True}]}],
    )

    data = service.annotations_get(job=job)
    assert [tag["label_id"] for tag in data["tags"]] == [ids["car"]]
    assert data["tags"][0]["attributes"] == [{"spec_id": specs["car.color"], "value": "red"}]
    assert [e["label_id"] for e in data["shapes"][0]["elements"]] == [ids["body/head"]]
    assert data["version"] > version


def test_moving_a_task_into_a_project_maps_labels_by_name(user):
    task = make_task(user, size=2)
    ids, specs = label_ids(task), spec_ids(task)
    (job,) = _jobs(task)
    service.annotations_put(
        job=job,
        data={
            "tags": [
                {
                    "frame": 0,
                    "label_id": ids["car"],
                    "attributes": [{"spec_id": specs["car.color"], "value": "blue"}],
                }
            ]
        },
    )
    project = make_project(user)

    task_update(task=task, user=user, changes={"project_id": project.id})

    project_ids, project_specs = label_ids(project), spec_ids(project)
    tag = service.annotations_get(job=job)["tags"][0]
    assert tag["label_id"] == project_ids["car"]
    assert tag["attributes"] == [{"spec_id": project_specs["car.color"], "value": "blue"}]
    assert not task.labels.exists()


def test_moving_into_a_project_without_the_labels_is_refused(user):
    task = make_task(user, size=2)
    project = make_project(user, labels=[{"name": "car"}])
    with pytest.raises(errors.BadRequest):
        task_update(task=task, user=user, changes={"project_id": project.id})
    task.refresh_from_db()
    assert task.project_id is None
    assert task.labels.count() == 5  # three labels, two skeleton elements


def test_rows_are_created_for_jobs_that_lack_them(user):
    task = make_task(user, size=2)
    (job,) = _jobs(task)
    JobAnnotations.objects.filter(job=job).delete()
    assert service.annotations_get(job=job) == {
        "version": 0,
        "tags": [],
        "shapes": [],
        "tracks": [],
    }
    result = service.annotations_put(
        job=job, data={"tags": [{"frame": 0, "label_id": label_ids(task)["car"]}]}
    )
    assert result["version"] == 1
