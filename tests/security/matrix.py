"""The permission matrix: one ``Case`` per (route, method), with the status each role gets.

Roles: ``anonymous`` (no credentials), ``owner`` (owns every object named in the path),
``other`` (an ordinary user who owns none of them), ``superuser``. The project's rules (contract 3):
anonymous → 401 except the open endpoints (about, schema, docs, login, register, logout);
another user's object → 404 everywhere; a superuser → as the owner, except for what is
personal: access tokens and TUS uploads (404 for anyone but their owner).

URL templates name objects of ``tests.security.world.World.ids`` (``{task}``, ``{job}``, …);
the OpenAPI path of a case follows from its template (``{task}`` → ``{id}``, ``{*_rq}`` →
``{rq_id}``, ``{*_upload}`` → ``{upload_id}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.core.files.uploadedfile import SimpleUploadedFile

from cvat_lite.api.uploads import TUS_CONTENT_TYPE
from tests.conftest import PASSWORD
from tests.security.world import CHUNK, World, refresh_queued, small_zip, upload_offset

Body = Callable[[World, str], Any] | dict | None


@dataclass(frozen=True)
class Case:
    url: str
    method: str
    owner: int
    other: int = 404
    anonymous: int = 401
    superuser: int | None = None  # None: as the owner
    body: Body = None
    fmt: str = "json"
    content_type: str | None = None  # a raw body of this type (TUS chunks)
    headers: Callable[[World], dict[str, str]] | None = None
    bearer: bool = False  # authenticate with each role's personal access token
    scoped: bool = True  # the path names an object of the owner's
    in_schema: bool = True  # schema and docs, and TUS HEAD, are not operations of schema.yml
    before: Callable[[World], None] | None = None

    def expected(self, role: str) -> int:
        if role == "superuser" and self.superuser is None:
            return self.owner
        return getattr(self, role)

    @property
    def schema_path(self) -> str:
        path = self.url.split("?", 1)[0]
        path = re.sub(r"\{\w+_rq\}", "{rq_id}", path)
        path = re.sub(r"\{\w+_upload\}", "{upload_id}", path)
        path = re.sub(r"\{(?!rq_id\}|upload_id\})\w+\}", "{id}", path)
        return path.rstrip("/") + "/"

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.url}"


# --- bodies ------------------------------------------------------------------------------------

EMPTY_ANNOTATIONS = {"version": 0, "tags": [], "shapes": [], "tracks": []}


def _login(world: World, role: str) -> dict:
    user = world.users["visitor" if role == "anonymous" else role]
    return {"username": user.username, "password": PASSWORD}


def _new_policy(world: World, role: str) -> dict:
    """Everything of the caller (the anonymous caller is refused before the body matters)."""
    user = world.users["visitor" if role == "anonymous" else role]
    return {"name": "mine", "scope": "owner", "target_owner_id": user.id,
            "location": "local", "cron": "0 3 * * *"}  # fmt: skip


def _register(world: World, role: str) -> dict:
    return {
        "username": f"new_{role}",
        "email": f"new_{role}@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }


def _password_change(world: World, role: str) -> dict:
    # The same password again: the world's users keep logging in with PASSWORD.
    return {"old_password": PASSWORD, "new_password1": PASSWORD, "new_password2": PASSWORD}


def _new_storage(world: World, role: str) -> dict:
    attributes = f"endpoint_url={quote(world.s3_endpoint, safe='')}&region=us-east-1"
    return {
        "provider_type": "AWS_S3_BUCKET",
        "resource": world.spare_bucket,
        "display_name": f"{role} storage",
        "credentials_type": "KEY_SECRET_KEY_PAIR",
        "key": "testing",
        "secret_key": "testing",
        "specific_attributes": attributes,
    }


def _storage_ref(world: World, role: str) -> dict:
    return {"cloud_storage_id": world.ids["storage"]}


def _cloud_data(world: World, role: str) -> dict:
    return {"server_files": ["ds/manifest.jsonl"], "cloud_storage_id": world.ids["storage"]}


def _archive(field: str) -> Body:
    def body(world: World, role: str) -> dict:
        return {field: SimpleUploadedFile("backup.zip", small_zip())}

    return body


def _tus_chunk(key: str) -> Callable[[World], dict[str, str]]:
    def headers(world: World) -> dict[str, str]:
        return {"HTTP_TUS_RESUMABLE": "1.0.0", "HTTP_UPLOAD_OFFSET": str(upload_offset(world, key))}

    return headers


def _tus_head(world: World) -> dict[str, str]:
    return {"HTTP_TUS_RESUMABLE": "1.0.0"}


def _open(url: str, method: str, status: int, **kwargs: Any) -> Case:
    """An endpoint that anyone may call."""
    return Case(url, method, status, other=status, anonymous=status, scoped=False, **kwargs)


def _own(url: str, method: str, status: int, **kwargs: Any) -> Case:
    """An endpoint about the caller's own things (lists, creation): no object in the path."""
    return Case(url, method, status, other=status, scoped=False, **kwargs)


