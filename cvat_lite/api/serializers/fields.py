"""Small read-only fields shared by the read models."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def absolute_url(context: dict[str, Any], path: str) -> str:
    """``path`` as an absolute URL when the serializer has a request, else as is."""
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


@extend_schema_field(OpenApiTypes.URI)
class UrlField(serializers.Field):
    """An absolute URL built from a template: ``UrlField("/api/tasks/{obj.id}")``."""

    def __init__(self, template: str, **kwargs: Any):
        self.template = template
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        return absolute_url(self.context, self.template.format(obj=value))


class ConstantField(serializers.Field):
    """A key CVAT's clients expect that cvat_lite always answers the same way (e.g.
    ``organization: null``: no organizations here)."""

    def __init__(self, value: Any = None, **kwargs: Any):
        self.value = value
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return self.value


@extend_schema_field({"type": "integer", "nullable": True})
class NullIntegerField(ConstantField):
    pass


@extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
class NullDateTimeField(ConstantField):
    pass


@extend_schema_field({"type": "object", "nullable": True, "description": "Always null."})
class NullObjectField(ConstantField):
    pass
