"""Task and job data (contract 5.1, 5.3): creating a task's data, reading its media and metadata.

- ``POST /api/tasks/{id}/data`` → 202 ``{rq_id}`` (a ``create:task`` request). JSON or
  multipart; CVAT's upload protocol as the SDK speaks it: ``Upload-Start`` (202), batches of
  ``client_files[i]`` with ``Upload-Multiple`` (200), then ``Upload-Finish`` with the data
  parameters (202 ``{rq_id}``). Files over the SDK's 100 MiB batch limit (sent with TUS) are
  not accepted.
- ``GET /api/tasks/{id}/data?type=frame|chunk|context_image&number=N&quality=...``,
  ``GET /api/tasks/{id}/preview``, ``GET|PATCH /api/tasks/{id}/data/meta`` and the job
  equivalents (``/api/jobs/{id}/data`` takes ``index`` for job-relative chunks).

Media responses are bytes with their own Content-Type whatever ``Accept`` says; errors are JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite import errors
from cvat_lite.api.parsers import FormParser, JSONParser, MultiPartParser
from cvat_lite.api.schema import RqIdSerializer, error_responses
from cvat_lite.api.serializers.relink import (
    MSG_WITHOUT_STORAGE,
    RELINK_FIELDS,
    RelinkOptionsSerializer,
    RelinkQueuedSerializer,
    VerificationSerializer,
    relink_queued_body,
)
from cvat_lite.api.upload_handlers import task_data_upload_handlers
from cvat_lite.engine import frames
from cvat_lite.engine.choices import StorageChoice, StorageMethod, choices_of, values_of
from cvat_lite.engine.models import Job, SortingMethod, Task
from cvat_lite.engine.selectors import get_visible
from cvat_lite.engine.services import data as data_services
from cvat_lite.engine.services import relink as relink_services

MSG_STORAGE_FIELD = "'storage' cannot be set: it follows from the files given."
MSG_REMOTE_FILES = "remote_files are not supported."
MSG_JOB_FILE_MAPPING = "job_file_mapping is not supported."
MSG_VALIDATION_PARAMS = "validation_params are not supported (cvat_lite has no quality control)."
MSG_TUS = (
    "Resumable (TUS) uploads of task media are not supported: upload files smaller than 100 MiB."
)
MSG_NUMBER_REQUIRED = "The 'number' query parameter is required."
MSG_INDEX_OR_NUMBER = "Give the chunk as 'index' (within the job) or 'number' (task chunk)."

DATA_TYPES = ("chunk", "frame", "context_image")
QUALITIES = ("compressed", "original")
_LIST_FIELDS = frozenset({"server_files", "server_files_exclude", "upload_file_order"})
_INDEXED = re.compile(r"^(?P<name>[a-z_]+)\[(?P<index>\d*)\]$")


# --- serializers -------------------------------------------------------------------------------


def _paths(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, max_length=4096), **kwargs
    )


class DataRequestSerializer(serializers.Serializer):
    image_quality = serializers.IntegerField(min_value=1, max_value=100, default=70)
    chunk_size = serializers.IntegerField(
        min_value=1,
        max_value=data_services.MAX_CHUNK_SIZE,
        required=False,
        allow_null=True,
        help_text=f"Frames per chunk (default {data_services.DEFAULT_CHUNK_SIZE}).",
    )
    start_frame = serializers.IntegerField(min_value=0, default=0)
    stop_frame = serializers.IntegerField(
        min_value=0, required=False, allow_null=True, help_text="0 or null: the last frame."
    )
    frame_filter = serializers.CharField(
        allow_blank=True, default="", max_length=256, help_text="'step=N' or ''."
    )
    sorting_method = serializers.ChoiceField(
        choices=choices_of(SortingMethod), default=SortingMethod.LEXICOGRAPHICAL
    )
    filename_pattern = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False, max_length=1024
    )
    server_files = _paths(
        default=list,
        help_text=(
            "With cloud_storage_id: object keys, folders ending with '/', at most one "
            "manifest (*.jsonl). Without: paths under the share root."
        ),
    )
    server_files_exclude = _paths(default=list)
    cloud_storage_id = serializers.IntegerField(required=False, allow_null=True)
    use_cache = serializers.BooleanField(default=True, help_text="Always on (accepted).")
    copy_data = serializers.BooleanField(default=False)
    use_zip_chunks = serializers.BooleanField(default=True, help_text="Chunks are always ZIPs.")
    storage_method = serializers.ChoiceField(
        choices=values_of(StorageMethod), required=False, help_text="Accepted; always 'cache'."
    )
    upload_file_order = _paths(default=list)
    client_files = serializers.ListField(
        child=serializers.FileField(), required=False, help_text="Multipart uploads."
    )
    remote_files = serializers.ListField(child=serializers.CharField(), default=list)
    job_file_mapping = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()), default=list
    )
    validation_params = serializers.JSONField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "storage" in self.initial_data:
            raise serializers.ValidationError({"storage": [MSG_STORAGE_FIELD]})
        for name, message in (
            ("remote_files", MSG_REMOTE_FILES),
            ("job_file_mapping", MSG_JOB_FILE_MAPPING),
            ("validation_params", MSG_VALIDATION_PARAMS),
        ):
            if attrs.get(name):
                raise serializers.ValidationError({name: [message]})
        return attrs

    def options(self) -> data_services.DataOptions:
        v = self.validated_data
        return data_services.DataOptions(
            server_files=list(v["server_files"]),
            cloud_storage_id=v.get("cloud_storage_id"),
            image_quality=v["image_quality"],
            chunk_size=v.get("chunk_size"),
            start_frame=v["start_frame"],
            stop_frame=v.get("stop_frame") or None,
            frame_filter=v["frame_filter"],
            sorting_method=v["sorting_method"],
            filename_pattern=v.get("filename_pattern") or None,
            server_files_exclude=list(v["server_files_exclude"]),
            upload_file_order=list(v["upload_file_order"]),
            copy_data=v["copy_data"],
        )


class FrameMetaSerializer(serializers.Serializer):
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    name = serializers.CharField()
    related_files = serializers.IntegerField()
    has_related_context = serializers.BooleanField()


class DataMetaReadSerializer(serializers.Serializer):
    chunks_updated_date = serializers.DateTimeField()
    chunk_size = serializers.IntegerField(allow_null=True)
    size = serializers.IntegerField(help_text="The number of frames (after start/stop/step).")
    image_quality = serializers.IntegerField()
    start_frame = serializers.IntegerField()
    stop_frame = serializers.IntegerField()
    frame_filter = serializers.CharField(allow_blank=True)
    frames = FrameMetaSerializer(many=True, allow_null=True)
    deleted_frames = serializers.ListField(child=serializers.IntegerField())
    included_frames = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    storage = serializers.ChoiceField(choices=values_of(StorageChoice))
    cloud_storage_id = serializers.IntegerField(allow_null=True)


class DataMetaWriteSerializer(serializers.Serializer):
    deleted_frames = serializers.ListField(
        child=serializers.IntegerField(min_value=0), required=False
    )
    cloud_storage_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=(
            "Relink a cloud task to this cloud storage (verified against the task's media "
            "manifest); null unlinks it."
        ),
    )


class TaskDataMetaWriteSerializer(DataMetaWriteSerializer, RelinkOptionsSerializer):
    """A task's data/meta PATCH: deleted frames, and a relink with its options."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("cloud_storage_id") is None:
            for name in RELINK_FIELDS:
                if name in self.initial_data:
                    message = MSG_WITHOUT_STORAGE.format(field=name)
                    raise serializers.ValidationError({name: [message]})
        return attrs


