"""The corpus of archives written by real CVAT servers (shared/interop, see its README), read
with nothing but ``zipfile`` and ``json``: what each archive says it holds, to compare a
restore with. Independent of ``cvat_lite.backup.format`` on purpose.

The folder is ``CVAT_LITE_INTEROP_DIR`` or ``shared/interop`` beside the clone
(``tests/fixtures/interop.py``); every ``*.zip``
under it (recursively) is a case. A lightweight archive's media are the files of a ``bucket/``
folder beside it (the bucket CVAT read them from).
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.interop import interop_dir, missing_corpus

BUCKET_DIR = "bucket"
MISSING = "<corpus missing>"
_TASK_FOLDER = re.compile(r"task_(\d+)/")
NO_LIGHTWEIGHT = "<no lightweight archive>"


def corpus_ids() -> list[str]:
    """The archives, as paths relative to the folder (the test ids); ``[MISSING]`` when the
    folder is missing or holds no archive, so that the tests fail (never pass silently)."""
    folder = interop_dir()
    found = (
        sorted(str(p.relative_to(folder)) for p in folder.rglob("*.zip")) if folder.is_dir() else []
    )
    return found or [MISSING]


def require(case_id: str) -> Path:
    """The archive of ``case_id``. Without a corpus the test is skipped, or fails where the
    corpus is required (CI: ``CVAT_LITE_REQUIRE_INTEROP=1``); a corpus without a lightweight
    archive always fails (relink would not be covered)."""
    if case_id == NO_LIGHTWEIGHT:
        pytest.fail(f"No lightweight archive under {interop_dir()}: relink is not covered.")
    if case_id == MISSING:
        missing_corpus(f"A CVAT archive under {interop_dir()}")
    path = interop_dir() / case_id
    if not path.is_file():
        missing_corpus(f"The CVAT archive {path}")
    return path


def _load(archive: zipfile.ZipFile, name: str) -> Any:
    return json.loads(archive.read(name))


def _manifest_names(text: str) -> list[tuple[str, int, int]]:
    """The image entries of a CVAT image manifest: (name with extension, width, height)."""
    entries = []
    for line in text.splitlines():
        item = json.loads(line) if line.strip() else {}
        if "name" in item:
            entries.append((item["name"] + item["extension"], item["width"], item["height"]))
    return entries


@dataclass
class ArchivedTask:
    folder: str  # "" or "task_<i>/"
    task: dict[str, Any]
    annotations: list[dict[str, Any]]
    manifest: list[tuple[str, int, int]]
    media: dict[str, bytes] = field(default_factory=dict)  # data/<name> members, full backups

    @property
    def lightweight(self) -> bool:
        return self.task["data"]["storage"] == "cloud_storage"

    @property
    def frames(self) -> list[tuple[str, int, int]]:
        """The task's frames as CVAT restores them: the manifest's images from start_frame to
        stop_frame (the last image when task.json has none), every step-th."""
        data = self.task["data"]
        step = int(data.get("frame_filter", "step=1").split("=")[1] or 1)
        start = data.get("start_frame", 0)
        stop = data.get("stop_frame", len(self.manifest) - 1)
        return self.manifest[start : stop + 1 : step]


@dataclass
class Archived:
    path: Path
    project: dict[str, Any] | None
    tasks: list[ArchivedTask]
    members: list[str]

    @property
    def target(self) -> str:
        return "project" if self.project is not None else "task"

    @property
    def bucket(self) -> Path:
        return self.path.parent / BUCKET_DIR


def read_archive(path: Path) -> Archived:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        project = _load(archive, "project.json") if "project.json" in names else None
        if project is None:
            folders = [""]
        else:
            indexes = {
                int(n.split("/")[0][5:]) for n in names if n.startswith("task_") and "/" in n
            }
            folders = [f"task_{i}/" for i in sorted(indexes)]
        tasks = []
        for folder in folders:
            data_dir = folder + "data/"
            task = ArchivedTask(
                folder=folder,
                task=_load(archive, folder + "task.json"),
                annotations=_load(archive, folder + "annotations.json"),
                manifest=_manifest_names(archive.read(data_dir + "manifest.jsonl").decode()),
            )
            task.media = {
                name[len(data_dir) :]: archive.read(name)
                for name in names
                if name.startswith(data_dir) and name != data_dir + "manifest.jsonl"
            }
            tasks.append(task)
    return Archived(path=path, project=project, tasks=tasks, members=names)


def lightweight_ids() -> list[str]:
    """The cases with at least one lightweight task (``[MISSING]`` without a corpus,
    ``[NO_LIGHTWEIGHT]`` when none has one: both fail)."""
    ids = corpus_ids()
    if ids == [MISSING]:
        return ids
    found = [i for i in ids if any(t.lightweight for t in read_archive(interop_dir() / i).tasks)]
    return found or [NO_LIGHTWEIGHT]
