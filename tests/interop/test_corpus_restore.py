"""Every archive a real CVAT wrote (shared/interop, see tests/interop/corpus.py) restores
through the REST API with every job, frame, label and annotation it holds; a full backup's
frames are its media byte for byte; a lightweight one relinks to a bucket holding its images
and then serves them byte for byte. Adding an archive to the folder adds a case."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.backup_import_helpers import finished, run_import
from tests.api.media_helpers import storage_row
from tests.backup.relink_helpers import put_all
from tests.fixtures.emulators import EmulatedBucket
from tests.interop.corpus import (
    Archived,
    ArchivedTask,
    corpus_ids,
    lightweight_ids,
    read_archive,
    require,
)

pytestmark = pytest.mark.django_db(transaction=True)

# Keys of an annotation object compared as they are; labels, attributes, shapes and elements
# are compared by name, recursively.
_BY_NAME = {"label", "attributes", "shapes", "elements"}


@pytest.fixture(params=corpus_ids())
def archived(request) -> Archived:
    return read_archive(require(request.param))


def _get(api, url: str) -> Any:
    response = api.get(url)
    assert response.status_code == 200, (url, response.content[:500])
    return response.json()


def _all(api, url: str) -> list[dict[str, Any]]:
    joiner = "&" if "?" in url else "?"
    page = _get(api, f"{url}{joiner}page_size=500&sort=id")
    assert page["next"] is None
    return page["results"]


def _restore(api, drain, archived: Archived) -> tuple[dict, list[int]]:
    """Import the archive over the API; the finished request and the restored task ids, in
    the archive's task order."""
    request = run_import(api, archived.path, drain, target=archived.target)
    result = finished(request)
    if archived.project is None:
        return request, [result]
    tasks = _all(api, f"/api/tasks?project_id={result}")
    return request, [task["id"] for task in tasks]


# --- what a restored task is compared with -----------------------------------------------------


class _Names:
    """Label and attribute names by id, from /api/labels (sublabels included)."""

    def __init__(self, labels: list[dict[str, Any]]):
        self.labels: dict[int, str] = {}
        self.attributes: dict[int, str] = {}
        for label in labels:
            self._add(label)

    def _add(self, label: dict[str, Any]) -> None:
        self.labels[label["id"]] = label["name"]
        self.attributes |= {a["id"]: a["name"] for a in label["attributes"]}
        for sublabel in label.get("sublabels", []):
            self._add(sublabel)


def _archived_object(obj: dict[str, Any]) -> dict[str, Any]:
    """An annotations.json object, keyed for comparison (labels and attributes by name)."""
    result = {key: value for key, value in obj.items() if key not in _BY_NAME}
    result["label"] = obj.get("label")
    result["attributes"] = {a["name"]: a["value"] for a in obj.get("attributes", [])}
    result["shapes"] = [_archived_object(shape) for shape in obj.get("shapes", [])]
    result["elements"] = [_archived_object(element) for element in obj.get("elements", [])]
    return result


def _served_object(obj: dict[str, Any], keys: dict[str, Any], names: _Names) -> dict[str, Any]:
    """An API object in the shape of ``keys`` (its archived twin)."""
    result = {key: obj.get(key) for key in keys if key not in _BY_NAME}
    result["label"] = names.labels[obj["label_id"]] if "label_id" in obj else None
    result["attributes"] = {names.attributes[a["spec_id"]]: a["value"] for a in obj["attributes"]}
    result["shapes"] = [
        _served_object(shape, twin, names)
        for shape, twin in zip(obj.get("shapes", []), keys["shapes"], strict=True)
    ]
    result["elements"] = [
        _served_object(element, twin, names)
        for element, twin in zip(obj.get("elements", []), keys["elements"], strict=True)
    ]
    return result


def _compare_labels(api, archived: Archived, task: ArchivedTask, task_id: int) -> _Names:
    labels = _all(api, f"/api/labels?task_id={task_id}")
    expected = (archived.project or task.task)["labels"]
    served = {label["name"]: label for label in labels}
    assert sorted(served) == sorted(label["name"] for label in expected)
    for label in expected:
        got = served[label["name"]]
        assert got["color"] == label["color"]
        assert got.get("type", "any") == label.get("type", "any")
        attributes = {
            a["name"]: (a["input_type"], a["mutable"], a["default_value"], a["values"])
            for a in got["attributes"]
        }
        assert attributes == {
            a["name"]: (a["input_type"], a["mutable"], a["default_value"], a["values"])
            for a in label["attributes"]
        }
    return _Names(labels)


