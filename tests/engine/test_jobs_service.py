"""Segments and jobs: CVAT's splitting rules, explicit layouts, job changes."""

from __future__ import annotations

import pytest

from cvat_lite import errors
from cvat_lite.engine.models import Data, Job, JobAnnotations, Segment
from cvat_lite.engine.services import jobs as service
from cvat_lite.engine.services.tasks import task_create
from tests.engine.factories import make_task

pytestmark = pytest.mark.django_db


def _task(user, *, size=0, segment_size=0, overlap=None):
    task = task_create(
        owner=user, name="t", labels=[{"name": "car"}], segment_size=segment_size, overlap=overlap
    )
    if size:
        task.data = Data.objects.create(size=size, stop_frame=size - 1)
        task.save()
    return task


def _ranges(task):
    return [
        (s.start_frame, s.stop_frame, s.frames)
        for s in Segment.objects.filter(task=task).order_by("start_frame")
    ]


def test_segment_size_zero_makes_one_segment(user):
    task = _task(user)
    jobs = service.segments_create(task=task, frames=range(10))

    assert len(jobs) == 1
    assert _ranges(task) == [(0, 9, None)]
    task.refresh_from_db()
    assert (task.segment_size, task.overlap) == (10, 0)  # CVAT saves the effective values
    job = jobs[0]
    assert (job.type, job.stage, job.state, job.status) == (
        "annotation",
        "annotation",
        "new",
        "annotation",
    )
    annotations = JobAnnotations.objects.get(job=job)
    assert (annotations.tags, annotations.shapes, annotations.tracks) == ([], [], [])


def test_exact_multiple(user):
    task = _task(user, segment_size=5)
    service.segments_create(task=task, frames=range(10))
    assert _ranges(task) == [(0, 4, None), (5, 9, None)]


def test_remainder_goes_to_a_last_short_segment(user):
    task = _task(user, segment_size=4)
    service.segments_create(task=task, frames=10)  # an int means range(10)
    assert _ranges(task) == [(0, 3, None), (4, 7, None), (8, 9, None)]
    assert Job.objects.filter(segment__task=task).count() == 3
    assert JobAnnotations.objects.filter(job__segment__task=task).count() == 3


def test_overlap(user):
    task = _task(user, segment_size=5, overlap=2)
    service.segments_create(task=task, frames=range(10))
    assert _ranges(task) == [(0, 4, None), (3, 7, None), (6, 9, None)]


def test_overlap_is_at_most_half_a_segment(user):
    task = _task(user, segment_size=4, overlap=3)
    service.segments_create(task=task, frames=range(8))
    task.refresh_from_db()
    assert task.overlap == 2
    assert _ranges(task) == [(0, 3, None), (2, 5, None), (4, 7, None)]


def test_segment_larger_than_the_data(user):
    task = _task(user, segment_size=100)
    service.segments_create(task=task, frames=range(3))
    assert _ranges(task) == [(0, 2, None)]


def test_non_contiguous_frames_are_kept_as_a_list(user):
    task = _task(user, segment_size=2)
    service.segments_create(task=task, frames=[0, 2, 4, 5])
    assert _ranges(task) == [(0, 2, [0, 2]), (4, 5, None)]


def test_no_frames_no_jobs(user):
    task = _task(user)
    assert service.segments_create(task=task, frames=[]) == []


def test_second_call_is_refused(user):
    task = make_task(user, size=4)
    with pytest.raises(errors.Conflict) as error:
        service.segments_create(task=task, frames=range(4))
    assert error.value.message == service.TASK_HAS_JOBS
    assert Segment.objects.filter(task=task).count() == 1


def test_layout_with_ground_truth_and_replicas(user):
    task = _task(user, size=10)
    layout = [
        {"start_frame": 0, "stop_frame": 4, "status": "completed", "type": "annotation"},
        {"start_frame": 5, "stop_frame": 9, "status": "annotation", "type": "annotation"},
        {"start_frame": 0, "stop_frame": 4, "type": "consensus_replica", "status": "annotation"},
        {"start_frame": 1, "stop_frame": 7, "type": "ground_truth", "frames": [1, 3, 7]},
    ]
    jobs = service.jobs_create_from_layout(task=task, layout=layout)

    assert [job.type for job in jobs] == [
        "annotation",
        "annotation",
        "consensus_replica",
        "ground_truth",
    ]
    first, _, replica, gt = jobs
    assert (first.status, first.stage, first.state) == ("completed", "acceptance", "completed")
    assert replica.parent_job_id == first.id
    assert replica.segment_id == first.segment_id
    assert gt.segment.frames == [1, 3, 7]
    assert gt.segment.type == service.SEGMENT_SPECIFIC_FRAMES
    assert Segment.objects.filter(task=task).count() == 3
    assert JobAnnotations.objects.filter(job__segment__task=task).count() == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"start_frame": 5, "stop_frame": 2},
        {"start_frame": 0, "stop_frame": 10},  # the task has 10 frames
        {"start_frame": -1, "stop_frame": 2},
        {"start_frame": 0, "stop_frame": 2, "type": "review"},
        {"start_frame": 0, "stop_frame": 4, "frames": [3, 1]},
        {"start_frame": 0, "stop_frame": 4, "frames": [5]},
        "job",
    ],
)
def test_bad_layout_creates_nothing(user, bad):
    task = _task(user, size=10)
    layout = [{"start_frame": 0, "stop_frame": 4}, bad]
    with pytest.raises(errors.BadRequest) as error:
        service.jobs_create_from_layout(task=task, layout=layout)
    assert error.value.message.startswith("jobs[1]: ")
    assert not Segment.objects.filter(task=task).exists()
    assert not Job.objects.filter(segment__task=task).exists()


def test_job_update_moves_status_with_stage(user):
    job = make_task(user, size=2).segments.get().jobs.get()

    service.job_update(job=job, stage="acceptance", state="completed")
    job.refresh_from_db()
    assert (job.stage, job.state, job.status) == ("acceptance", "completed", "completed")

    service.job_update(job=job, status="validation")
    job.refresh_from_db()
    assert job.status == "validation"

    with pytest.raises(errors.BadRequest):
        service.job_update(job=job, state="done")
    job.refresh_from_db()
    assert job.state == "completed"


@pytest.mark.parametrize(("segment_size", "overlap", "frames"), [(1, 0, 5), (4, 2, 12)])
def test_more_jobs_than_a_restore_accepts_are_refused(
    user, settings, segment_size, overlap, frames
):
    """Every task's backup can be restored: segments_create refuses the jobs a restore would
    refuse (``BACKUP_MAX_JOBS``) and creates nothing."""
    settings.BACKUP_MAX_JOBS = 4
    task = _task(user, segment_size=segment_size, overlap=overlap)
    with pytest.raises(errors.BadRequest) as caught:
        service.segments_create(task=task, frames=range(frames))
    error = caught.value
    assert (error.status, error.code) == (400, "too_many_jobs")
    assert error.message == (
        "The task would have 5 jobs; the limit is 4. Choose a larger segment_size."
    )
    assert not Segment.objects.filter(task=task).exists()
    assert not Job.objects.filter(segment__task=task).exists()


def test_as_many_jobs_as_a_restore_accepts(user, settings):
    settings.BACKUP_MAX_JOBS = 5
    task = _task(user, segment_size=1)
    assert len(service.segments_create(task=task, frames=range(5))) == 5
