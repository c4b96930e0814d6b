"""Shared pieces of the OpenAPI description: the error body and response helpers."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable snake_case error code.")
    message = serializers.CharField(help_text="A fixed, human-readable message.")
    extra = serializers.DictField(help_text="Details (field errors, offending keys, ids).")


_DESCRIPTIONS = {
    400: "Bad input",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found, or not visible to the caller",
    409: "Conflict with the current state",
    410: "Removed endpoint",
    413: "Too large",
    415: "Unsupported media type",
    429: "Too many attempts: wait the seconds in Retry-After",
    507: "Not enough storage space on the server (upload space or disk)",
    503: "A backing service (Redis, the database) is unavailable",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """``@extend_schema(responses={200: X, **error_responses(400, 404)})``."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status])
        for status in statuses
    }


RqIdSerializer = inline_serializer("RqId", fields={"rq_id": serializers.CharField()})
