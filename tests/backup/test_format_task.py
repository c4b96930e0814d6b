import copy
import dataclasses

import pytest

from cvat_lite.backup.format import (
    LIGHTWEIGHT_STORAGE,
    DataSpec,
    JobSpec,
    OriginSpec,
    ProjectSpec,
    build_project_json,
    build_task_json,
    parse_project_json,
    parse_task_json,
)
from cvat_lite.errors import ArchiveError

from .archives import LABELS, task_spec


def _doc(**changes):
    doc = build_task_json(task_spec(6))
    for path, value in changes.items():
        *parents, key = path.split("__")
        target = doc
        for parent in parents:
            target = target[int(parent)] if parent.isdigit() else target[parent]
        if value is ...:
            del target[key]
        elif isinstance(target, list):
            target[int(key)] = value
        else:
            target[key] = value
    return doc


def _refused(doc, what="task.json") -> str:
    with pytest.raises(ArchiveError) as caught:
        parse_task_json(doc, what=what)
    assert caught.value.code == "invalid_backup"
    return caught.value.message


@pytest.mark.parametrize("lightweight", [False, True])
def test_round_trip(lightweight):
    spec = task_spec(6, lightweight=lightweight)
    assert parse_task_json(build_task_json(spec)) == spec


def test_cvat_key_order():
    doc = build_task_json(dataclasses.replace(task_spec(6), consensus_replicas=2))
    assert list(doc) == [
        "name", "bug_tracker", "status", "subset", "labels", "consensus_replicas", "version",
        "data", "jobs",
    ]  # fmt: skip
    assert list(doc["data"]) == [
        "chunk_size", "image_quality", "start_frame", "stop_frame", "storage_method",
        "sorting_method", "chunk_type", "deleted_frames", "storage",
    ]  # fmt: skip
    assert list(doc["labels"][0]) == ["name", "color", "attributes", "type", "sublabels"]
    assert list(doc["labels"][2]) == ["name", "color", "attributes", "type", "svg", "sublabels"]
    assert list(doc["labels"][0]["attributes"][0]) == [
        "name", "mutable", "input_type", "default_value", "values",
    ]  # fmt: skip
    assert list(doc["jobs"][0]) == ["status", "type", "start_frame", "stop_frame"]


def test_optional_data_keys_are_written_only_when_set():
    spec = task_spec(6)
    spec.data = dataclasses.replace(
        spec.data,
        frame_filter="step=2",
        custom_segments=True,
        validation_layout={"mode": "gt_pool", "frames": ["img0.png"]},
    )
    spec.jobs = [dataclasses.replace(spec.jobs[0], files=["img0.png"], stage="acceptance")]
    doc = build_task_json(spec)
    assert doc["data"]["frame_filter"] == "step=2"
    assert doc["data"]["custom_segments"] is True
    assert doc["data"]["validation_layout"] == {"mode": "gt_pool", "frames": ["img0.png"]}
    assert doc["jobs"] == [
        {
            "status": "annotation",
            "type": "annotation",
            "start_frame": 0,
            "stop_frame": 2,
            "files": ["img0.png"],
            "stage": "acceptance",
        }
    ]
    assert parse_task_json(doc) == spec


def test_lightweight_origin_block():
    spec = task_spec(6, lightweight=True)
    doc = build_task_json(spec)
    assert doc["data"]["storage"] == LIGHTWEIGHT_STORAGE
    assert doc["cloud_storage"] == {
        "provider_type": "AWS_S3_BUCKET",
        "resource": "bucket",
        "prefix": "set1/",
    }
    # The origin block only ever goes into a lightweight backup.
    full = dataclasses.replace(task_spec(6), origin=OriginSpec("AWS_S3_BUCKET", "bucket"))
    assert "cloud_storage" not in build_task_json(full)
    assert parse_task_json({**build_task_json(full), **{"cloud_storage": doc["cloud_storage"]}})
    assert parse_task_json(_doc(cloud_storage=doc["cloud_storage"])).origin is None
    # Ids, credentials and other keys of the block are never read.
    doc["cloud_storage"] |= {"id": 3, "credentials": "key secret"}
    assert parse_task_json(doc).origin == OriginSpec("AWS_S3_BUCKET", "bucket", "set1/")
    assert "id" not in build_task_json(parse_task_json(doc))["cloud_storage"]


def test_defaults_for_keys_cvat_did_not_always_write():
    doc = _doc(
        bug_tracker=...,
        status=...,
        subset=...,
        data__sorting_method=...,
        data__deleted_frames=...,
        data__storage_method=...,
        data__chunk_type=...,
        data__chunk_size=None,
        jobs__0__type=...,
    )
    spec = parse_task_json(doc)
    assert (spec.bug_tracker, spec.status, spec.subset) == ("", "annotation", "")
    assert spec.data == DataSpec(
        chunk_size=None, image_quality=70, start_frame=0, stop_frame=5, storage="local"
    )
    assert spec.jobs[0].type == "annotation"


