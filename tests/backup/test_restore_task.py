"""Restoring task backups (contract 7.4) at the service level: what a restore creates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from cvat_lite.backup.archive import ArchiveReader
from cvat_lite.backup.format import (
    DataSpec,
    JobSpec,
    OriginSpec,
    TaskSpec,
    build_annotations_json,
    read_annotations_json,
)
from cvat_lite.backup.restore import TASK_RESTORED, TASK_UNLINKED, backup_restore_task
from cvat_lite.engine.frames import local_media_root
from cvat_lite.engine.models import Job, JobAnnotations, Label
from cvat_lite.engine.services.annotations import annotations_get

from .archives import LABELS, job_annotations, task_backup, task_spec
from .restore_helpers import snapshot

pytestmark = pytest.mark.django_db


def _restore(backup, tmp_path: Path, owner, **kwargs):
    return backup_restore_task(owner=owner, archive_path=backup.write(tmp_path / "b.zip"), **kwargs)


def _names_document(job: Job) -> dict[str, Any]:
    """A job's stored annotations in the backup's shape (labels and attributes by name)."""
    labels = {label.id: label for label in Label.objects.prefetch_related("attributes")}
    specs = {a.id: a.name for label in labels.values() for a in label.attributes.all()}

    def convert(obj: dict[str, Any]) -> dict[str, Any]:
        result = {k: v for k, v in obj.items() if k not in ("id", "label_id")}
        if "label_id" in obj:
            result["label"] = labels[obj["label_id"]].name
        result["attributes"] = [
            {"value": a["value"], "name": specs[a["spec_id"]]} for a in obj["attributes"]
        ]
        for nested in ("shapes", "elements"):
            if nested in obj:
                result[nested] = [convert(item) for item in obj[nested]]
        return result

    document = annotations_get(job=job)
    return {
        "version": document["version"],
        **{kind: [convert(obj) for obj in document[kind]] for kind in ("tags", "shapes", "tracks")},
    }


def _archive_annotations(path: Path) -> list[dict[str, Any]]:
    with ArchiveReader(path) as reader:
        from cvat_lite.backup.format import read_task_json

        return build_annotations_json(read_annotations_json(reader, spec=read_task_json(reader)))


def _jobs(task) -> list[Job]:
    return list(Job.objects.filter(segment__task=task).select_related("segment").order_by("id"))


def test_a_full_backup_restores_a_local_task_with_its_media(tmp_path, user):
    backup = task_backup(3)
    path = backup.write(tmp_path / "b.zip")
    outcome = backup_restore_task(owner=user, archive_path=path)

    task = outcome.obj
    assert (outcome.message, outcome.linked, outcome.id) == (TASK_RESTORED, True, task.id)
    assert (task.owner, task.name, task.status, task.subset, task.bug_tracker) == (
        user, "cats and dogs", "annotation", "", ""
    )  # fmt: skip
    assert (task.segment_size, task.overlap, task.project) == (1, 0, None)
    data = task.data
    assert (data.storage, data.cloud_storage_id, data.size, data.chunk_size) == (
        "local",
        None,
        3,
        36,
    )
    assert (data.image_quality, data.start_frame, data.stop_frame, data.frame_filter) == (
        70, 0, 2, ""
    )  # fmt: skip
    assert (data.sorting_method, data.deleted_frames, data.cloud_origin) == (
        "lexicographical", [], None
    )  # fmt: skip
    assert list(data.images.values_list("path", "frame", "width", "height")) == [
        (f"img{i}.png", i, 4, 3) for i in range(3)
    ]
    for i in range(3):
        stored = (local_media_root(task.id) / f"img{i}.png").read_bytes()
        assert stored == backup.members[f"data/img{i}.png"]
    assert list((Path(settings.DATA_DIR) / "restore").iterdir()) == []  # no staging left

    labels = {label.name: label for label in Label.objects.filter(task=task)}
    assert sorted(labels) == ["cat", "dog", "eye", "nose", "person"]
    cat, person = labels["cat"], labels["person"]
    assert (cat.color, cat.type, cat.parent) == ("#ff0000", "any", None)
    assert list(cat.attributes.values_list("name", "input_type", "default_value", "values")) == [
        ("fluffy", "checkbox", "false", ["false"])
    ]
    assert (person.type, person.svg) == ("skeleton", LABELS[2].svg)
    assert sorted(person.sublabels.values_list("name", "type")) == [
        ("eye", "points"), ("nose", "points")
    ]  # fmt: skip

    jobs = _jobs(task)
    assert [(j.type, j.status, j.segment.start_frame, j.segment.stop_frame) for j in jobs] == [
        ("annotation", "annotation", 0, 0),
        ("annotation", "validation", 1, 2),
    ]
    assert [_names_document(job) for job in jobs] == _archive_annotations(path)


def test_object_ids_are_unique_in_the_task_and_the_counter_follows(tmp_path, user):
    task = _restore(task_backup(4), tmp_path, user).obj
    rows = JobAnnotations.objects.filter(job__segment__task=task)
    ids = []
    for row in rows:
        for kind in ("tags", "shapes", "tracks"):
            for obj in getattr(row, kind):
                ids.append(obj["id"])
                ids += [
                    nested["id"] for key in ("shapes", "elements") for nested in obj.get(key, [])
                ]
    assert sorted(ids) == list(range(1, len(ids) + 1))
    assert {row.next_id for row in rows} == {len(ids) + 1}


def test_annotation_rows_are_checked_json_again_after_a_restore(tmp_path, user):
    """A restore writes the rows' JSON text as it made it (on SQLite without the JSON_VALID
    check, which would parse it into several times its size); the database checks every later
    write again."""
    task = _restore(task_backup(3), tmp_path, user).obj
    row = JobAnnotations.objects.filter(job__segment__task=task).exclude(tags=[]).first()
    restored = row.tags
    table = connection.ops.quote_name(JobAnnotations._meta.db_table)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET tags = %s WHERE id = %s", ["[not json", row.id])
    row.refresh_from_db()
    assert row.tags == restored


def test_a_lightweight_backup_restores_an_unlinked_cloud_task(tmp_path, user):
    before = snapshot()
    outcome = _restore(task_backup(3, lightweight=True), tmp_path, user)

    task = outcome.obj
    assert outcome.message == TASK_UNLINKED.format(id=task.id)
    assert outcome.message == (
        "Restored, but not connected to a cloud storage yet: connect it to the storage that "
        "holds its images."
    )
    assert not outcome.linked
    data = task.data
    assert (data.storage, data.cloud_storage_id, data.cloud_prefix) == (
        "cloud_storage",
        None,
        "set1",
    )
    assert data.cloud_origin == {"provider_type": "AWS_S3_BUCKET", "resource": "bucket"}
    # The media names of the backup are relative to the origin's prefix: the keys are whole.
    assert list(data.images.values_list("path", flat=True)) == [
        f"set1/img{i}.png" for i in range(3)
    ]
    assert snapshot().files == before.files  # no media, no staging
    assert len(_jobs(task)) == 2


def test_a_lightweight_backup_without_an_origin_keeps_the_names_as_keys(tmp_path, user):
    spec = task_spec(2, lightweight=True)
    spec.origin = None
    task = _restore(task_backup(2, lightweight=True, spec=spec), tmp_path, user).obj
    assert (task.data.cloud_prefix, task.data.cloud_origin) == ("", None)
    assert list(task.data.images.values_list("path", flat=True)) == ["img0.png", "img1.png"]


def test_frame_selection_deleted_frames_and_special_jobs(tmp_path, user):
    spec = TaskSpec(
        name="selected",
        labels=LABELS,
        bug_tracker="https://bugs.example.com/1",
        status="validation",
        subset="train",
        consensus_replicas=1,
        data=DataSpec(
            chunk_size=2,
            image_quality=55,
            start_frame=1,
            stop_frame=11,
            frame_filter="step=2",  # manifest images 1, 3, 5, 7, 9, 11: six task frames
            sorting_method="natural",
            deleted_frames=[4, 1],
            validation_layout={"mode": "gt", "frames": [1, 4]},
        ),
        jobs=[
            JobSpec(start_frame=0, stop_frame=2, stage="validation", state="in progress"),
            JobSpec(start_frame=0, stop_frame=2, type="consensus_replica"),
            JobSpec(start_frame=3, stop_frame=5, status="completed"),
            JobSpec(start_frame=1, stop_frame=4, type="ground_truth", frames=[4, 1]),
        ],
    )
    backup = task_backup(12, spec=spec)
    backup.set_json(
        "annotations.json",
        build_annotations_json([job_annotations(f) for f in (0, 1, 3, 4)]),
    )
    task = _restore(backup, tmp_path, user).obj

    assert (task.status, task.subset, task.bug_tracker) == (
        "validation", "train", "https://bugs.example.com/1"
    )  # fmt: skip
    assert (task.consensus_replicas, task.validation_layout) == (
        1,
        {"mode": "gt", "frames": [1, 4]},
    )
    data = task.data
    assert (data.size, data.chunk_size, data.image_quality, data.sorting_method) == (
        6, 2, 55, "natural"
    )  # fmt: skip
    assert (data.start_frame, data.stop_frame, data.frame_filter) == (1, 11, "step=2")
    assert data.deleted_frames == [1, 4]
    assert data.images.count() == 12

    jobs = _jobs(task)
    summary = [
        (j.type, j.status, j.stage, j.state, j.segment.start_frame, j.segment.stop_frame)
        for j in jobs
    ]
    assert summary == [
        ("annotation", "annotation", "validation", "in progress", 0, 2),
        ("consensus_replica", "annotation", "annotation", "new", 0, 2),
        ("annotation", "completed", "acceptance", "completed", 3, 5),
        ("ground_truth", "annotation", "annotation", "new", 1, 4),
    ]
    annotation, replica, _, ground_truth = jobs
    assert (replica.parent_job, replica.segment) == (annotation, annotation.segment)
    assert ground_truth.segment.frames == [1, 4]
    assert (task.segment_size, task.overlap) == (3, 0)


def test_custom_segments_have_no_segment_size(tmp_path, user):
    spec = task_spec(3)
    spec.data.custom_segments = True
    spec.jobs[1].files = ["img1.png", "img2.png"]
    task = _restore(task_backup(3, spec=spec), tmp_path, user).obj
    assert (task.segment_size, task.overlap) == (0, None)


def test_each_restore_is_a_new_task(tmp_path, user, other_user):
    path = task_backup(2).write(tmp_path / "b.zip")
    first = backup_restore_task(owner=user, archive_path=path).obj
    second = backup_restore_task(owner=other_user, archive_path=path).obj
    assert first.id != second.id
    assert (first.owner, second.owner) == (user, other_user)
    assert first.data_id != second.data_id
    for task in (first, second):
        assert sorted(p.name for p in local_media_root(task.id).iterdir()) == [
            "img0.png", "img1.png"
        ]  # fmt: skip


def test_progress_is_reported_from_zero_to_one(tmp_path, user):
    seen: list[float] = []
    _restore(task_backup(3), tmp_path, user, progress=lambda f, force=False: seen.append(f))
    assert seen == sorted(seen)
    assert seen[0] > 0 and seen[-1] <= 1.0
    assert all(0 <= value <= 1 for value in seen)


def test_related_images_of_a_full_backup_are_restored_when_present(tmp_path, user):
    from cvat_lite.media.manifest import ManifestEntry

    from .archives import manifest, png

    backup = task_backup(2)
    entries = [
        ManifestEntry("img0", ".png", 4, 3, related_images=("related/img0_ctx.png",)),
        ManifestEntry("img1", ".png", 4, 3),
    ]
    backup.members["data/manifest.jsonl"] = manifest(entries)
    backup.members["data/related/img0_ctx.png"] = png(color=(1, 2, 3))
    task = _restore(backup, tmp_path, user).obj
    assert task.data.images.get(frame=0).related_files == ["related/img0_ctx.png"]
    restored = local_media_root(task.id) / "related" / "img0_ctx.png"
    assert restored.read_bytes() == backup.members["data/related/img0_ctx.png"]


def test_the_archive_limits_come_from_the_settings(tmp_path, user, settings):
    settings.BACKUP_MAX_MEMBER_SIZE = 50
    from cvat_lite.backup.restore import restore_limits

    assert restore_limits().max_member_size == 50


def test_the_default_limit_settings_are_the_documented_defaults(settings):
    from cvat_lite.backup.limits import Limits
    from cvat_lite.backup.restore import restore_limits

    defaults = Limits()
    limits = restore_limits()
    for name in (
        "max_members",
        "max_member_size",
        "max_total_size",
        "max_ratio",
        "max_annotations_size",
        "max_task_json_size",
        "max_jobs",
        "max_labels",
        "max_attributes",
        "max_attribute_values",
        "max_objects",
        "max_points",
        "max_track_shapes",
    ):
        assert getattr(limits, name) == getattr(defaults, name), name


def test_restored_archive_origin_prefix_with_slashes_is_normalised(tmp_path, user):
    spec = task_spec(1, lightweight=True)
    spec.origin = OriginSpec("GOOGLE_CLOUD_STORAGE", "b", "/deep/set/")
    task = _restore(task_backup(1, lightweight=True, spec=spec), tmp_path, user).obj
    assert task.data.cloud_prefix == "deep/set"
    assert task.data.images.get().path == "deep/set/img0.png"
