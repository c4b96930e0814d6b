"""The requests API (contract 6): background operations of the caller."""

from __future__ import annotations

from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite import errors
from cvat_lite.api.pagination import PageNumberPagination
from cvat_lite.api.schema import error_responses
from cvat_lite.requests import selectors, services
from cvat_lite.requests.models import Request, RequestStatus

MSG_BAD_FILTER = "Unknown value '{value}' for the '{name}' filter."


class RequestOwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class RequestOperationSerializer(serializers.Serializer):
    type = serializers.CharField(
        help_text="export:backup | import:backup | create:task | update:data_meta (a task "
        "relink run in the background) | update:cloud_storage (a project relink)"
    )
    target = serializers.CharField(help_text="task | project | policy (a backup policy's run)")
    project_id = serializers.IntegerField(allow_null=True)
    task_id = serializers.IntegerField(allow_null=True)
    job_id = serializers.IntegerField(allow_null=True)
    format = serializers.CharField(allow_null=True)
    lightweight = serializers.BooleanField(allow_null=True)

    def to_representation(self, instance: Request) -> dict:
        return {
            "type": f"{instance.action}:{instance.subresource or instance.target}",
            "target": instance.target,
            "project_id": instance.project_id,
            "task_id": instance.task_id,
            "job_id": None,
            "format": instance.format or None,
            "lightweight": instance.lightweight,
        }


class RequestSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    message = serializers.CharField(allow_blank=True)
    progress = serializers.FloatField(allow_null=True, min_value=0, max_value=1)
    operation = RequestOperationSerializer(source="*", read_only=True)
    created_date = serializers.DateTimeField()
    started_date = serializers.DateTimeField(allow_null=True)
    finished_date = serializers.DateTimeField(allow_null=True)
    expiry_date = serializers.DateTimeField(allow_null=True)
    owner = RequestOwnerSerializer()
    result_url = serializers.SerializerMethodField()
    result_id = serializers.IntegerField(allow_null=True)
    result = serializers.JSONField(
        allow_null=True,
        help_text="cvat_lite: a finished relink's answer (its verification report; a "
        "project's relinked, failed, verifications); a failed request's error "
        "{code, message, extra}; else null.",
    )

    def get_result_url(self, obj: Request) -> str | None:
        if obj.status != RequestStatus.FINISHED or not obj.result_file:
            return None
        request = self.context["request"]
        path = f"/api/{obj.target}s/{obj.target_id}/{obj.subresource}/download?rq_id={obj.id}"
        return request.build_absolute_uri(path)


_FILTERS = {
    "status": [s.value for s in RequestStatus],
    "action": ["create", "export", "import", "update"],
    "target": ["task", "project", "policy"],
    "subresource": ["backup", "data", "task"],
}


class RequestListView(APIView):
    pagination_class = PageNumberPagination  # the schema shows the paginated list

    @extend_schema(
        operation_id="requests_list",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=_FILTERS["status"]),
            OpenApiParameter("action", OpenApiTypes.STR, enum=_FILTERS["action"]),
            OpenApiParameter("target", OpenApiTypes.STR, enum=_FILTERS["target"]),
            OpenApiParameter("subresource", OpenApiTypes.STR),
            OpenApiParameter("task_id", OpenApiTypes.INT),
            OpenApiParameter("project_id", OpenApiTypes.INT),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={
            200: RequestSerializer(many=True),
            **error_responses(400, 401, 404),  # 404: a page past the last
        },
    )
    def get(self, request):
        qs = selectors.requests_visible(request.user)
        params = request.query_params
        for name in ("status", "action", "target"):
            value = params.get(name)
            if value and value not in _FILTERS[name]:
                raise errors.BadRequest(MSG_BAD_FILTER.format(value=value, name=name))
        for name in ("action", "target", "subresource"):
            if params.get(name):
                qs = qs.filter(**{name: params[name]})
        for name in ("task_id", "project_id"):
            if params.get(name):
                try:
                    qs = qs.filter(**{name: int(params[name])})
                except ValueError:
                    raise errors.BadRequest(
                        MSG_BAD_FILTER.format(value=params[name], name=name)
                    ) from None
        # The status filter and the items go by the status shown (contract 6), from one read
        # of the active requests' jobs: of every candidate when filtering by status (a request
        # whose worker died is listed as failed), else of the page's.
        lost: set[str] | None = None
        if params.get("status"):
            lost = selectors.requests_worker_lost(qs)
            qs = selectors.requests_with_status(qs, params["status"], lost=lost)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        if lost is None:
            lost = selectors.requests_worker_lost(page)
        shown = [selectors.request_effective(item, lost=item.id in lost) for item in page]
        data = RequestSerializer(shown, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)


class RequestDetailView(APIView):
    @extend_schema(
        operation_id="requests_retrieve",
        responses={200: RequestSerializer, **error_responses(401, 404)},
    )
    def get(self, request, rq_id: str):
        # A request whose worker died reads as failed (contract 6); the scheduled housekeeping
        # records it (backup/housekeeping.py). A GET writes nothing.
        obj = selectors.request_effective(selectors.request_get(user=request.user, rq_id=rq_id))
        return Response(RequestSerializer(obj, context={"request": request}).data)


class RequestCancelView(APIView):
    @extend_schema(
        operation_id="requests_create_cancel",
        request=None,
        responses={200: None, **error_responses(400, 401, 404)},
    )
    def post(self, request, rq_id: str):
        obj = selectors.request_get(user=request.user, rq_id=rq_id)
        services.request_cancel(request=obj)
        return Response(status=200)


urlpatterns = [
    re_path(r"^requests/?$", RequestListView.as_view()),
    re_path(r"^requests/(?P<rq_id>[^/]+)/cancel/?$", RequestCancelView.as_view()),
    re_path(r"^requests/(?P<rq_id>[^/]+)/?$", RequestDetailView.as_view()),
]
