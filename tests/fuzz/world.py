"""The objects the fuzzer points at: real rows so that paths with ids reach real code.

``build_world`` creates them through the API (and drained workers) for one user: a cloud task
on the S3 emulator (3 frames, 2 jobs, labels, annotations), a local task (uploaded files), a
project with a label, a finished backup export, an unfinished TUS upload and a personal access
token. ``World.path_values`` / ``World.query_values`` tell which real values fit an operation's
parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rest_framework.authtoken.models import Token

from cvat_lite.engine.models import Job, Label
from tests.backup.export_helpers import make_cloud_task, make_local_task
from tests.fixtures.emulators import EmulatedBucket
from tests.uploads.tus import tus_create

# The first path segment after /api/ → which ids fit its "{id}".
_ID_KINDS = {
    "tasks": "task",
    "projects": "project",
    "jobs": "job",
    "labels": "label",
    "cloudstorages": "cloud_storage",
    "auth": "access_token",
}
_TEMPLATE_PARAM = re.compile(r"{(\w+)}")


@dataclass
class World:
    token: str
    ids: dict[str, list[int]] = field(default_factory=dict)
    rq_ids: list[str] = field(default_factory=list)
    upload_ids: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def path_values(self, path: str) -> list[dict[str, object]]:
        """Each way to fill ``path``'s parameters with real values ([] if some has none)."""
        names = _TEMPLATE_PARAM.findall(path)
        if not names:
            return []
        choices: list[dict[str, object]] = [{}]
        for name in names:
            values = self._values_for(path, name)
            if not values:
                return []
            choices = [{**choice, name: value} for choice in choices for value in values]
        return choices

    def query_values(self, query_names: set[str]) -> dict[str, object]:
        """Real values for query parameters that name an object (e.g. ``rq_id``)."""
        if "rq_id" in query_names and self.rq_ids:
            return {"rq_id": self.rq_ids[0]}
        return {}

    def _values_for(self, path: str, name: str) -> list:
        if name == "rq_id":
            return self.rq_ids
        if name == "upload_id":
            return self.upload_ids
        resource = path.split("/")[2]
        return self.ids.get(_ID_KINDS.get(resource, ""), [])


def build_world(api, user, s3_emulator, s3_bucket, drain) -> World:
    cloud = make_cloud_task(api, user, EmulatedBucket(s3_emulator, s3_bucket), drain)
    local, _ = make_local_task(api, drain)
    project = api.post(
        "/api/projects", {"name": "fuzzed", "labels": [{"name": "bird"}]}, format="json"
    )
    assert project.status_code == 201, project.content
    project_id = project.json()["id"]

    export = api.post(f"/api/tasks/{local.id}/backup/export", format="json")
    assert export.status_code == 202, export.content
    drain("export")
    rq_id = export.json()["rq_id"]
    assert api.get(f"/api/requests/{rq_id}").json()["status"] == "finished"

    upload = tus_create(api, 1024)
    assert upload.status_code == 201, upload.content
    upload_id = upload["Location"].rstrip("/").rsplit("/", 1)[1]

    access_token = api.post("/api/auth/access_tokens", {"name": "fuzz"}, format="json")
    assert access_token.status_code == 201, access_token.content

    task_ids = [cloud.task.id, local.id]
    return World(
        token=Token.objects.create(user=user).key,
        ids={
            "task": task_ids,
            "project": [project_id],
            "job": list(
                Job.objects.filter(segment__task_id__in=task_ids).values_list("id", flat=True)
            ),
            "label": list(
                Label.objects.filter(task_id__in=task_ids).values_list("id", flat=True)[:2]
            )
            + list(Label.objects.filter(project_id=project_id).values_list("id", flat=True)),
            "cloud_storage": [cloud.storage.id],
            "access_token": [access_token.json()["id"]],
        },
        rq_ids=[rq_id],
        upload_ids=[upload_id],
    )