def _uploads(prefix: str, key: str) -> list[Case]:
    field = "task_file" if prefix == "tasks" else "project_file"
    chunk = f"/api/{prefix}/backup/{{{key}}}"
    return [
        _own(f"/api/{prefix}/backup", "post", 202, body=_archive(field), fmt="multipart"),
        Case(
            chunk,
            "patch",
            204,
            superuser=404,
            body=CHUNK,
            content_type=TUS_CONTENT_TYPE,
            headers=_tus_chunk(key),
        ),
        Case(chunk, "head", 200, superuser=404, headers=_tus_head, in_schema=False),
    ]


def _annotations(url: str) -> list[Case]:
    return [
        Case(url, "get", 200),
        Case(url, "put", 200, body=EMPTY_ANNOTATIONS),
        Case(f"{url}?action=create", "patch", 200, body=EMPTY_ANNOTATIONS),
        Case(url, "delete", 204),
    ]


def _detail(url: str, rename: dict) -> list[Case]:
    return [Case(url, "get", 200), Case(url, "patch", 200, body=rename), Case(url, "delete", 204)]


FRAME = "type=frame&number=0&quality=original"

CASES: list[Case] = [
    # server, schema, auth, users
    _open("/api/server/about", "get", 200),
    _own("/api/server/plugins", "get", 200),
    _open("/api/schema", "get", 200, in_schema=False),
    _open("/api/docs", "get", 200, in_schema=False),
    _open("/api/redoc", "get", 200, in_schema=False),
    _open("/api/auth/login", "post", 200, body=_login),
    _open("/api/auth/logout", "post", 200),
    _open("/api/auth/register", "post", 201, body=_register),
    _own("/api/auth/password/change", "post", 200, body=_password_change),
    _own("/api/auth/access_tokens", "get", 200),
    _own("/api/auth/access_tokens", "post", 201, body={"name": "new token"}),
    _own("/api/auth/access_tokens/self", "get", 200, bearer=True),
    Case("/api/auth/access_tokens/{token}", "get", 200, superuser=404),
    Case("/api/auth/access_tokens/{token}", "patch", 200, superuser=404, body={"name": "x"}),
    Case("/api/auth/access_tokens/{token}", "delete", 204, superuser=404),
    _own("/api/users/self", "get", 200),
    # cloud storages
    _own("/api/cloudstorages", "get", 200),
    _own("/api/cloudstorages", "post", 201, body=_new_storage),
    *_detail("/api/cloudstorages/{storage}", {"display_name": "renamed"}),
    Case("/api/cloudstorages/{storage}/status", "get", 200),
    Case("/api/cloudstorages/{storage}/content-v2", "get", 200),
    # projects
    _own("/api/projects", "get", 200),
    _own("/api/projects", "post", 201, body={"name": "new", "labels": [{"name": "a"}]}),
    *_detail("/api/projects/{project}", {"name": "renamed"}),
    Case("/api/projects/{project}/cloud_storage", "patch", 200, body=_storage_ref),
    Case("/api/projects/{project}/backup/export?lightweight=true", "post", 202),
    Case("/api/projects/{project}/backup/download?rq_id={project_export_rq}", "get", 200),
    # the removed endpoint answers 410 for any id: nothing to reveal
    Case("/api/projects/{project}/backup", "get", 410, other=410),
    *_uploads("projects", "project_upload"),
    # tasks
    _own("/api/tasks", "get", 200),
    _own("/api/tasks", "post", 201, body={"name": "new", "labels": [{"name": "a"}]}),
    *_detail("/api/tasks/{task}", {"name": "renamed"}),
    *_annotations("/api/tasks/{task}/annotations"),
    Case(f"/api/tasks/{{task}}/data?{FRAME}", "get", 200),
    Case("/api/tasks/{empty_task}/data", "post", 202, body=_cloud_data),
    Case("/api/tasks/{task}/data/meta", "get", 200),
    Case("/api/tasks/{task}/data/meta", "patch", 200, body=_storage_ref),
    Case("/api/tasks/{task}/preview", "get", 200),
    Case("/api/tasks/{task}/backup/export?lightweight=true", "post", 202),
    Case("/api/tasks/{local_task}/backup/download?rq_id={export_rq}", "get", 200),
    Case("/api/tasks/{task}/backup", "get", 410, other=410),
    *_uploads("tasks", "task_upload"),
    # jobs
    _own("/api/jobs", "get", 200),
    Case("/api/jobs/{job}", "get", 200),
    Case("/api/jobs/{job}", "patch", 200, body={"stage": "validation"}),
    *_annotations("/api/jobs/{job}/annotations"),
    Case(f"/api/jobs/{{job}}/data?{FRAME}", "get", 200),
    Case("/api/jobs/{job}/data/meta", "get", 200),
    Case("/api/jobs/{job}/data/meta", "patch", 200, body={"deleted_frames": []}),
    Case("/api/jobs/{job}/preview", "get", 200),
    # labels
    _own("/api/labels", "get", 200),
    *_detail("/api/labels/{label}", {"name": "renamed"}),
    # backup policies
    _own("/api/backup/policies", "get", 200),
    _own("/api/backup/policies", "post", 201, body=_new_policy),
    *_detail("/api/backup/policies/{policy}", {"name": "renamed"}),
    Case("/api/backup/policies/{policy}/run", "post", 202),
    Case("/api/backup/policies/{policy}/runs", "get", 200),
    Case("/api/backup/policies/{policy}/archives", "get", 200),
    # requests
    _own("/api/requests", "get", 200),
    Case("/api/requests/{export_rq}", "get", 200),
    Case("/api/requests/{queued_rq}/cancel", "post", 200, before=refresh_queued),
]


