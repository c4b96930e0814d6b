"""The objects the permission matrix runs against: an owner's world (a cloud task on moto S3
with jobs, labels and annotations, a project holding a local task, finished backup exports of
both, a task without data, TUS uploads in progress, a queued request, a personal access token)
and a few objects of the other user, who references the owner's objects from them.

Built once per module and committed (``django_db_blocker``); each test runs in a transaction
that is rolled back, so an owner's DELETE in one test does not remove the object for the next.
Everything the owner owns is named with ``MARK`` so that a response can be searched for it.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cvat_lite.engine.models import (
    AccessToken,
    Attribute,
    CloudStorage,
    Data,
    Image,
    Job,
    JobAnnotations,
    Label,
    Project,
    Segment,
    Task,
)
from cvat_lite.engine.services.accounts import access_token_create
from cvat_lite.policies.models import BackupPolicy, PolicyArchive, PolicyRun
from cvat_lite.requests.models import Request, RequestAction, RequestStatus
from cvat_lite.requests.services import new_request_id
from cvat_lite.uploads.models import Upload
from tests.backup.export_helpers import (
    LABELS,
    make_cloud_task,
    make_local_task,
    make_unlinked_task,
)
from tests.conftest import PASSWORD
from tests.fixtures.backends import drain_queues
from tests.fixtures.emulators import EmulatedBucket, MotoS3
from tests.uploads.tus import tus_create, tus_patch

MARK = "ownermark"  # in every name of the owner's objects (compared case-insensitively)
ROLES = ("anonymous", "owner", "other", "superuser")
TUS_LENGTH = 1024 * 1024  # room for many 16-byte chunks: uploads stay in progress
CHUNK = b"0123456789abcdef"
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class World:
    users: dict[str, Any]  # role → user (none for anonymous); "visitor" logs in anonymously
    tokens: dict[str, str]  # role → DRF token key
    bearer: dict[str, str]  # role → personal access token value
    ids: dict[str, Any]  # placeholder → id, for the URL templates of the matrix
    markers: tuple[str, ...]  # strings only the owner's responses may contain
    data_dir: Path
    share_root: Path
    spare_bucket: str  # an S3 bucket no storage uses yet (bodies that create storages)
    s3_endpoint: str
    owned: dict[str, dict] = field(default_factory=dict)  # role → owned_rows(user)

    def client(self, role: str, *, bearer: bool = False) -> APIClient:
        client = APIClient()
        if role != "anonymous":
            auth = f"Bearer {self.bearer[role]}" if bearer else f"Token {self.tokens[role]}"
            client.credentials(HTTP_AUTHORIZATION=auth)
        return client

    def url(self, template: str) -> str:
        return template.format(**self.ids)


def _ok(response, status: int = 201) -> dict:
    assert response.status_code == status, response.content
    return response.json() if response.content else {}


def small_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("task.json", "{}")
    return buffer.getvalue()


def _tus_upload(api: APIClient, url: str) -> Upload:
    created = tus_create(api, TUS_LENGTH, name="OWNERMARK-backup.zip", url=url)
    assert created.status_code == 201, created.content
    location = created["Location"]
    assert tus_patch(api, location, 0, CHUNK).status_code == 204
    return Upload.objects.get(pk=location.rstrip("/").rsplit("/", 1)[1])


def _export(api: APIClient, url: str) -> str:
    rq_id = _ok(api.post(f"{url}/backup/export"), 202)["rq_id"]
    drain_queues("export")
    request = Request.objects.get(pk=rq_id)
    assert request.status == RequestStatus.FINISHED, request.message
    return rq_id


def build_world(s3: MotoS3, root: Path) -> World:
    data_dir, share_root = root / "data", root / "share"
    data_dir.mkdir()
    share_root.mkdir()
    with override_settings(DATA_DIR=data_dir, SHARE_ROOT=share_root, PASSWORD_HASHERS=FAST_HASHER):
        return _build(s3, data_dir, share_root)


def _build(s3: MotoS3, data_dir: Path, share_root: Path) -> World:
    model = get_user_model()
    users = {
        "owner": model.objects.create_user(f"{MARK}_olga", f"{MARK}@example.com", PASSWORD),
        "other": model.objects.create_user("mallory", "mallory@example.com", PASSWORD),
        "superuser": model.objects.create_superuser("root", "root@example.com", PASSWORD),
        "visitor": model.objects.create_user("visitor", "visitor@example.com", PASSWORD),
    }
    roles = ("owner", "other", "superuser")
    tokens = {role: Token.objects.create(user=users[role]).key for role in roles}
    bearer = {
        role: access_token_create(owner=users[role], name=f"{role} token")[1] for role in roles
    }
    pat = AccessToken.objects.get(owner=users["owner"])
    pat.name = f"{MARK} token"
    pat.save()

    owner = APIClient()
    owner.force_authenticate(users["owner"])
    bucket = EmulatedBucket(s3, s3.create_bucket())
    cloud = make_cloud_task(owner, users["owner"], bucket, drain_queues, name=f"{MARK} cloud task")
    # The manifest's made-up checksum of a.jpg would fail a relink to the same bucket.
    Image.objects.filter(data=cloud.task.data_id).update(checksum="")
    cloud.storage.display_name = f"{MARK} storage"
    cloud.storage.description = f"{MARK} description"
    cloud.storage.save()
    project = _ok(
        owner.post(
            "/api/projects",
            {"name": f"{MARK} project", "labels": [{"name": f"{MARK}-label"}]},
            format="json",
        )
    )
    local, _files = make_local_task(
        owner, drain_queues, name=f"{MARK} local task", project_id=project["id"]
    )
    empty = _ok(
        owner.post(
            "/api/tasks",
            {"name": f"{MARK} empty task", "labels": [{"name": f"{MARK}-empty-label"}]},
            format="json",
        )
    )
    export_rq = _export(owner, f"/api/tasks/{local.id}")
    project_export_rq = _export(owner, f"/api/projects/{project['id']}")
    task_upload = _tus_upload(owner, "/api/tasks/backup/")
    project_upload = _tus_upload(owner, "/api/projects/backup/")
    queued = Request.objects.create(  # an export that no worker took yet
        id=new_request_id(RequestAction.EXPORT, "task", cloud.task.id, "backup"),
        owner=users["owner"],
        action=RequestAction.EXPORT,
        target="task",
        subresource="backup",
        target_id=cloud.task.id,
        task_id=cloud.task.id,
        lightweight=False,
    )

    policy = BackupPolicy.objects.create(
        owner=users["owner"], name=f"{MARK} policy", scope="task", task=cloud.task,
        location="cloud_storage", cloud_storage=cloud.storage, prefix=f"{MARK}-backups",
        cron="0 2 * * *", keep_last=2,
    )  # fmt: skip
    policy_run = PolicyRun.objects.create(
        policy=policy, trigger="manual", status="failed", error=f"{MARK} failure"
    )
    PolicyArchive.objects.create(
        policy=policy, run=policy_run, kind="task", object_id=cloud.task.id, mode="lightweight",
        name=f"task-{cloud.task.id}_x_lightweight_20260101T000000Z.zip", location="cloud_storage",
        cloud_storage_id=cloud.storage.id, key=f"{MARK}-backups/x.zip", bytes=1, sha256="0" * 64,
        fingerprint="0" * 64, created_date=timezone.now(),
    )  # fmt: skip

    # The other user's own objects, from which they name the owner's.
    other_unlinked = make_unlinked_task(users["other"])
    mallory = APIClient()
    mallory.force_authenticate(users["other"])
    _ok(mallory.patch(f"/api/tasks/{other_unlinked.id}", {"labels": LABELS}, format="json"), 200)
    other_project = Project.objects.create(owner=users["other"], name="mallory project")
    other_empty = Task.objects.create(owner=users["other"], name="mallory empty task")

    cloud_task = cloud.task
    job = Job.objects.filter(segment__task=cloud_task).order_by("id").first()
    label = Label.objects.filter(task=cloud_task).order_by("id").first()
    other_label = Label.objects.filter(task=other_unlinked).order_by("id").first()
    other_job = Job.objects.filter(segment__task=other_unlinked).order_by("id").first()
    ids = {
        "task": cloud_task.id,
        "job": job.id,
        "label": label.id,
        "storage": cloud.storage.id,
        "project": project["id"],
        "local_task": local.id,
        "empty_task": empty["id"],
        "token": pat.id,
        "export_rq": export_rq,
        "project_export_rq": project_export_rq,
        "queued_rq": queued.id,
        "task_upload": task_upload.pk,
        "task_upload_name": task_upload.filename,
        "project_upload": project_upload.pk,
        "other_unlinked_task": other_unlinked.id,
        "other_project": other_project.id,
        "other_empty_task": other_empty.id,
        "other_label": other_label.id,
        "other_label_attribute": other_label.attributes.get().id,
        "other_job": other_job.id,
        "attribute": label.attributes.get().id,
        "policy": policy.id,
    }
    markers = (MARK, cloud.storage.resource)
    return World(
        owned={role: owned_rows(users[role]) for role in ("owner", "other")},
        users=users,
        tokens=tokens,
        bearer=bearer,
        ids=ids,
        markers=markers,
        data_dir=data_dir,
        share_root=share_root,
        spare_bucket=s3.create_bucket().resource,
        s3_endpoint=s3.endpoint_url,
    )


def destroy_world() -> None:
    call_command("flush", interactive=False, verbosity=0)


# --- what must not change ----------------------------------------------------------------------


def _owned(user) -> list[Any]:
    """A user's rows (querysets, one per model)."""
    task_owner = {"task__owner": user}
    return [
        CloudStorage.objects.filter(owner=user),
        Project.objects.filter(owner=user),
        Task.objects.filter(owner=user),
        Data.objects.filter(**task_owner),
        Image.objects.filter(data__task__owner=user),
        Label.objects.filter(task__owner=user) | Label.objects.filter(project__owner=user),
        Attribute.objects.filter(label__task__owner=user)
        | Attribute.objects.filter(label__project__owner=user),
        Segment.objects.filter(**task_owner),
        Job.objects.filter(segment__task__owner=user),
        JobAnnotations.objects.filter(job__segment__task__owner=user),
        AccessToken.objects.filter(owner=user),
        Token.objects.filter(user=user),
        Request.objects.filter(owner=user),
        Upload.objects.filter(owner=user),
        BackupPolicy.objects.filter(owner=user),
        PolicyRun.objects.filter(policy__owner=user),
        PolicyArchive.objects.filter(policy__owner=user),
        get_user_model().objects.filter(pk=user.pk),
    ]


