"""Restoring a backup, step 2: extract the media, then write the rows of a checked task.

Media of a full backup are extracted *before* the database transaction, into a staging folder
``<uuid>/`` in the request's scratch folder (``DATA_DIR/restore/`` outside a request; streamed;
the reader verifies each member's checksum as its last byte is read), so that the write
transaction stays short. Inside the transaction the staged
folder is moved to the task's media in the shared store (on the default store, one rename; on an
object store, uploaded file by file). ``Workspace`` removes the staging folder in any case and,
on failure, every task's media it placed: a failed restore leaves no file.
"""

from __future__ import annotations

import io
import json
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection
from django.db.models import TextField, Value

from cvat_lite import errors
from cvat_lite.backup.archive import ArchiveReader
from cvat_lite.backup.format import ANNOTATIONS_JSON, JobStream, LabelSpec, stream_annotations
from cvat_lite.backup.restore_plan import TaskPlan
from cvat_lite.cloud.evidence import CLOUD_OBJECTS, Evidence, read_records
from cvat_lite.engine.frames import local_media_prefix
from cvat_lite.engine.manifest_store import ManifestRecorder, media_prefix
from cvat_lite.engine.models import (
    Data,
    Job,
    JobAnnotations,
    Label,
    Project,
    StorageChoice,
    Task,
)
from cvat_lite.engine.services.annotations import schema
from cvat_lite.engine.services.data import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE
from cvat_lite.engine.services.images import images_create
from cvat_lite.engine.services.jobs import jobs_create_from_layout
from cvat_lite.engine.services.labels import labels_of
from cvat_lite.engine.services.tasks import task_create, task_files_dir
from cvat_lite.media.manifest import read_manifest
from cvat_lite.media.paths import safe_join
from cvat_lite.requests.scratch import current_scratch_dir
from cvat_lite.store import shared_store

if TYPE_CHECKING:
    from django.contrib.auth.models import User

STAGING_DIRNAME = "restore"
COPY_CHUNK = 1024 * 1024
ANNOTATION_BATCH = 500

MEDIA_WRITE_FAILED = "The backup's media could not be written to the server's disk."
ANNOTATIONS_INVALID = "{what}: job {index}: {problem}"

Progress = Callable[[float], None]


class Workspace:
    """The staging folder of one restore, and the task media folders placed from it."""

    def __init__(self) -> None:
        parent = current_scratch_dir() or Path(settings.DATA_DIR) / STAGING_DIRNAME
        self.root = parent / uuid.uuid4().hex
        self.placed: list[tuple[Path, str]] = []

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            for folder, prefix in self.placed:
                shutil.rmtree(folder, ignore_errors=True)
                if not shared_store().is_local:
                    shared_store().delete_prefix(prefix)
        shutil.rmtree(self.root, ignore_errors=True)  # its parent stays: others may use it

    def folder(self, index: int) -> Path:
        return self.root / str(index)

    def place(self, task_id: int, staged: Path) -> None:
        """Move ``staged`` into place as the media folder of ``task_id`` (its files folder,
        left over by nothing but a crash, is replaced)."""
        task_dir, prefix = task_files_dir(task_id), f"tasks/{task_id}/"
        shutil.rmtree(task_dir, ignore_errors=True)
        self.placed.append((task_dir, prefix))
        try:
            shared_store().put_tree(local_media_prefix(task_id), staged)
        except OSError:
            raise errors.CvatLiteError(MEDIA_WRITE_FAILED) from None


# --- media -------------------------------------------------------------------------------------


def stage_media(
    reader: ArchiveReader, plan: TaskPlan, folder: Path, progress: Callable[[int], None]
) -> None:
    """Extract the task's media into ``folder``, streaming; ``progress(n)`` gets the bytes
    written so far. Checksum and CRC problems are ``ArchiveError``s from the reader."""
    written = 0
    folder.mkdir(parents=True, exist_ok=True)
    for path in plan.media:
        target = safe_join(folder, path)
        with reader.open(plan.member(path)) as source:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as out:
                    while chunk := source.read(COPY_CHUNK):
                        out.write(chunk)
                        written += len(chunk)
                        progress(written)
            except OSError:
                raise errors.CvatLiteError(MEDIA_WRITE_FAILED) from None


# --- rows --------------------------------------------------------------------------------------


def label_items(labels: list[LabelSpec]) -> list[dict[str, Any]]:
    """``labels`` in the write shape of ``labels_create``."""
    return [
        {
            "name": label.name,
            "color": label.color,
            "type": label.type,
            "svg": label.svg,
            "attributes": [
                {
                    "name": attribute.name,
                    "mutable": attribute.mutable,
                    "input_type": attribute.input_type,
                    "default_value": attribute.default_value,
                    "values": list(attribute.values),
                }
                for attribute in label.attributes
            ],
            "sublabels": label_items(label.sublabels),
        }
        for label in labels
    ]


