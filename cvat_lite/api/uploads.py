"""CVAT's upload protocol for one endpoint (contract 7.4), as the SDK 2.80 speaks it.

An endpoint that "accepts an uploaded file" gets three forms on one URL:

1. multipart: the file in one field (``task_file``) → the handler gets it at once;
2. TUS: ``POST ?filename=X`` + ``Upload-Start`` → 202; ``POST`` + ``Tus-Resumable``,
   ``Upload-Length``, ``Upload-Metadata: filename <b64>`` → 201 with an absolute ``Location``
   (``<endpoint>/<upload id>``) and ``Upload-Filename``; ``PATCH``/``HEAD <Location>``
   (``UploadChunkView``); ``POST ?filename=<Upload-Filename>`` + ``Upload-Finish`` → the
   handler gets the file;
3. ``?location=cloud_storage&cloud_storage_id=N&filename=KEY`` → the handler gets a
   ``CloudFile`` (the worker downloads it).

Usage::

    TASK_BACKUP = UploadEndpoint(name="task_backup", file_field="task_file")

    class TaskBackupImportView(APIView):
        parser_classes = UPLOAD_PARSERS

        @upload_schema(TASK_BACKUP, operation_id="tasks_create_backup", tags=["tasks"],
                       summary="Import a task backup")
        def post(self, request):
            return handle_upload_request(request, TASK_BACKUP, on_file=lambda source: ...)

    urlpatterns = upload_urlpatterns(r"tasks/backup", TaskBackupImportView, TASK_BACKUP)

A received file (``LocalFile``, or ``StoredParts`` on an object store) handed to ``on_file``
belongs to the handler once it returns (the import job deletes it); if ``on_file`` raises, it is
deleted here.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import URLPattern, re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite import errors
from cvat_lite.api.parsers import FormParser, JSONParser, MultiPartParser
from cvat_lite.api.schema import RqIdSerializer, error_responses
from cvat_lite.api.serializers.storage import LOCATIONS
from cvat_lite.engine.choices import Location
from cvat_lite.uploads import selectors, services
from cvat_lite.uploads.sources import LocalFile, ReceivedFile, UploadSource

TUS_VERSION = "1.0.0"
TUS_CONTENT_TYPE = "application/offset+octet-stream"
# Room for the multipart envelope (boundaries, part headers, small fields) around the file.
MULTIPART_OVERHEAD = 1024 * 1024
UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

MSG_NO_FILE = (
    "No file: send it as the multipart field '{field}', upload it with TUS, "
    "or give location=cloud_storage with cloud_storage_id and filename."
)
MSG_FILENAME_REQUIRED = "The 'filename' query parameter is required."
MSG_CLOUD_STORAGE_ID_REQUIRED = "location=cloud_storage requires 'cloud_storage_id'."
MSG_BAD_HEADER = "The {header} header must be a non-negative integer."
MSG_HEADER_REQUIRED = "The {header} header is required."
MSG_METADATA = "Upload-Metadata must be comma-separated 'key base64value' pairs (UTF-8)."
MSG_METADATA_FILENAME = "Upload-Metadata must include a non-empty 'filename'."

_NON_NEGATIVE = re.compile(r"[0-9]{1,19}")

UPLOAD_PARSERS = [MultiPartParser, FormParser, JSONParser]
OnFile = Callable[[UploadSource], Response]


@dataclass(frozen=True)
class UploadEndpoint:
    name: str  # uploads are bound to it: one started on "task_backup" finishes there
    file_field: str  # the multipart field


class UploadQuerySerializer(serializers.Serializer):
    location = serializers.ChoiceField(choices=LOCATIONS, required=False)
    cloud_storage_id = serializers.IntegerField(required=False)
    filename = serializers.CharField(required=False, trim_whitespace=False, max_length=4096)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("location") == Location.CLOUD_STORAGE:
            if attrs.get("cloud_storage_id") is None:
                raise serializers.ValidationError(
                    {"cloud_storage_id": [MSG_CLOUD_STORAGE_ID_REQUIRED]}
                )
            if not attrs.get("filename"):
                raise serializers.ValidationError({"filename": [MSG_FILENAME_REQUIRED]})
        return attrs


# --- the endpoint ------------------------------------------------------------------------------


def handle_upload_request(request, endpoint: UploadEndpoint, *, on_file: OnFile) -> Response:
    """Answer one POST of the endpoint: Upload-Start (202), TUS create (201), or — for
    Upload-Finish, multipart and ``location=cloud_storage`` — whatever ``on_file`` answers."""
    query_serializer = UploadQuerySerializer(data=request.query_params)
    query_serializer.is_valid(raise_exception=True)
    query = query_serializer.validated_data
    headers = request.headers
    if query.get("location") == Location.CLOUD_STORAGE:
        source = selectors.cloud_file_get(
            user=request.user, cloud_storage_id=query["cloud_storage_id"], key=query["filename"]
        )
        return on_file(source)
    if "Upload-Start" in headers:  # CVAT keeps no state for it
        return Response(status=202)
    if "Upload-Finish" in headers:
        if not query.get("filename"):
            raise errors.BadRequest(MSG_FILENAME_REQUIRED, code="filename_required")
        local = services.upload_finish(
            owner=request.user, endpoint=endpoint.name, filename=query["filename"]
        )
        return _deliver(local, on_file)
    if "Tus-Resumable" in headers or "Upload-Length" in headers:
        return _tus_create(request, endpoint)
    return _deliver(_multipart_file(request, endpoint), on_file)


def _deliver(local: ReceivedFile, on_file: OnFile) -> Response:
    try:
        return on_file(local)
    except BaseException:
        local.discard()
        raise


def _tus_create(request, endpoint: UploadEndpoint) -> Response:
    length = _header_int(request, "Upload-Length")
    metadata = _metadata(request.headers.get("Upload-Metadata", ""))
    if not metadata.get("filename"):
        raise errors.BadRequest(MSG_METADATA_FILENAME, code="invalid_upload_metadata")
    upload = services.upload_create(
        owner=request.user,
        endpoint=endpoint.name,
        length=length,
        original_name=metadata["filename"],
    )
    location = request.build_absolute_uri(f"{request.path.rstrip('/')}/{upload.pk}")
    return Response(
        status=201,
        headers={
            "Location": location,
            "Upload-Filename": upload.filename,
            "Tus-Resumable": TUS_VERSION,
        },
    )


def _multipart_file(request, endpoint: UploadEndpoint) -> LocalFile:
    # Refuse an oversized body before Django spools it to a temporary file.
    declared = _content_length(request)
    if declared > settings.MAX_UPLOAD_SIZE + MULTIPART_OVERHEAD:
        services.upload_size_check(size=declared)
    file = request.FILES.get(endpoint.file_field)
    if file is None:
        raise errors.BadRequest(
            MSG_NO_FILE.format(field=endpoint.file_field),
            code="file_required",
            extra={"field": endpoint.file_field},
        )
    return services.upload_save(file=file)


def _header_int(request, header: str) -> int:
    value = request.headers.get(header)
    if value is None:
        raise errors.BadRequest(MSG_HEADER_REQUIRED.format(header=header), code="header_required")
    if not _NON_NEGATIVE.fullmatch(value.strip()):
        raise errors.BadRequest(MSG_BAD_HEADER.format(header=header), code="invalid_header")
    return int(value)


def _content_length(request) -> int:
    value = request.META.get("CONTENT_LENGTH") or "0"
    if not _NON_NEGATIVE.fullmatch(value.strip()):
        raise errors.BadRequest(
            MSG_BAD_HEADER.format(header="Content-Length"), code="invalid_header"
        )
    return int(value)


def _metadata(header: str) -> dict[str, str]:
    """TUS ``Upload-Metadata``: ``key b64, key b64, key`` → a dict of decoded values."""
    result: dict[str, str] = {}
    for pair in header.split(","):
        if not pair.strip():
            continue
        key, _, value = pair.strip().partition(" ")
        try:
            result[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise errors.BadRequest(MSG_METADATA, code="invalid_upload_metadata") from None
    return result


# --- the upload object (TUS PATCH / HEAD) ------------------------------------------------------


class UploadChunkView(APIView):
    """``<endpoint>/<upload id>``: TUS PATCH (append a chunk) and HEAD (the offset). Only the
    upload's owner sees it (else 404). Bodies are read as a stream, never parsed."""

    endpoint_name = ""  # set by upload_urlpatterns
    parser_classes: list = []

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = TUS_VERSION
        return response

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, errors.UploadOffsetConflict):
            response["Upload-Offset"] = str(exc.offset)
        return response

    @extend_schema(
        summary="Append a chunk to a TUS upload",
        description=(
            "TUS 1.0 PATCH. HEAD on the same URL answers 200 with Upload-Offset and "
            "Upload-Length. 409 (with the real Upload-Offset header) when Upload-Offset is not "
            "the upload's offset; 413 past Upload-Length; 507 when the data disk has no room."
        ),
        parameters=[
            OpenApiParameter("upload_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
            OpenApiParameter(
                "Upload-Offset", OpenApiTypes.INT, OpenApiParameter.HEADER, required=True
            ),
            OpenApiParameter("Tus-Resumable", OpenApiTypes.STR, OpenApiParameter.HEADER),
            OpenApiParameter(
                "Upload-Offset",
                OpenApiTypes.INT,
                OpenApiParameter.HEADER,
                response=[204, 409],
                description="The upload's offset after the chunk (409: the real offset)",
            ),
        ],
        request={TUS_CONTENT_TYPE: OpenApiTypes.BINARY},
        responses={
            204: OpenApiResponse(description="The chunk was appended"),
            **error_responses(400, 401, 404, 409, 413, 415, 507),
        },
    )
    def patch(self, request, upload_id: str, **kwargs):
        upload = selectors.upload_get(
            owner=request.user, endpoint=self.endpoint_name, upload_id=upload_id
        )
        if request.content_type.split(";")[0].strip() != TUS_CONTENT_TYPE:
            raise drf.UnsupportedMediaType(request.content_type)
        offset = services.upload_append(
            upload=upload,
            offset=_header_int(request, "Upload-Offset"),
            stream=request.stream,
            content_length=_content_length(request),
        )
        return Response(status=204, headers={"Upload-Offset": str(offset)})

    def head(self, request, upload_id: str, **kwargs):
        upload = selectors.upload_get(
            owner=request.user, endpoint=self.endpoint_name, upload_id=upload_id
        )
        return Response(
            status=200,
            headers={
                "Upload-Offset": str(selectors.upload_offset(upload=upload)),
                "Upload-Length": str(upload.length),
                "Cache-Control": "no-store",
            },
        )


def upload_urlpatterns(
    prefix: str, view: type[APIView], endpoint: UploadEndpoint
) -> list[URLPattern]:
    """``^<prefix>/?$`` → ``view`` (its POST calls ``handle_upload_request``; URL name
    ``endpoint.name``) and ``^<prefix>/<uuid>/?$`` → ``UploadChunkView`` (``<name>-chunk``).
    ``prefix`` is a regex without anchors or end slashes, relative to where the list is
    included (``r"tasks/backup"``)."""
    return [
        re_path(rf"^{prefix}/?$", view.as_view(), name=endpoint.name),
        re_path(
            rf"^{prefix}/(?P<upload_id>{UUID_PATTERN})/?$",
            UploadChunkView.as_view(endpoint_name=endpoint.name),
            name=f"{endpoint.name}-chunk",
        ),
    ]


# --- schema ------------------------------------------------------------------------------------

_QUERY_PARAMETERS = [
    OpenApiParameter(
        "filename",
        OpenApiTypes.STR,
        description=(
            "Upload-Start: the file's name (informative). Upload-Finish: the Upload-Filename "
            "returned by the TUS create. location=cloud_storage: the object key."
        ),
    ),
    OpenApiParameter(
        "location",
        OpenApiTypes.STR,
        enum=list(LOCATIONS),
        description="cloud_storage: read the file from a cloud storage (no body).",
    ),
    OpenApiParameter(
        "cloud_storage_id", OpenApiTypes.INT, description="With location=cloud_storage."
    ),
]
_HEADER_PARAMETERS = [
    OpenApiParameter(
        "Upload-Start",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="Present (any value, even empty): begin a TUS upload → 202, no body.",
    ),
    OpenApiParameter(
        "Upload-Finish",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="Present: the TUS upload named by ?filename= is complete → 202 {rq_id}.",
    ),
    OpenApiParameter(
        "Tus-Resumable",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="1.0.0: create a TUS upload → 201.",
    ),
    OpenApiParameter(
        "Upload-Length", OpenApiTypes.INT, OpenApiParameter.HEADER, description="TUS create."
    ),
    OpenApiParameter(
        "Upload-Metadata",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="TUS create: 'filename <base64 of the name>'.",
    ),
    OpenApiParameter(
        "Location",
        OpenApiTypes.URI,
        OpenApiParameter.HEADER,
        response=[201],
        description="The upload's absolute URL, for PATCH and HEAD.",
    ),
    OpenApiParameter(
        "Upload-Filename",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[201],
        description="The server's name of the upload, to send back in ?filename= to finish.",
    ),
]


def upload_schema(
    endpoint: UploadEndpoint,
    *,
    operation_id: str,
    tags: list[str],
    summary: str,
    description: str = "",
) -> Callable:
    """``@extend_schema`` for a POST answered by ``handle_upload_request`` (202 ``{rq_id}``)."""
    component = "".join(part.title() for part in endpoint.file_field.split("_")) + "Upload"
    return extend_schema(
        operation_id=operation_id,
        tags=tags,
        summary=summary,
        description=(
            f"{description}\n\nThe file comes as the multipart field '{endpoint.file_field}', "
            "with CVAT's TUS flow (Upload-Start → 202; TUS create → 201; PATCH chunks to "
            "Location; Upload-Finish with ?filename=<Upload-Filename> → 202), or from a cloud "
            "storage (?location=cloud_storage&cloud_storage_id=&filename=). A TUS create is "
            "413 past the per-user bounds on unfinished uploads, 507 past the server's."
        ).strip(),
        parameters=[*_QUERY_PARAMETERS, *_HEADER_PARAMETERS],
        request={
            "multipart/form-data": inline_serializer(
                component, fields={endpoint.file_field: serializers.FileField()}
            )
        },
        responses={
            202: OpenApiResponse(
                RqIdSerializer,
                description="The import is queued ({rq_id}); Upload-Start answers 202 with no body",
            ),
            201: OpenApiResponse(description="TUS upload created (Location, Upload-Filename)"),
            **error_responses(400, 401, 404, 409, 413, 507),
        },
    )