class DataMetaRelinkSerializer(DataMetaReadSerializer):
    verification = VerificationSerializer(
        required=False,
        help_text="With cloud_storage_id: what was verified and how (also in a dry run).",
    )


class MetaQuerySerializer(serializers.Serializer):
    frames_offset = serializers.IntegerField(min_value=0, default=0)
    frames_limit = serializers.IntegerField(min_value=1, required=False)


class DataQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=DATA_TYPES)
    number = serializers.IntegerField(min_value=0, required=False)
    index = serializers.IntegerField(min_value=0, required=False)
    quality = serializers.ChoiceField(choices=QUALITIES, default="compressed")


# --- helpers -----------------------------------------------------------------------------------


class _AnyAccept(DefaultContentNegotiation):
    """Media and meta endpoints write their own bodies (the media's type, or JSON built row by
    row) whatever ``Accept`` says (CVAT's clients ask for ``application/vnd.cvat+json``);
    their errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _form(request) -> dict[str, Any]:
    """The request's fields as a plain dict: multipart's ``server_files[0]`` (or repeated
    ``server_files``) keys become lists, file fields are left out."""
    data = request.data
    if not hasattr(data, "getlist"):
        return data if isinstance(data, dict) else {}
    indexed: dict[str, list[tuple[int, str]]] = {}
    result: dict[str, Any] = {}
    for key in data:
        if key in request.FILES:
            continue
        match = _INDEXED.match(key)
        name = match.group("name") if match else key
        if name in _LIST_FIELDS:
            position = int(match.group("index") or 0) if match else 0
            indexed.setdefault(name, []).extend((position, v) for v in data.getlist(key))
        else:
            result[name] = data.get(key)
    for name, values in indexed.items():
        result[name] = [value for _, value in sorted(values, key=lambda item: item[0])]
    return result


def _client_files(request) -> list:
    keyed: list[tuple[int, Any]] = []
    for key in request.FILES:
        match = _INDEXED.match(key)
        name = match.group("name") if match else key
        if name == "client_files":
            position = int(match.group("index") or 0) if match else 0
            keyed.extend((position, f) for f in request.FILES.getlist(key))
    return [f for _, f in sorted(keyed, key=lambda item: item[0])]


class JsonStream(StreamingHttpResponse):
    """A JSON body sent in pieces as they are produced (data/meta of a 1,000,000-frame task is
    ~100 MB: it is never held whole). ``content`` (and ``text``) join the pieces, once, for
    in-process callers (Django's test client, the benchmark) that want the whole body."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        super().__init__(pieces, content_type="application/json")
        self._joined: bytes | None = None

    @property
    def content(self) -> bytes:  # type: ignore[override]
        if self._joined is None:
            self._joined = b"".join(self.streaming_content)  # type: ignore[arg-type]
        return self._joined

    @property
    def text(self) -> str:  # type: ignore[override]
        return self.content.decode(self.charset)


def _with_member(pieces: Iterator[bytes], name: str, value: Any) -> Iterator[bytes]:
    """``pieces`` of a JSON object with ``"name": value`` added as its last member."""
    held = next(pieces)
    for piece in pieces:
        yield held
        held = piece
    member = json.dumps(value, separators=(",", ":"))
    yield held[:-1] + f',"{name}":{member}}}'.encode()


def _meta_page(request) -> dict[str, Any]:
    serializer = MetaQuerySerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    page = serializer.validated_data
    return {"offset": page["frames_offset"], "limit": page.get("frames_limit")}


_META_PARAMETERS = [
    OpenApiParameter(
        "frames_offset",
        OpenApiTypes.INT,
        description=(
            "Paging of `frames` for large tasks (not in CVAT): the first frame listed, "
            "counted from 0 (default 0). Every other field is the same on every page."
        ),
    ),
    OpenApiParameter(
        "frames_limit",
        OpenApiTypes.INT,
        description="Paging of `frames`: at most this many frames (at least 1; default all).",
    ),
]


def _media_response(media: frames.Media) -> HttpResponse:
    response = HttpResponse(media.content, content_type=media.content_type)
    response["Cache-Control"] = "private, no-cache"
    return response


def _query(request) -> dict[str, Any]:
    serializer = DataQuerySerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _number(query: dict[str, Any]) -> int:
    if "number" not in query:
        raise errors.BadRequest(MSG_NUMBER_REQUIRED, code="number_required")
    return query["number"]


def _task(request, pk) -> Task:
    return get_visible(
        Task.objects.select_related("data__cloud_storage", "owner"), request.user, pk
    )


def _job(request, pk) -> Job:
    return get_visible(
        Job.objects.select_related("segment__task__data__cloud_storage"), request.user, pk
    )


_DATA_PARAMETERS = [
    OpenApiParameter("type", OpenApiTypes.STR, enum=DATA_TYPES, required=True),
    OpenApiParameter("number", OpenApiTypes.INT, description="Frame or chunk number."),
    OpenApiParameter("quality", OpenApiTypes.STR, enum=QUALITIES),
]
# What the media endpoints answer, by content type (not JSON).
_MEDIA = "A frame (an image); a chunk or a frame's context images (a ZIP)"
_BINARY = {
    (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description=_MEDIA),
    (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description=_MEDIA),
}
_PREVIEW = {
    (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="A JPEG thumbnail")
}


# --- task views --------------------------------------------------------------------------------


class TaskDataView(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    content_negotiation_class = _AnyAccept

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body: this endpoint's own file limit, no descriptor per file.
        request.upload_handlers = task_data_upload_handlers(request)
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        tags=["tasks"],
        operation_id="tasks_create_data",
        summary="Attach media to a task (a create:task background request)",
        description=(
            "JSON or multipart. Headers Upload-Start (→ 202), Upload-Multiple (client_files "
            "batch → 200) and Upload-Finish (the data parameters → 202 {rq_id}) follow CVAT."
        ),
        request={
            "application/json": DataRequestSerializer,
            "multipart/form-data": DataRequestSerializer,
        },
        responses={
            202: RqIdSerializer,
            200: OpenApiResponse(description="Upload-Multiple: the files were saved"),
            **error_responses(400, 401, 404, 409, 413),
        },
    )
    def post(self, request, pk):
        task = _task(request, pk)
        headers = request.headers
        if "Upload-Length" in headers or "Tus-Resumable" in headers:
            raise errors.BadRequest(MSG_TUS, code="tus_not_supported")
        if "Upload-Start" in headers:
            data_services.task_data_upload_start(task=task)
            return Response(status=202)
        if "Upload-Multiple" in headers:
            data_services.task_data_upload_files(task=task, files=_client_files(request))
            return Response(status=200)
        serializer = DataRequestSerializer(data=_form(request))
        serializer.is_valid(raise_exception=True)
        rq = data_services.task_data_submit(
            task=task,
            owner=request.user,
            options=serializer.options(),
            files=_client_files(request),
            uploaded="Upload-Finish" in headers,
        )
        return Response({"rq_id": rq.id}, status=202)

    @extend_schema(
        tags=["tasks"],
        operation_id="tasks_retrieve_data",
        summary="A frame, a chunk or a frame's context images",
        parameters=_DATA_PARAMETERS,
        responses={**_BINARY, **error_responses(400, 401, 404, 409)},
    )
    def get(self, request, pk):
        task = _task(request, pk)
        query = _query(request)
        number = _number(query)
        compressed = query["quality"] == "compressed"
        if query["type"] == "frame":
            return _media_response(frames.read_frame(task, number, compressed=compressed))
        if query["type"] == "context_image":
            return _media_response(frames.read_context_images(task, number))
        chunk = frames.chunk_frames(frames.task_data(task), number)
        media = frames.read_chunk(task, chunk, compressed=compressed, name=f"chunk:{number}")
        return _media_response(media)


class TaskPreviewView(APIView):
    content_negotiation_class = _AnyAccept

    @extend_schema(
        tags=["tasks"],
        operation_id="tasks_retrieve_preview",
        summary="A thumbnail of the task's first frame",
        responses={**_PREVIEW, **error_responses(401, 404, 409)},
    )
    def get(self, request, pk):
        task = _task(request, pk)
        return _media_response(frames.read_preview(task, 0, name="preview"))


RELINK_DESCRIPTION = """\
`deleted_frames` replaces the task's deleted frames.

`cloud_storage_id` relinks a task whose media are in a cloud storage (`storage` is
`cloud_storage`; others → 400 `not_a_cloud_task`) to that storage, or unlinks it with `null`.
The storage must exist and be visible to the caller (else 400 `cloud_storage_not_found` naming
the id) and be `AVAILABLE` (else 400 `cloud_storage_not_available` naming the status).

**Verification** (docs/relink.md): every object key of the task's media manifest (frames and
context images) must be in the storage — ONE paged listing of the keys' common folder, never a
request per object. Sizes and fingerprints recorded from earlier listings (MD5, CRC32C, ETag)
are compared where the listing has the same kind: a different size or CRC32C, or an MD5 that
`HEAD` confirms, is a mismatch; a multipart ETag or an SSE-KMS object is not. Objects known only
by CVAT's manifest `checksum` (the MD5 of the decoded pixels, never compared with an object's
MD5) are verified by content on a random sample: downloaded, decoded, compared
(`content_sample`: a number, 0, or "all"; default `CVAT_LITE_RELINK_CONTENT_SAMPLE`, 20).
Otherwise → 400 `relink_verification_failed` with `extra.missing` / `extra.mismatched` (the
first 100 keys, in frame order), `extra.missing_count` / `extra.mismatched_count` and
`extra.verification` (the report below). The keys are the same in every provider, so a task
can move between S3, Azure and GCS; `prefix` (the media's new folder, replacing the manifest's
folder or `prefix_from`) moves them to another folder, verified the same way (400
`invalid_prefix` when a key is not under `prefix_from`).

On success the answer has a `verification` report (what was listed, present, missing,
mismatched, compared by fingerprint, sampled by content) and the link is saved (with
`deleted_frames` when both are given; on any refusal nothing changes) together with the moved
keys and each object's size and fingerprints from the listing (so the next relink compares
fingerprints); cached chunks and previews are dropped, `chunks_updated_date` and the task's
`updated_date` move, and later lightweight backups name the new storage's provider and bucket.

`dry_run: true` answers 200 with the report — also when it failed — and saves nothing.

**Large tasks** (more images than the server's `CVAT_LITE_RELINK_SYNC_MAX_IMAGES`, 20000 by
default): what can be refused without listing the storage is still a 400 at once, then the
relink is queued and the answer is **202** with `rq_id` and `request_url`. Follow
`GET /api/requests/{rq_id}` (`operation.type` `update:data_meta`, `progress`) until `finished`
— its `result` holds `verification` (and `dry_run`) — or `failed` — its `result` is the error
body, e.g. `relink_verification_failed` with `extra.verification`. A dry run of a large task is
queued the same way and saves nothing. A second relink of the task while one is queued or
running is a 409 naming its `rq_id`.
Unlike CVAT, which links a storage lacking objects and answers 404 for their frames later, a
relink that cannot serve the task is refused.
"""


class TaskDataMetaView(APIView):
    content_negotiation_class = _AnyAccept

    @extend_schema(
        tags=["tasks"],
        operation_id="tasks_retrieve_data_meta",
        summary="The task's data: frames, sizes, storage",
        description=(
            "The body is streamed. `frames_offset` / `frames_limit` list one page of `frames`; "
            "without them every frame is listed, as CVAT does."
        ),
        parameters=_META_PARAMETERS,
        responses={200: DataMetaReadSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request, pk):
        task = _task(request, pk)
        return JsonStream(frames.task_meta_json(task, **_meta_page(request)))

    @extend_schema(
        tags=["tasks"],
        operation_id="tasks_partial_update_data_meta",
        summary="Change deleted frames, relink or unlink the task's cloud storage",
        description=RELINK_DESCRIPTION,
        request=TaskDataMetaWriteSerializer,
        responses={
            200: DataMetaRelinkSerializer,
            202: RelinkQueuedSerializer,
            **error_responses(400, 401, 404, 409),
        },
    )
    def patch(self, request, pk):
        task = _task(request, pk)
        serializer = TaskDataMetaWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = {
            name: value
            for name, value in serializer.validated_data.items()
            if name in ("deleted_frames", "cloud_storage_id")
        }
        options = serializer.relink_options()
        if changes.get("cloud_storage_id") is not None:
            images = relink_services.task_relink_size(task)
            if relink_services.relink_in_background(images):
                rq = relink_services.task_relink_submit(
                    task=task,
                    user=request.user,
                    cloud_storage_id=changes["cloud_storage_id"],
                    options=options,
                    deleted_frames=changes.get("deleted_frames", relink_services.UNSET),
                )
                queued = relink_queued_body(
                    request, rq.id, images, settings.RELINK_SYNC_MAX_IMAGES, options.dry_run
                )
                return Response(queued, status=202)
        plan = relink_services.data_meta_update(
            task=task,
            data=frames.task_data(task),
            user=request.user,
            relink=options,
            **changes,
        )
        body = frames.task_meta_json(task)
        if plan is not None and plan.verification is not None:
            body = _with_member(body, "verification", plan.verification.report())
        return JsonStream(body)


# --- job views ---------------------------------------------------------------------------------


class JobDataView(APIView):
    content_negotiation_class = _AnyAccept

    @extend_schema(
        tags=["jobs"],
        operation_id="jobs_retrieve_data",
        summary="A frame, a chunk or a frame's context images of a job",
        parameters=[
            *_DATA_PARAMETERS,
            OpenApiParameter("index", OpenApiTypes.INT, description="Chunk index in the job."),
        ],
        responses={**_BINARY, **error_responses(400, 401, 404, 409)},
    )
    def get(self, request, pk):
        job = _job(request, pk)
        task = job.segment.task
        query = _query(request)
        compressed = query["quality"] == "compressed"
        job_frames = frames.job_frames(job)
        if query["type"] == "chunk":
            data = frames.task_data(task)
            if "index" in query:
                size = data.chunk_size
                chunk = job_frames[query["index"] * size : (query["index"] + 1) * size]
                name = f"job:{job.id}:chunk:{query['index']}"
            elif "number" in query:
                members = set(frames.chunk_frames(data, query["number"]))
                chunk = [frame for frame in job_frames if frame in members]
                name = f"job:{job.id}:task-chunk:{query['number']}"
            else:
                raise errors.BadRequest(MSG_INDEX_OR_NUMBER, code="number_required")
            if not chunk:
                raise errors.BadRequest(
                    frames.MSG_CHUNK_OUT_OF_RANGE.format(
                        number=query.get("index", query.get("number")),
                        last=-(-len(job_frames) // data.chunk_size) - 1,
                    ),
                    code="chunk_out_of_range",
                )
            return _media_response(frames.read_chunk(task, chunk, compressed=compressed, name=name))
        number = _number(query)
        if number not in job_frames:
            raise errors.BadRequest(
                frames.MSG_FRAME_NOT_IN_JOB.format(number=number), code="frame_out_of_range"
            )
        if query["type"] == "frame":
            return _media_response(frames.read_frame(task, number, compressed=compressed))
        return _media_response(frames.read_context_images(task, number))


class JobPreviewView(APIView):
    content_negotiation_class = _AnyAccept

    @extend_schema(
        tags=["jobs"],
        operation_id="jobs_retrieve_preview",
        summary="A thumbnail of the job's first frame",
        responses={**_PREVIEW, **error_responses(401, 404, 409)},
    )
    def get(self, request, pk):
        job = _job(request, pk)
        first = frames.job_frames(job)[0]
        return _media_response(
            frames.read_preview(job.segment.task, first, name=f"job:{job.id}:preview")
        )


class JobDataMetaView(APIView):
    content_negotiation_class = _AnyAccept

    @extend_schema(
        tags=["jobs"],
        operation_id="jobs_retrieve_data_meta",
        summary="The job's data: its frames and their sizes",
        description="The body is streamed; `frames_offset` / `frames_limit` as for a task.",
        parameters=_META_PARAMETERS,
        responses={200: DataMetaReadSerializer, **error_responses(400, 401, 404)},
    )
    def get(self, request, pk):
        job = _job(request, pk)
        return JsonStream(frames.job_meta_json(job, **_meta_page(request)))

    @extend_schema(
        tags=["jobs"],
        operation_id="jobs_partial_update_data_meta",
        summary="Change the deleted frames of a job",
        request=DataMetaWriteSerializer,
        responses={200: DataMetaReadSerializer, **error_responses(400, 401, 404)},
    )
    def patch(self, request, pk):
        job = _job(request, pk)
        task = job.segment.task
        serializer = DataMetaWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        relink_services.data_meta_update(
            task=task,
            data=frames.task_data(task),
            user=request.user,
            scope=frames.job_frames(job),
            deleted_frames=serializer.validated_data.get("deleted_frames", relink_services.UNSET),
        )
        return JsonStream(frames.job_meta_json(job))


urlpatterns = [
    re_path(r"^tasks/(?P<pk>\d+)/data/meta/?$", TaskDataMetaView.as_view()),
    re_path(r"^tasks/(?P<pk>\d+)/data/?$", TaskDataView.as_view()),
    re_path(r"^tasks/(?P<pk>\d+)/preview/?$", TaskPreviewView.as_view()),
    re_path(r"^jobs/(?P<pk>\d+)/data/meta/?$", JobDataMetaView.as_view()),
    re_path(r"^jobs/(?P<pk>\d+)/data/?$", JobDataView.as_view()),
    re_path(r"^jobs/(?P<pk>\d+)/preview/?$", JobPreviewView.as_view()),
]