def write_task(
    reader: ArchiveReader,
    plan: TaskPlan,
    *,
    owner: User,
    project: Project | None,
    staged: Path | None,
    workspace: Workspace,
    progress: Progress,
) -> Task:
    """Create the task of ``plan`` with its labels (none in a project), data, images, jobs and
    annotations. Call inside a transaction."""
    spec = plan.spec
    task = task_create(
        owner=owner,
        name=spec.name,
        project_id=project.id if project is not None else None,
        labels=label_items(spec.labels) if project is None else (),
        segment_size=plan.segment_size,
        overlap=plan.overlap,
        subset=spec.subset,
        bug_tracker=spec.bug_tracker,
        status=spec.status,
    )
    task.data = _create_data(reader, plan, lambda f: progress(0.7 * f))
    task.validation_layout = spec.data.validation_layout
    task.consensus_replicas = spec.consensus_replicas
    task.save(update_fields=["data", "validation_layout", "consensus_replicas", "updated_date"])
    jobs = jobs_create_from_layout(task=task, layout=plan.jobs)
    progress(0.8)
    _write_annotations(reader, task, jobs, plan)
    if staged is not None:
        workspace.place(task.id, staged)
    progress(1.0)
    return task


def _create_data(reader: ArchiveReader, plan: TaskPlan, progress: Progress) -> Data:
    spec = plan.spec.data
    origin = plan.spec.origin
    data = Data.objects.create(
        storage=StorageChoice.CLOUD_STORAGE if plan.lightweight else StorageChoice.LOCAL,
        cloud_storage=None,
        size=spec.frame_count,
        chunk_size=min(spec.chunk_size or DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE),
        image_quality=spec.image_quality,
        start_frame=spec.start_frame,
        stop_frame=spec.stop,
        frame_filter=spec.frame_filter,
        sorting_method=spec.sorting_method,
        deleted_frames=sorted(set(spec.deleted_frames)),
        cloud_prefix=plan.key_prefix.rstrip("/"),
        cloud_origin=(
            {"provider_type": origin.provider_type, "resource": origin.resource}
            if plan.lightweight and origin is not None
            else None
        ),
    )
    prefix = plan.key_prefix
    evidence = _cloud_objects(reader, plan) if plan.lightweight else {}
    recorder = ManifestRecorder()  # the backup manifest a later export copies
    recorder.prefix = media_prefix(data)

    def rows():
        for entry in read_manifest(stream, allow_duplicates=True):
            row = (
                prefix + entry.path,
                entry.width,
                entry.height,
                entry.checksum or "",
                [prefix + path for path in entry.related_images],
            )
            recorder.add(*row)
            yield row

    try:
        with reader.open(plan.manifest) as stream:
            images_create(
                data=data,
                rows=rows(),
                progress=lambda done: progress(done / plan.image_count),
                evidence=evidence,
            )
        recorder.save(data, evidence=bool(evidence))
    except BaseException:
        recorder.discard()
        raise
    return data


def _cloud_objects(reader: ArchiveReader, plan: TaskPlan) -> dict[str, Evidence]:
    """The object evidence of a lightweight backup written here (``cloud_objects.jsonl``, by
    object key); none in CVAT's archives."""
    member = plan.prefix + CLOUD_OBJECTS
    if not reader.has(member):
        return {}
    with reader.open(member) as stream:
        return {
            plan.key_prefix + key: evidence for key, evidence in read_records(stream, member=member)
        }


# --- annotations -------------------------------------------------------------------------------


@dataclass
class _LabelRef:
    id: int
    attributes: dict[str, int]
    sublabels: dict[str, _LabelRef] = field(default_factory=dict)


def _label_ref(label: Label, *, nested: bool = True) -> _LabelRef:
    return _LabelRef(
        id=label.id,
        attributes={attribute.name: attribute.id for attribute in label.attributes.all()},
        sublabels={sub.name: _label_ref(sub, nested=False) for sub in label.sublabels.all()}
        if nested
        else {},
    )


def _label_refs(task: Task) -> dict[str, _LabelRef]:
    labels = labels_of(task=task).prefetch_related("attributes", "sublabels__attributes")
    return {label.name: _label_ref(label) for label in labels}


def _attributes(values: list[dict[str, Any]], label: _LabelRef) -> list[dict[str, Any]]:
    return [
        {"spec_id": label.attributes[value["name"]], "value": value["value"]} for value in values
    ]


def _with_ids(obj: Mapping[str, Any], scope: Mapping[str, _LabelRef]) -> dict[str, Any]:
    """A backup object (labels and attributes by name) in the API's shape (by id). The format
    parser has checked that every name is defined."""
    label = scope[obj["label"]]
    result = {key: value for key, value in obj.items() if key != "label"}
    result["label_id"] = label.id
    result["attributes"] = _attributes(obj["attributes"], label)
    if "shapes" in obj:
        result["shapes"] = [
            {**shape, "attributes": _attributes(shape["attributes"], label)}
            for shape in obj["shapes"]
        ]
    if "elements" in obj:
        result["elements"] = [_with_ids(element, label.sublabels) for element in obj["elements"]]
    return result


