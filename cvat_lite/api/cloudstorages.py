"""The cloud storages API (contract 4.1): ``/api/cloudstorages`` in CVAT 2.80's shapes.

Credentials are write-only: the read serializer has no credential field at all.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite import errors
from cvat_lite.api.pagination import PageNumberPagination
from cvat_lite.api.schema import error_responses
from cvat_lite.cloud.base import CredentialsType, ProviderType
from cvat_lite.engine import cloud_content
from cvat_lite.engine.models import (
    CREDENTIALS_TYPE_CHOICES,
    PROVIDER_TYPE_CHOICES,
    CloudStorage,
)
from cvat_lite.engine.selectors import get_visible, visible
from cvat_lite.engine.services import cloud_storages as services

MSG_BAD_FILTER = "Unknown value '{value}' for the '{name}' filter."

CREDENTIAL_FIELDS = ("key", "secret_key", "session_token", "account_name", "connection_string")


# --- serializers -------------------------------------------------------------------------------


class CloudStorageOwnerSerializer(serializers.Serializer):
    url = serializers.SerializerMethodField()
    id = serializers.IntegerField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()

    def get_url(self, user: User) -> str:
        return self.context["request"].build_absolute_uri(f"/api/users/{user.pk}")


class CloudStorageReadSerializer(serializers.ModelSerializer):
    owner = CloudStorageOwnerSerializer(read_only=True, allow_null=True)
    manifests = serializers.ListField(child=serializers.CharField())
    organization = serializers.SerializerMethodField()

    class Meta:
        model = CloudStorage
        fields = [
            "id",
            "owner",
            "manifests",
            "provider_type",
            "resource",
            "display_name",
            "created_date",
            "updated_date",
            "credentials_type",
            "specific_attributes",
            "description",
            "organization",
        ]
        read_only_fields = fields

    def get_organization(self, obj) -> int | None:
        return None


class CloudStorageWriteSerializer(serializers.Serializer):
    provider_type = serializers.ChoiceField(choices=PROVIDER_TYPE_CHOICES)
    resource = serializers.CharField(max_length=222)
    display_name = serializers.CharField(max_length=63)
    credentials_type = serializers.ChoiceField(choices=CREDENTIALS_TYPE_CHOICES)
    session_token = serializers.CharField(
        max_length=440, allow_blank=True, required=False, write_only=True
    )
    account_name = serializers.CharField(
        max_length=24, allow_blank=True, required=False, write_only=True
    )
    key = serializers.CharField(max_length=40, allow_blank=True, required=False, write_only=True)
    secret_key = serializers.CharField(
        max_length=64, allow_blank=True, required=False, write_only=True
    )
    connection_string = serializers.CharField(
        max_length=1024, allow_blank=True, required=False, write_only=True
    )
    key_file = serializers.FileField(
        required=False, write_only=True, help_text="A GCS service-account key (JSON)."
    )
    specific_attributes = serializers.CharField(
        max_length=1024,
        allow_blank=True,
        required=False,
        help_text="'key=value&key=value' with keys region, endpoint_url, prefix, project, "
        "location.",
    )
    description = serializers.CharField(allow_blank=True, required=False)
    manifests = serializers.ListField(child=serializers.CharField(max_length=1024), required=False)

    def service_arguments(self) -> dict:
        """The validated data as keyword arguments of the create/update services."""
        data = dict(self.validated_data)
        given = {name: data.pop(name) for name in CREDENTIAL_FIELDS if name in data}
        upload = data.pop("key_file", None)
        if upload is not None:
            data["key_file"] = upload.read(services.MAX_KEY_FILE_SIZE + 1)
        if given:
            data["credentials"] = given
        return data


class CloudStorageContentQuerySerializer(serializers.Serializer):
    prefix = serializers.CharField(required=False, allow_blank=True, default="")
    next_token = serializers.CharField(required=False, allow_blank=True, default="")
    page_size = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=cloud_content.MAX_PAGE_SIZE,
        default=cloud_content.MAX_PAGE_SIZE,
    )
    manifest_path = serializers.CharField(required=False, allow_blank=True, default="")


class FileInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["REG", "DIR"])
    mime_type = serializers.CharField()


class CloudStorageContentSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    content = FileInfoSerializer(many=True)


# --- views -------------------------------------------------------------------------------------

_ENUM_FILTERS = {
    "provider_type": [member.value for member in ProviderType],
    "credentials_type": [member.value for member in CredentialsType],
}


def _filtered(queryset: QuerySet[CloudStorage], params) -> QuerySet[CloudStorage]:
    for name, allowed in _ENUM_FILTERS.items():
        if value := params.get(name):
            if value not in allowed:
                raise errors.BadRequest(MSG_BAD_FILTER.format(value=value, name=name))
            queryset = queryset.filter(**{name: value})
    if value := params.get("resource"):
        queryset = queryset.filter(resource=value)
    if value := params.get("display_name") or params.get("name"):
        queryset = queryset.filter(display_name=value)
    if value := params.get("owner"):
        queryset = queryset.filter(owner__username=value)
    if value := params.get("search"):
        queryset = queryset.filter(
            Q(display_name__icontains=value)
            | Q(resource__icontains=value)
            | Q(description__icontains=value)
        )
    return queryset


_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _read(storage: CloudStorage, request) -> dict:
    return CloudStorageReadSerializer(storage, context={"request": request}).data


class CloudStorageListView(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="cloudstorages_list",
        parameters=[
            OpenApiParameter(
                "provider_type", OpenApiTypes.STR, enum=[member.value for member in ProviderType]
            ),
            OpenApiParameter(
                "credentials_type",
                OpenApiTypes.STR,
                enum=[member.value for member in CredentialsType],
            ),
            OpenApiParameter("resource", OpenApiTypes.STR),
            OpenApiParameter("display_name", OpenApiTypes.STR),
            OpenApiParameter("name", OpenApiTypes.STR, description="Same as display_name."),
            OpenApiParameter("owner", OpenApiTypes.STR, description="The owner's username."),
            OpenApiParameter("search", OpenApiTypes.STR),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={
            200: CloudStorageReadSerializer(many=True),
            **error_responses(400, 401, 404),  # 404: a page past the last
        },
    )
    def get(self, request):
        queryset = _filtered(
            visible(CloudStorage.objects.all(), request.user), request.query_params
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset.select_related("owner"), request, view=self)
        data = CloudStorageReadSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="cloudstorages_create",
        request={
            "application/json": CloudStorageWriteSerializer,
            "multipart/form-data": CloudStorageWriteSerializer,
        },
        responses={201: CloudStorageReadSerializer, **error_responses(400, 401)},
    )
    def post(self, request):
        serializer = CloudStorageWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        storage = services.cloud_storage_create(
            owner=request.user, **serializer.service_arguments()
        )
        return Response(_read(storage, request), status=201)


class CloudStorageDetailView(APIView):
    @extend_schema(
        operation_id="cloudstorages_retrieve",
        parameters=[_ID],
        responses={200: CloudStorageReadSerializer, **error_responses(401, 404)},
    )
    def get(self, request, pk: str):
        storage = get_visible(CloudStorage.objects.select_related("owner"), request.user, pk)
        return Response(_read(storage, request))

    @extend_schema(
        operation_id="cloudstorages_partial_update",
        parameters=[_ID],
        request={
            "application/json": CloudStorageWriteSerializer(partial=True),
            "multipart/form-data": CloudStorageWriteSerializer(partial=True),
        },
        responses={200: CloudStorageReadSerializer, **error_responses(400, 401, 404)},
    )
    def patch(self, request, pk: str):
        storage = get_visible(CloudStorage.objects.select_related("owner"), request.user, pk)
        serializer = CloudStorageWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        storage = services.cloud_storage_update(storage=storage, **serializer.service_arguments())
        return Response(_read(storage, request))

    @extend_schema(
        operation_id="cloudstorages_destroy",
        parameters=[_ID],
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request, pk: str):
        storage = get_visible(CloudStorage.objects.all(), request.user, pk)
        services.cloud_storage_delete(storage=storage)
        return Response(status=204)


class CloudStorageStatusView(APIView):
    @extend_schema(
        operation_id="cloudstorages_retrieve_status",
        parameters=[_ID],
        description="AVAILABLE, NOT_FOUND (also when the endpoint cannot be reached) or FORBIDDEN.",
        responses={200: OpenApiTypes.STR, **error_responses(400, 401, 404)},
    )
    def get(self, request, pk: str):
        storage = get_visible(CloudStorage.objects.all(), request.user, pk)
        return Response(str(cloud_content.cloud_storage_status(storage=storage)))


class CloudStorageContentView(APIView):
    @extend_schema(
        operation_id="cloudstorages_retrieve_content_v2",
        parameters=[_ID, CloudStorageContentQuerySerializer],
        responses={
            200: CloudStorageContentSerializer,
            **error_responses(400, 401, 404, 409),
        },
    )
    def get(self, request, pk: str):
        storage = get_visible(CloudStorage.objects.all(), request.user, pk)
        query = CloudStorageContentQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = cloud_content.cloud_storage_content(
            storage=storage,
            prefix=query.validated_data["prefix"],
            next_token=query.validated_data["next_token"] or None,
            page_size=query.validated_data["page_size"],
            manifest_path=query.validated_data["manifest_path"] or None,
        )
        return Response(CloudStorageContentSerializer(page).data)


urlpatterns = [
    re_path(r"^cloudstorages/?$", CloudStorageListView.as_view()),
    re_path(r"^cloudstorages/(?P<pk>\d+)/?$", CloudStorageDetailView.as_view()),
    re_path(r"^cloudstorages/(?P<pk>\d+)/status/?$", CloudStorageStatusView.as_view()),
    re_path(r"^cloudstorages/(?P<pk>\d+)/content-v2/?$", CloudStorageContentView.as_view()),
]