def _compare_task(api, archived: Archived, task: ArchivedTask, task_id: int) -> None:
    doc = task.task
    served = _get(api, f"/api/tasks/{task_id}")
    for key in ("name", "subset", "bug_tracker", "status"):
        assert served[key] == doc.get(key, served[key]), key

    names = _compare_labels(api, archived, task, task_id)

    meta = _get(api, f"/api/tasks/{task_id}/data/meta")
    frames = task.frames
    assert meta["size"] == len(frames)
    assert [(f["name"], f["width"], f["height"]) for f in meta["frames"]] == frames
    assert meta["deleted_frames"] == sorted(doc["data"].get("deleted_frames", []))
    assert meta["image_quality"] == doc["data"]["image_quality"]

    jobs = _all(api, f"/api/jobs?task_id={task_id}")
    assert [(j["type"], j["start_frame"], j["stop_frame"], j["status"]) for j in jobs] == [
        (j.get("type", "annotation"), j["start_frame"], j["stop_frame"], j["status"])
        for j in doc["jobs"]
    ]

    assert len(task.annotations) == len(jobs)
    for job, archived_job in zip(jobs, task.annotations, strict=True):
        served_job = _get(api, f"/api/jobs/{job['id']}/annotations")
        for kind in ("tags", "shapes", "tracks"):
            expected = [_archived_object(obj) for obj in archived_job.get(kind, [])]
            got = [
                _served_object(obj, twin, names)
                for obj, twin in zip(served_job[kind], expected, strict=True)
            ]
            assert got == expected, (job["id"], kind)


def _frame(api, task_id: int, number: int):
    return api.get(f"/api/tasks/{task_id}/data?type=frame&number={number}&quality=original")


# --- the cases ---------------------------------------------------------------------------------


def test_restores_with_every_job_frame_label_and_annotation(api, drain, archived):
    request, task_ids = _restore(api, drain, archived)
    assert len(task_ids) == len(archived.tasks)
    for task, task_id in zip(archived.tasks, task_ids, strict=True):
        _compare_task(api, archived, task, task_id)
        if task.lightweight:
            assert _frame(api, task_id, 0).status_code == 409  # unlinked until relinked
            continue
        for number, (name, _, _) in enumerate(task.frames):
            response = _frame(api, task_id, number)
            assert response.status_code == 200, (number, response.content[:300])
            assert response.content == task.media[name], (number, name)
    if archived.project is not None:
        project = _get(api, f"/api/projects/{request['result_id']}")
        assert project["name"] == archived.project["name"]


@pytest.fixture
def s3(s3_emulator, s3_bucket) -> EmulatedBucket:
    return EmulatedBucket(s3_emulator, s3_bucket)


@pytest.mark.parametrize("case_id", lightweight_ids())
def test_lightweight_relinks_to_its_bucket_and_serves_identical_frames(
    api, user, drain, s3, case_id
):
    archived = read_archive(require(case_id))
    bucket = archived.bucket
    assert bucket.is_dir(), f"{archived.path.name}: its images belong in {bucket}"
    objects = {p.name: p.read_bytes() for p in sorted(bucket.iterdir()) if p.is_file()}
    put_all(s3, objects)
    storage = storage_row(user, s3.config)

    request, task_ids = _restore(api, drain, archived)
    lightweight = [
        (task, task_id)
        for task, task_id in zip(archived.tasks, task_ids, strict=True)
        if task.lightweight
    ]
    body = {"cloud_storage_id": storage.id}
    if archived.project is None:
        response = api.patch(f"/api/tasks/{task_ids[0]}/data/meta", body, format="json")
        assert response.status_code == 200, response.content
    else:
        url = f"/api/projects/{request['result_id']}/cloud_storage"
        response = api.patch(url, body, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["failed"] == []
        assert response.json()["relinked"] == [task_id for _, task_id in lightweight]
    for task, task_id in lightweight:
        for number, (name, _, _) in enumerate(task.frames):
            served = _frame(api, task_id, number)
            assert served.status_code == 200, (number, served.content[:300])
            assert served.content == objects[name], (number, name)


def test_a_round_trip_through_cvat_lite_keeps_everything(api, drain, tmp_path, archived):
    """Restored here, backed up here (lightweight when the archive is: its tasks are not
    linked), restored again: still every job, frame, label and annotation of CVAT's archive."""
    request, _ = _restore(api, drain, archived)
    lightweight = any(task.lightweight for task in archived.tasks)
    url = f"/api/{archived.target}s/{request['result_id']}/backup/export"
    response = api.post(url + ("?lightweight=true" if lightweight else ""))
    assert response.status_code == 202, response.content
    drain("export")
    export = _get(api, f"/api/requests/{response.json()['rq_id']}")
    assert export["status"] == "finished", export["message"]
    path = tmp_path / f"again-{archived.path.name}"
    path.write_bytes(b"".join(api.get(export["result_url"]).streaming_content))

    again = Archived(path=path, project=archived.project, tasks=archived.tasks, members=[])
    _, task_ids = _restore(api, drain, again)
    for task, task_id in zip(archived.tasks, task_ids, strict=True):
        _compare_task(api, archived, task, task_id)
        if not task.lightweight:
            for number, (name, _, _) in enumerate(task.frames):
                assert _frame(api, task_id, number).content == task.media[name], (number, name)