def _write_annotations(reader: ArchiveReader, task: Task, jobs: list[Job], plan: TaskPlan) -> None:
    """The annotations of ``plan`` read again from the archive (``format.stream_annotations``:
    checked by the plan, read one object at a time) and written into the jobs' rows, each job's
    row as soon as its objects are read, as JSON text made here. A restore then holds the
    member's text and one job's documents, never the task's objects (contract 9,
    bench/import_memory.py); its transaction still makes the whole restore all or nothing."""
    if not any(job.objects or job.version for job in plan.annotations):
        return  # every row stays as jobs_create_from_layout made it
    labels = _label_refs(task)
    ids = schema.Ids(1)
    rows = dict(JobAnnotations.objects.filter(job__segment__task=task).values_list("job_id", "id"))
    what = plan.prefix + ANNOTATIONS_JSON
    stream = stream_annotations(reader, plan.prefix, spec=plan.spec, checked=True)
    last = max(index for index, job in enumerate(plan.annotations) if job.objects or job.version)
    written = []
    for index, (job, summary, read) in enumerate(zip(jobs, plan.annotations, stream, strict=True)):
        if summary.objects == 0 and summary.version == 0:
            continue  # the row as jobs_create_from_layout made it
        row = rows[job.id]
        documents = _documents(read, labels, ids, what, index)
        if index == last:
            stream.close()  # frees the member's text before the last (often the only) write
        _save_row(row, summary.version, documents)
        written.append(row)
        if index == last:
            break
    # The store hands out ids from the highest next_id of the task's rows.
    for start in range(0, len(written), ANNOTATION_BATCH):
        batch = written[start : start + ANNOTATION_BATCH]
        JobAnnotations.objects.filter(id__in=batch).update(next_id=ids.next)


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def _documents(
    read: JobStream, labels: Mapping[str, _LabelRef], ids: schema.Ids, what: str, index: int
) -> dict[str, bytes]:
    """One job's tags, shapes and tracks as the JSON text of its row: each object by label id,
    validated and normalised by the API's ``schema``, given its ids, encoded, then dropped."""
    buffers = {kind: io.BytesIO() for kind in schema.KINDS}
    counts = dict.fromkeys(schema.KINDS, 0)
    for kind, spec in read.objects:
        try:
            obj = schema.parse_object(kind, _with_ids(spec, labels), counts[kind])
        except errors.BadRequest as error:
            message = ANNOTATIONS_INVALID.format(what=what, index=index, problem=error.message)
            raise errors.ArchiveError(message) from None
        schema.assign_ids(obj, ids)
        buffer = buffers[kind]
        buffer.write(b"," if counts[kind] else b"[")
        buffer.write(_ENCODE(obj).encode())
        counts[kind] += 1
    for kind, buffer in buffers.items():
        buffer.write(b"]" if counts[kind] else b"[]")
    return {kind: buffer.getvalue() for kind, buffer in buffers.items()}


def _save_row(row: int, version: int, documents: dict[str, bytes]) -> None:
    """Write one row's documents (``_documents``, consumed) as they are: assigned to the JSON
    fields, they would be encoded again."""
    if connection.vendor == "postgresql":
        _save_row_postgresql(row, version, documents)
        return
    texts = {kind: Value(documents.pop(kind).decode(), TextField()) for kind in schema.KINDS}
    with _json_check_skipped():
        JobAnnotations.objects.filter(id=row).update(version=version, **texts)


def _as_is(value: bytes) -> bytes:
    return value


def _save_row_postgresql(row: int, version: int, documents: dict[str, bytes]) -> None:
    """The update with the documents' bytes bound as jsonb parameters on the server, on the
    connection (and in the transaction) of the ORM. Django binds on the client: it would
    quote each document into the statement's text, copying it three more times."""
    from psycopg import Cursor, sql
    from psycopg.types.json import Jsonb

    columns = (*schema.KINDS, "version")
    query = sql.SQL("UPDATE {table} SET {columns} WHERE id = %t").format(
        table=sql.Identifier(JobAnnotations._meta.db_table),
        columns=sql.SQL(", ").join(sql.SQL("{} = %t").format(sql.Identifier(c)) for c in columns),
    )
    params = [Jsonb(documents.pop(kind), dumps=_as_is) for kind in schema.KINDS]
    connection.ensure_connection()
    with Cursor(connection.connection) as cursor:
        cursor.execute(query, [*params, version, row])


@contextmanager
def _json_check_skipped() -> Iterator[None]:
    """On SQLite, Django's JSON columns have a ``JSON_VALID`` check, and SQLite parses a large
    document into a tree about seven times the text's size to run it (bench/import_memory.py).
    The text written here is the JSON encoder's output, valid as made, so the statement runs
    without check constraints (the row's other check, ``version >= 0``, holds: the format
    refuses a negative version). Other databases run as they are."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
        try:
            yield
        finally:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")
