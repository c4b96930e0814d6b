"""Server information (contract 3): ``GET /api/server/about`` (anyone) and ``/api/server/plugins``.

The SDK's ``Client`` reads ``about.version`` on connect and accepts servers whose version is
``~= 2.80.0`` (or 2.81): so the version is PEP 440 and in the 2.80 series.
"""

from __future__ import annotations

from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite.api.schema import error_responses

SERVER_NAME = "cvat_lite"
SERVER_VERSION = "2.80.0"
SERVER_DESCRIPTION = (
    "A compatible slice of CVAT's REST API for annotation tasks whose media live in cloud "
    "storages, with full and lightweight backups."
)
SERVER_SUBTITLE = "Cloud-storage tasks and lightweight backups"


class AboutSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128)
    description = serializers.CharField(max_length=2048)
    version = serializers.CharField(max_length=64)
    logo_url = serializers.CharField()
    subtitle = serializers.CharField(max_length=1024)


class PluginsSerializer(serializers.Serializer):
    analytics = serializers.BooleanField()
    models = serializers.BooleanField()


class AboutView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        tags=["server"],
        operation_id="server_retrieve_about",
        summary="Describe the server (anonymous access allowed)",
        responses={200: AboutSerializer},
    )
    def get(self, request: Request) -> Response:
        about = {
            "name": SERVER_NAME,
            "description": SERVER_DESCRIPTION,
            "version": SERVER_VERSION,
            "logo_url": "",  # cvat_lite has no logo to serve
            "subtitle": SERVER_SUBTITLE,
        }
        return Response(AboutSerializer(about).data)


class PluginsView(APIView):
    @extend_schema(
        tags=["server"],
        operation_id="server_retrieve_plugins",
        summary="List the optional server features (none are available)",
        responses={200: PluginsSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(PluginsSerializer({"analytics": False, "models": False}).data)


urlpatterns = [
    re_path(r"^server/about/?$", AboutView.as_view()),
    re_path(r"^server/plugins/?$", PluginsView.as_view()),
]
