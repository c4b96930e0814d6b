"""The backup policies API: ``/api/backup/policies`` (owner or administrator).

A policy says what to back up, in which mode, where, when (cron in a time zone) and how many
archives to keep (restic's keep-last/daily/weekly/monthly). ``POST .../{id}/run`` queues a run
now (a request in the requests API); ``.../runs`` and ``.../archives`` list what it did.
"""

from __future__ import annotations

from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite.api.pagination import PageNumberPagination
from cvat_lite.api.schema import error_responses
from cvat_lite.policies import schedule, selectors, services
from cvat_lite.policies.models import (
    LOCATION_CHOICES,
    BackupPolicy,
    Mode,
    PolicyArchive,
    PolicyRun,
    RunStatus,
    Scope,
    Trigger,
)

# --- serializers -------------------------------------------------------------------------------


class PolicyRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = PolicyRun
        fields = [
            "id", "request_id", "trigger", "status", "created_date", "started_date",
            "finished_date", "written", "unchanged", "failed", "pruned", "error", "report",
        ]  # fmt: skip
        read_only_fields = fields


class PolicyArchiveSerializer(serializers.ModelSerializer):
    run_id = serializers.IntegerField(allow_null=True)
    object_id = serializers.IntegerField()

    class Meta:
        model = PolicyArchive
        fields = [
            "id", "run_id", "kind", "object_id", "mode", "name", "location",
            "cloud_storage_id", "key", "bytes", "sha256", "fingerprint", "created_date",
            "verified",
        ]  # fmt: skip
        read_only_fields = fields


class PolicyOwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class PolicyReadSerializer(serializers.ModelSerializer):
    owner = PolicyOwnerSerializer(read_only=True)
    project_id = serializers.IntegerField(allow_null=True)
    task_id = serializers.IntegerField(allow_null=True)
    target_owner_id = serializers.IntegerField(allow_null=True)
    cloud_storage_id = serializers.IntegerField(allow_null=True)
    next_run = serializers.SerializerMethodField()
    last_run = serializers.SerializerMethodField()
    last_status = serializers.SerializerMethodField()
    last_error = serializers.SerializerMethodField()

    class Meta:
        model = BackupPolicy
        fields = [
            "id", "name", "owner", "scope", "project_id", "task_id", "target_owner_id",
            "mode", "location", "cloud_storage_id", "prefix", "cron", "timezone",
            "keep_last", "keep_daily", "keep_weekly", "keep_monthly", "verify_after_write",
            "enabled", "created_date", "updated_date", "next_run", "last_run", "last_status",
            "last_error",
        ]  # fmt: skip
        read_only_fields = fields

    def _last(self, obj: BackupPolicy) -> PolicyRun | None:
        cache = self.context.setdefault("_last_runs", {})
        if obj.id not in cache:
            cache[obj.id] = selectors.policy_last_run(obj)
        return cache[obj.id]

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_next_run(self, obj: BackupPolicy) -> str | None:
        """When the scheduler will fire the policy (from RQ's scheduled registry)."""
        when = schedule.scheduled_at(obj.id) if obj.enabled else None
        return when.isoformat() if when else None

    @extend_schema_field(PolicyRunSerializer(allow_null=True))
    def get_last_run(self, obj: BackupPolicy) -> dict | None:
        last = self._last(obj)
        return PolicyRunSerializer(last).data if last else None

    @extend_schema_field(
        serializers.ChoiceField(choices=[RunStatus.SUCCEEDED, RunStatus.FAILED], allow_null=True)
    )
    def get_last_status(self, obj: BackupPolicy) -> str | None:
        last = self._last(obj)
        return last.status if last else None

    def get_last_error(self, obj: BackupPolicy) -> str:
        last = self._last(obj)
        return last.error if last else ""


class PolicyWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=256)
    scope = serializers.ChoiceField(choices=Scope.choices)
    project_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    task_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    target_owner_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="The user of scope=owner."
    )
    mode = serializers.ChoiceField(choices=Mode.choices, required=False, default=Mode.FULL)
    location = serializers.ChoiceField(
        choices=LOCATION_CHOICES,
        help_text="cloud_storage: <prefix>/ in the storage; local: DATA_DIR/backups/<prefix>/.",
    )
    cloud_storage_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    prefix = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")
    cron = serializers.CharField(
        max_length=128, help_text="Five cron fields (minute hour day month weekday) or @daily…"
    )
    timezone = serializers.CharField(
        max_length=64, required=False, default="UTC", help_text="An IANA time zone name."
    )
    keep_last = serializers.IntegerField(required=False, default=0, min_value=0)
    keep_daily = serializers.IntegerField(required=False, default=0, min_value=0)
    keep_weekly = serializers.IntegerField(required=False, default=0, min_value=0)
    keep_monthly = serializers.IntegerField(required=False, default=0, min_value=0)
    verify_after_write = serializers.BooleanField(required=False, default=False)
    enabled = serializers.BooleanField(required=False, default=True)


# --- views -------------------------------------------------------------------------------------

_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
_PAGING = [
    OpenApiParameter("page", OpenApiTypes.INT),
    OpenApiParameter("page_size", OpenApiTypes.INT),
]


def _read(policy: BackupPolicy, request) -> dict:
    return PolicyReadSerializer(policy, context={"request": request}).data


def _values(request, *, partial: bool) -> dict:
    serializer = PolicyWriteSerializer(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class PolicyListView(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="backup_policies_list",
        parameters=_PAGING,
        responses={200: PolicyReadSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.policies_visible(request.user), request, view=self
        )
        data = PolicyReadSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="backup_policies_create",
        request=PolicyWriteSerializer,
        responses={201: PolicyReadSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request):
        policy = services.policy_build(user=request.user, values=_values(request, partial=False))
        services.policy_save(policy=policy)
        return Response(_read(policy, request), status=201)


class PolicyDetailView(APIView):
    @extend_schema(
        operation_id="backup_policies_retrieve",
        parameters=[_ID],
        responses={200: PolicyReadSerializer, **error_responses(401, 404)},
    )
    def get(self, request, pk: str):
        policy = selectors.policy_get(user=request.user, policy_id=pk)
        return Response(_read(policy, request))

    @extend_schema(
        operation_id="backup_policies_partial_update",
        parameters=[_ID],
        request=PolicyWriteSerializer(partial=True),
        responses={200: PolicyReadSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, pk: str):
        policy = selectors.policy_get(user=request.user, policy_id=pk)
        policy = services.policy_build(
            user=request.user, values=_values(request, partial=True), policy=policy
        )
        services.policy_save(policy=policy)
        return Response(_read(policy, request))

    @extend_schema(
        operation_id="backup_policies_destroy",
        parameters=[_ID],
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request, pk: str):
        policy = selectors.policy_get(user=request.user, policy_id=pk)
        services.policy_delete(policy=policy)
        return Response(status=204)


class PolicyRunNowView(APIView):
    @extend_schema(
        operation_id="backup_policies_create_run",
        parameters=[_ID],
        request=None,
        responses={202: PolicyRunSerializer, **error_responses(401, 404, 409, 503)},
    )
    def post(self, request, pk: str):
        policy = selectors.policy_get(user=request.user, policy_id=pk)
        run = services.policy_run_submit(policy=policy, trigger=Trigger.MANUAL)
        return Response(PolicyRunSerializer(run).data, status=202)


class PolicyRunsView(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="backup_policies_list_runs",
        parameters=[_ID, *_PAGING],
        responses={200: PolicyRunSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request, pk: str):
        policy = selectors.policy_get(user=request.user, policy_id=pk)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(policy.runs.order_by("-id"), request, view=self)
        return paginator.get_paginated_response(PolicyRunSerializer(page, many=True).data)


class PolicyArchivesView(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="backup_policies_list_archives",
        parameters=[_ID, *_PAGING],
        responses={200: PolicyArchiveSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request, pk: str):
        policy = selectors.policy_get(user=request.user, policy_id=pk)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(policy.archives.all(), request, view=self)
        return paginator.get_paginated_response(PolicyArchiveSerializer(page, many=True).data)


_P = r"^backup/policies/(?P<pk>\d+)"
urlpatterns = [
    re_path(r"^backup/policies/?$", PolicyListView.as_view()),
    re_path(_P + r"/run/?$", PolicyRunNowView.as_view()),
    re_path(_P + r"/runs/?$", PolicyRunsView.as_view()),
    re_path(_P + r"/archives/?$", PolicyArchivesView.as_view()),
    re_path(_P + r"/?$", PolicyDetailView.as_view()),
]