# --- another user's object named in a body or a query ----------------------------------------


@dataclass(frozen=True)
class Foreign:
    """The other user acts on their own objects (or none) but names one of the owner's."""

    name: str
    method: str
    url: str
    status: int
    code: str | None = None
    body: Callable[[World], Any] | None = None
    headers: dict[str, str] | None = None
    names_storage: bool = False  # the message names the storage id (it is the caller's input)
    empty_list: bool = False  # a 200 list that must be empty

    def __str__(self) -> str:
        return self.name


def _storage(world: World) -> dict:
    return {"cloud_storage_id": world.ids["storage"]}


def _with_storage(kind: str, field: str) -> Callable[[World], dict]:
    def body(world: World) -> dict:
        location = {"location": "cloud_storage", "cloud_storage_id": world.ids["storage"]}
        extra = {"labels": [{"name": "a"}]}
        return {"name": f"mallory {kind}", field: location, **extra}

    return body


_ATTRIBUTE = {
    "name": "hijacked",
    "mutable": True,
    "input_type": "text",
    "default_value": "",
    "values": [""],
}


def _tag(label_id: int, spec_id: int | None = None) -> dict:
    attributes = [{"spec_id": spec_id, "value": "x"}] if spec_id else []
    tag = {"frame": 0, "label_id": label_id, "attributes": attributes}
    return {"version": 0, "tags": [tag], "shapes": [], "tracks": []}


_TO_STORAGE = "location=cloud_storage&cloud_storage_id={storage}"
_FROM_STORAGE = "location=cloud_storage&cloud_storage_id={storage}&filename=ds/manifest.jsonl"

