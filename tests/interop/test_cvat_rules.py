"""Our archives keep restoring in real CVAT: every backup cvat_lite writes passes the rules of
CVAT's importer (tests/interop/cvat_rules.py). The rules are checked against real CVAT first:
every archive CVAT wrote passes them, and archives CVAT refuses fail them."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from cvat_lite.backup.format import CHECKSUMS
from tests.api.backup_import_helpers import finished, run_import
from tests.backup.export_helpers import make_cloud_task, make_local_task
from tests.fixtures.emulators import EmulatedBucket
from tests.interop.corpus import corpus_ids, read_archive, require
from tests.interop.cvat_rules import cvat_import_problems

LIGHTWEIGHT_TASK = "cvat-2.73/cvat273_task_cloud_lightweight.zip"
CONSENSUS_TASK = "task_30_backup_pre_consensus_replica_removal.zip"


@pytest.mark.parametrize("case_id", corpus_ids())
def test_every_archive_cvat_wrote_passes_the_rules(case_id):
    assert cvat_import_problems(require(case_id)) == []


def _edited(source: Path, target: Path, edit_task=None, extra: dict[str, bytes] | None = None):
    """``source`` rewritten with task.json passed through ``edit_task`` and ``extra`` added."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for name in zin.namelist():
            content = zin.read(name)
            if name == "task.json" and edit_task is not None:
                doc = json.loads(content)
                edit_task(doc)
                content = json.dumps(doc).encode()
            zout.writestr(name, content)
        for name, content in (extra or {}).items():
            zout.writestr(name, content)
    return target


def _pop_data(key):
    return lambda doc: doc["data"].pop(key)


def _set_data(key, value):
    return lambda doc: doc["data"].__setitem__(key, value)


def _swap_last_jobs(doc):
    doc["jobs"][-1], doc["jobs"][-2] = doc["jobs"][-2], doc["jobs"][-1]


def _drop_a_replica(doc):
    del doc["jobs"][1]


@pytest.mark.parametrize(
    ("case_id", "edit", "extra", "problem"),
    [
        (LIGHTWEIGHT_TASK, None, {"data/img.jpg": b"x"}, "other files in data/"),
        (LIGHTWEIGHT_TASK, _set_data("storage", "share"), None, "'data.storage' 'share'"),
        (LIGHTWEIGHT_TASK, _pop_data("chunk_type"), None, "'data.chunk_type' is missing"),
        (LIGHTWEIGHT_TASK, _set_data("image_quality", 0), None, "image_quality"),
        (LIGHTWEIGHT_TASK, _set_data("frame_filter", "every=2"), None, "frame_filter"),
        (LIGHTWEIGHT_TASK, lambda d: d["jobs"][0].pop("status"), None, "status' is missing"),
        (LIGHTWEIGHT_TASK, lambda d: d["jobs"][1].update(start_frame=21), None, "segments"),
        (CONSENSUS_TASK, _swap_last_jobs, None, "ground-truth jobs must come last"),
        (CONSENSUS_TASK, _drop_a_replica, None, "different replica counts"),
        (CONSENSUS_TASK, lambda d: d["jobs"][0].pop("files"), None, "files' is missing"),
    ],
)
def test_the_rules_refuse_what_cvat_refuses(tmp_path, case_id, edit, extra, problem):
    archive = _edited(require(case_id), tmp_path / "edited.zip", edit, extra)
    problems = cvat_import_problems(archive)
    assert any(problem in text for text in problems), problems


# --- what cvat_lite writes ---------------------------------------------------------------------


def _export(api, url: str, drain, tmp_path: Path, *, lightweight: bool) -> Path:
    query = "?lightweight=true" if lightweight else ""
    response = api.post(f"{url}/backup/export{query}")
    assert response.status_code == 202, response.content
    drain("export")
    request = api.get(f"/api/requests/{response.json()['rq_id']}").json()
    assert request["status"] == "finished", request["message"]
    content = b"".join(api.get(request["result_url"]).streaming_content)
    path = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.zip"
    path.write_bytes(content)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert CHECKSUMS in archive.namelist()  # the one member we add, at the root
    return path


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case_id", corpus_ids())
def test_what_we_write_of_a_restored_cvat_archive_passes_the_rules(api, drain, tmp_path, case_id):
    archived = read_archive(require(case_id))
    result = finished(run_import(api, archived.path, drain, target=archived.target))
    url = f"/api/{archived.target}s/{result}"
    # A restored lightweight task is unlinked: only a lightweight backup can be written of it
    # (a project's local tasks are written in full either way).
    for lightweight in [any(task.lightweight for task in archived.tasks)]:
        path = _export(api, url, drain, tmp_path, lightweight=lightweight)
        assert cvat_import_problems(path) == [], (lightweight, path.name)


@pytest.mark.django_db(transaction=True)
def test_what_we_write_of_our_own_tasks_passes_the_rules(
    api, user, drain, tmp_path, s3_emulator, s3_bucket
):
    project = api.post("/api/projects", {"name": "p", "labels": [{"name": "cat"}]}, format="json")
    assert project.status_code == 201, project.content
    bucket = EmulatedBucket(s3_emulator, s3_bucket)
    cloud = make_cloud_task(api, user, bucket, drain)
    local, _ = make_local_task(api, drain)
    make_local_task(api, drain, name="in project", project_id=project.json()["id"])
    for url, lightweight in [
        (f"/api/tasks/{cloud.task.id}", False),
        (f"/api/tasks/{cloud.task.id}", True),
        (f"/api/tasks/{local.id}", False),
        (f"/api/projects/{project.json()['id']}", False),
    ]:
        path = _export(api, url, drain, tmp_path, lightweight=lightweight)
        assert cvat_import_problems(path) == [], (url, lightweight)