def test_unknown_keys_are_kept_at_the_top_and_ignored_below():
    doc = _doc(owner={"id": 1}, segment_size=3, data__size=6, jobs__0__id=4)
    spec = parse_task_json(doc)
    assert spec.extra == {"owner": {"id": 1}, "segment_size": 3}
    assert spec == dataclasses.replace(task_spec(6), extra=spec.extra)
    rebuilt = build_task_json(spec)
    assert rebuilt["owner"] == {"id": 1}
    assert "size" not in rebuilt["data"]


def test_frames_with_a_step():
    doc = _doc(data__start_frame=1, data__stop_frame=10, data__frame_filter="step=3")
    doc["jobs"][1]["stop_frame"] = 3
    spec = parse_task_json(doc)
    assert spec.data.step == 3
    assert spec.data.frame_count == 4  # 1, 4, 7, 10


def test_jobs_cvat_writes_are_accepted():
    # Consensus replicas repeat their parent's range; a ground-truth job picks frames anywhere.
    doc = _doc()
    doc["jobs"] = [
        {"status": "annotation", "type": "annotation", "start_frame": 0, "stop_frame": 3},
        {"status": "annotation", "type": "consensus_replica", "start_frame": 0, "stop_frame": 3},
        {"status": "completed", "type": "annotation", "start_frame": 3, "stop_frame": 5},
        {"status": "annotation", "type": "ground_truth", "start_frame": 1, "stop_frame": 5,
         "frames": [1, 5], "files": ["dir/img1.png", "img5.png"]},
    ]  # fmt: skip
    spec = parse_task_json(doc)
    assert [job.type for job in spec.jobs] == [
        "annotation", "consensus_replica", "annotation", "ground_truth",
    ]  # fmt: skip
    assert spec.jobs[3] == JobSpec(1, 5, "annotation", "ground_truth", ["dir/img1.png", "img5.png"],
                                   [1, 5])  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_doc(version="2.0"), "Unsupported backup version '2.0'."),
        (_doc(version=1.0), "Unsupported backup version '1.0'."),
        (_doc(version=["1.0"]), "Unsupported backup version \"['1.0']\"."),
        (_doc(version=...), "task.json: 'version' is missing."),
        ([], "task.json must contain a JSON object."),
        (_doc(name=...), "task.json: 'name' is missing."),
        (_doc(name=""), "task.json: 'name' must not be empty."),
        (_doc(name=5), "task.json: 'name' must be a string."),
        (_doc(name="n" * 257), "task.json: 'name' must be at most 256 characters long."),
        (_doc(status="done"), "task.json: 'status' must be one of 'annotation', 'validation', "
                              "'completed'."),
        (_doc(data=...), "task.json: 'data' is missing."),
        (_doc(data=[]), "task.json: 'data' must be an object."),
        (_doc(data__chunk_size="72"), "task.json: 'data.chunk_size' must be an integer."),
        (_doc(data__chunk_size=True), "task.json: 'data.chunk_size' must be an integer."),
        (_doc(data__chunk_size=0), "task.json: 'data.chunk_size' must be at least 1."),
        (_doc(data__image_quality=101), "task.json: 'data.image_quality' must be at most 100."),
        (_doc(data__start_frame=-1), "task.json: 'data.start_frame' must be at least 0."),
        (_doc(data__stop_frame=7.0), "task.json: 'data.stop_frame' must be an integer."),
        (_doc(data__start_frame=3, data__stop_frame=2),
         "task.json: 'data.stop_frame' is before the start frame."),
        (_doc(data__storage="s3"),
         "task.json: 'data.storage' must be one of 'local', 'share', 'cloud_storage'."),
        (_doc(data__storage=...), "task.json: 'data.storage' is missing."),
        (_doc(data__frame_filter="every=2"),
         "task.json: 'data.frame_filter' must be empty or 'step=N'."),
        (_doc(data__deleted_frames=[1, "2"]),
         "task.json: 'data.deleted_frames' must be a list of non-negative integers."),
        (_doc(data__deleted_frames=[6]),
         "task.json: 'data.deleted_frames[0]' is outside the task's frames 0..5."),
        (_doc(data__custom_segments="yes"),
         "task.json: 'data.custom_segments' must be a boolean."),
        (_doc(data__validation_layout=[]),
         "task.json: 'data.validation_layout' must be an object."),
        (_doc(jobs=...), "task.json: 'jobs' is missing."),
        (_doc(jobs={}), "task.json: 'jobs' must be a list."),
        (_doc(jobs__0="job"), "task.json: 'jobs[0]' must be an object."),
        (_doc(jobs__0__start_frame="0"), "task.json: 'jobs[0].start_frame' must be an integer."),
        (_doc(jobs__1__stop_frame=6),
         "task.json: 'jobs[1].stop_frame' is outside the task's frames 0..5."),
        (_doc(jobs__1__start_frame=5, jobs__1__stop_frame=4),
         "task.json: 'jobs[1].stop_frame' is before the start frame."),
        (_doc(jobs__0__status=...), "task.json: 'jobs[0].status' is missing."),
        (_doc(jobs__0__type="review"), "task.json: 'jobs[0].type' must be one of 'annotation', "
                                       "'ground_truth', 'consensus_replica'."),
        (_doc(jobs__0__state="old"), "task.json: 'jobs[0].state' must be one of 'new', "
                                     "'in progress', 'rejected', 'completed'."),
        (_doc(jobs__0__frames=[0, 9]),
         "task.json: 'jobs[0].frames[1]' is outside the task's frames 0..5."),
        (_doc(jobs__0__files=["a.png", "../etc/passwd"]),
         "task.json: 'jobs[0].files[1]' contains a '..' segment."),
        (_doc(jobs__0__files=[1]), "task.json: 'jobs[0].files' must be a list of strings."),
        (_doc(jobs__0__type="ground_truth", jobs__1__type="consensus_replica"),
         "task.json: 'jobs' must list at least one annotation job."),
        (_doc(cloud_storage={"provider_type": "DROPBOX", "resource": "b"}),
         "task.json: 'cloud_storage.provider_type' must be one of 'AWS_S3_BUCKET', "
         "'AZURE_CONTAINER', 'GOOGLE_CLOUD_STORAGE'."),
        (_doc(cloud_storage={"provider_type": "AWS_S3_BUCKET", "resource": 5}),
         "task.json: 'cloud_storage.resource' must be a string."),
    ],
)  # fmt: skip
def test_refused(doc, message):
    assert _refused(doc) == message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda labels: labels.append(copy.deepcopy(labels[0])),
         "task.json: the label 'cat' is defined more than once."),
        (lambda labels: labels[0].update(name=""),
         "task.json: 'labels[0].name' must not be empty."),
        (lambda labels: labels[0].update(name="x" * 65),
         "task.json: 'labels[0].name' must be at most 64 characters long."),
        (lambda labels: labels[1].update(type="box"),
         "task.json: 'labels[1].type' must be one of 'any', 'rectangle', 'polygon', 'polyline', "
         "'points', 'ellipse', 'cuboid', 'mask', 'skeleton', 'tag'."),
        (lambda labels: labels[0]["attributes"][0].update(input_type="slider"),
         "task.json: 'labels[0].attributes[0].input_type' must be one of 'checkbox', 'radio', "
         "'number', 'text', 'select'."),
        (lambda labels: labels[0]["attributes"][0].update(values=["a", 1]),
         "task.json: 'labels[0].attributes[0].values' must be a list of strings."),
        (lambda labels: labels[0]["attributes"][0].update(mutable="no"),
         "task.json: 'labels[0].attributes[0].mutable' must be a boolean."),
        (lambda labels: labels[0]["attributes"].append(labels[0]["attributes"][0]),
         "task.json: the label 'cat' defines the attribute 'fluffy' more than once."),
        (lambda labels: labels[1].update(sublabels=[{"name": "tail"}]),
         "task.json: 'labels[1].sublabels' must be empty: only skeleton labels have sublabels."),
        (lambda labels: labels[2]["sublabels"][0].update(sublabels=[{"name": "x"}]),
         "task.json: 'labels[2].sublabels[0].sublabels' must be empty: only skeleton labels have "
         "sublabels."),
        (lambda labels: labels[2]["sublabels"].append({"name": "eye"}),
         "task.json: the label 'eye' is defined more than once."),
        (lambda labels: labels.append("dog"), "task.json: 'labels[3]' must be an object."),
    ],
)  # fmt: skip
def test_bad_labels(change, message):
    doc = _doc()
    change(doc["labels"])
    assert _refused(doc) == message


def test_a_sublabel_may_share_a_top_level_name():
    doc = _doc()
    doc["labels"][2]["sublabels"][1]["name"] = "cat"
    assert parse_task_json(doc).labels[2].sublabels[1].name == "cat"


def test_project_json():
    spec = ProjectSpec(name="zoo", labels=LABELS, bug_tracker="https://bugs", status="completed")
    doc = build_project_json(spec)
    assert list(doc) == ["name", "bug_tracker", "status", "labels", "version"]
    assert doc["version"] == "1.0"
    assert parse_project_json(doc) == spec
    with pytest.raises(ArchiveError) as caught:
        parse_project_json({**doc, "version": "0.9"})
    assert caught.value.message == "Unsupported backup version '0.9'."
    with pytest.raises(ArchiveError) as caught:
        parse_project_json({**doc, "labels": {}})
    assert caught.value.message == "project.json: 'labels' must be a list."