FOREIGN: list[Foreign] = [
    Foreign(
        "a backup policy of the owner's task",
        "post",
        "/api/backup/policies",
        400,
        "task_not_found",
        body=lambda world: {
            "name": "p",
            "scope": "task",
            "task_id": world.ids["task"],
            "location": "local",
            "cron": "0 2 * * *",
        },
    ),
    Foreign(
        "a backup policy writing to the owner's storage",
        "post",
        "/api/backup/policies",
        400,
        "cloud_storage_not_found",
        body=lambda world: {
            "name": "p",
            "scope": "owner",
            "target_owner_id": world.users["other"].id,
            "location": "cloud_storage",
            **_storage(world),
            "cron": "0 2 * * *",
        },
        names_storage=True,
    ),
    Foreign(
        "a backup policy of everything of the owner",
        "post",
        "/api/backup/policies",
        403,
        "permission_denied",
        body=lambda world: {
            "name": "p",
            "scope": "owner",
            "target_owner_id": world.users["owner"].id,
            "location": "local",
            "cron": "0 2 * * *",
        },
    ),
    Foreign(
        "relink own task to the owner's storage",
        "patch",
        "/api/tasks/{other_unlinked_task}/data/meta",
        400,
        "cloud_storage_not_found",
        body=_storage,
        names_storage=True,
    ),
    Foreign(
        "relink own project to the owner's storage",
        "patch",
        "/api/projects/{other_project}/cloud_storage",
        400,
        "cloud_storage_not_found",
        body=_storage,
        names_storage=True,
    ),
    Foreign(
        "create own task's data from the owner's storage",
        "post",
        "/api/tasks/{other_empty_task}/data",
        400,
        "cloud_storage_not_found",
        body=lambda world: {"server_files": ["ds/manifest.jsonl"], **_storage(world)},
        names_storage=True,
    ),
    Foreign(
        "export own task to the owner's storage",
        "post",
        f"/api/tasks/{{other_unlinked_task}}/backup/export?lightweight=true&{_TO_STORAGE}",
        400,
        "cloud_storage_not_found",
        names_storage=True,
    ),
    Foreign(
        "export own project to the owner's storage",
        "post",
        f"/api/projects/{{other_project}}/backup/export?{_TO_STORAGE}",
        400,
        "cloud_storage_not_found",
        names_storage=True,
    ),
    Foreign(
        "import a task from the owner's storage",
        "post",
        f"/api/tasks/backup?{_FROM_STORAGE}",
        404,
        "cloud_storage_not_found",
        names_storage=True,
    ),
    Foreign(
        "import a project from the owner's storage",
        "post",
        f"/api/projects/backup?{_FROM_STORAGE}",
        404,
        "cloud_storage_not_found",
        names_storage=True,
    ),
    Foreign(
        "finish the owner's task upload",
        "post",
        "/api/tasks/backup?filename={task_upload_name}",
        400,
        "upload_not_found",
        headers={"HTTP_UPLOAD_FINISH": ""},
    ),
    Foreign(
        "finish the owner's upload on the project endpoint",
        "post",
        "/api/projects/backup?filename={task_upload_name}",
        400,
        "upload_not_found",
        headers={"HTTP_UPLOAD_FINISH": ""},
    ),
    Foreign(
        "task whose target storage is the owner's",
        "post",
        "/api/tasks",
        400,
        body=_with_storage("task", "target_storage"),
    ),
    Foreign(
        "task whose source storage is the owner's",
        "post",
        "/api/tasks",
        400,
        body=_with_storage("task", "source_storage"),
    ),
    Foreign(
        "project whose target storage is the owner's",
        "post",
        "/api/projects",
        400,
        body=_with_storage("project", "target_storage"),
    ),
    Foreign(
        "move own task into the owner's project",
        "patch",
        "/api/tasks/{other_empty_task}",
        400,
        body=lambda world: {"project_id": world.ids["project"]},
    ),
    Foreign(
        "download the owner's export through own task",
        "get",
        "/api/tasks/{other_unlinked_task}/backup/download?rq_id={export_rq}",
        404,
        "export_not_found",
    ),
    Foreign(
        "download the owner's project export through own project",
        "get",
        "/api/projects/{other_project}/backup/download?rq_id={project_export_rq}",
        404,
        "export_not_found",
    ),
    Foreign(
        "rename the owner's label through own task",
        "patch",
        "/api/tasks/{other_unlinked_task}",
        400,
        body=lambda world: {"labels": [{"id": world.ids["label"], "name": "hijacked"}]},
    ),
    Foreign(
        "delete the owner's label through own project",
        "patch",
        "/api/projects/{other_project}",
        400,
        body=lambda world: {"labels": [{"id": world.ids["label"], "deleted": True}]},
    ),
    Foreign(
        "change the owner's attribute through own label",
        "patch",
        "/api/labels/{other_label}",
        400,
        body=lambda world: {"attributes": [{**_ATTRIBUTE, "id": world.ids["attribute"]}]},
    ),
    Foreign(
        "annotate own job with the owner's label",
        "put",
        "/api/jobs/{other_job}/annotations",
        400,
        body=lambda world: _tag(world.ids["label"]),
    ),
    Foreign(
        "annotate own job with the owner's attribute",
        "put",
        "/api/jobs/{other_job}/annotations",
        400,
        body=lambda world: _tag(world.ids["other_label"], world.ids["attribute"]),
    ),
    Foreign(
        "tasks of the owner's project",
        "get",
        "/api/tasks?project_id={project}",
        200,
        empty_list=True,
    ),
    Foreign("jobs of the owner's task", "get", "/api/jobs?task_id={task}", 200, empty_list=True),
    Foreign(
        "labels of the owner's task", "get", "/api/labels?task_id={task}", 200, empty_list=True
    ),
    Foreign(
        "labels of the owner's project",
        "get",
        "/api/labels?project_id={project}",
        200,
        empty_list=True,
    ),
    Foreign("labels of the owner's job", "get", "/api/labels?job_id={job}", 200, empty_list=True),
    Foreign(
        "requests of the owner's task",
        "get",
        "/api/requests?task_id={local_task}",
        200,
        empty_list=True,
    ),
    Foreign(
        "storages filtered by the owner's name",
        "get",
        "/api/cloudstorages?owner=ownermark_olga",
        200,
        empty_list=True,
    ),
]