def owned_rows(user) -> dict[str, tuple[str, frozenset[str]]]:
    """table → (its primary key column, the keys of ``user``'s rows)."""
    return {
        queryset.model._meta.db_table: (
            queryset.model._meta.pk.column,
            frozenset(str(pk) for pk in queryset.values_list("pk", flat=True)),
        )
        for queryset in _owned(user)
    }


@dataclass(frozen=True)
class State:
    rows: dict[tuple[str, str], tuple]  # (table, key) → the row, for one user's rows
    counts: dict[str, int]  # rows per table (everyone's)
    files: dict[str, tuple[int, int]]  # path under DATA_DIR → (size, mtime_ns)


def owner_state(world: World) -> State:
    return state_of(world, "owner")


def state_of(world: World, role: str) -> State:
    """The rows ``role``'s user had when the world was built, the row counts, and the files
    under DATA_DIR. Plain SQL, one query per table: it runs around hundreds of requests."""
    rows, counts = {}, {}
    with connection.cursor() as cursor:
        for table, (pk_column, keys) in world.owned[role].items():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = [column[0] for column in cursor.description]
            at = columns.index(pk_column)
            kept = [i for i, name in enumerate(columns) if name != "last_login"]
            found = cursor.fetchall()
            counts[table] = len(found)
            for row in found:
                if str(row[at]) in keys:
                    rows[(table, str(row[at]))] = tuple(row[i] for i in kept)
    files = {}
    for folder, _dirs, names in os.walk(world.data_dir):
        for name in names:
            stat = os.stat(os.path.join(folder, name))
            relative = os.path.relpath(os.path.join(folder, name), world.data_dir)
            files[relative] = (stat.st_size, stat.st_mtime_ns)
    return State(rows, counts, files)


def refresh_queued(world: World) -> None:
    """The queued request has no RQ job (Redis is emptied between tests): a fresh
    ``created_date`` keeps it queued rather than found dead, so it can be cancelled."""
    Request.objects.filter(pk=world.ids["queued_rq"]).update(created_date=timezone.now())


def upload_offset(world: World, key: str) -> int:
    return (world.data_dir / "uploads" / str(world.ids[key])).stat().st_size
