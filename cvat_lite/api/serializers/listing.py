"""Collections: list filters (exact filters, ``search``, CVAT's ``?sort=-id,name``; unknown
query parameters such as ``org`` or ``page`` are ignored) and the list/read view base."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.response import Response

from cvat_lite import errors
from cvat_lite.api.parsers import INT64_MAX, INT64_MIN
from cvat_lite.api.schema import error_responses
from cvat_lite.engine.selectors import get_visible, visible

FILTER_NOT_INTEGER = "The filter '{name}' must be an integer."
SORT_UNKNOWN = "Cannot sort by '{value}'. Sortable fields: {fields}."


@dataclass(frozen=True)
class ListSpec:
    """What a collection can be filtered and sorted by (query parameter → ORM lookup)."""

    integers: Mapping[str, str] = field(default_factory=dict)
    strings: Mapping[str, str] = field(default_factory=dict)
    search: Sequence[str] = ()
    sort: Mapping[str, str] = field(default_factory=dict)
    default_sort: Sequence[str] = ("-id",)

    def apply(self, queryset: QuerySet, params: Mapping[str, str]) -> QuerySet:
        for name, lookup in self.integers.items():
            value = params.get(name)
            if value is None or value == "":
                continue
            try:
                number = int(value)
            except ValueError:
                raise errors.BadRequest(FILTER_NOT_INTEGER.format(name=name)) from None
            if not INT64_MIN <= number <= INT64_MAX:  # no id is out there (SQLite: overflow)
                raise errors.BadRequest(FILTER_NOT_INTEGER.format(name=name))
            queryset = queryset.filter(**{lookup: number})
        for name, lookup in self.strings.items():
            value = params.get(name)
            if value:
                queryset = queryset.filter(**{lookup: value})
        term = params.get("search")
        if term and self.search:
            query = Q()
            for lookup in self.search:
                query |= Q(**{f"{lookup}__icontains": term})
            queryset = queryset.filter(query)
        return queryset.order_by(*self._ordering(params.get("sort")))

    def _ordering(self, value: str | None) -> list[str]:
        if not value:
            return list(self.default_sort)
        ordering = []
        for item in value.split(","):
            item = item.strip()
            descending = item.startswith("-")
            name = item.lstrip("-")
            if name not in self.sort:
                raise errors.BadRequest(
                    SORT_UNKNOWN.format(value=name, fields=", ".join(sorted(self.sort)))
                )
            ordering.append(("-" if descending else "") + self.sort[name])
        return [*ordering, "-id" if ordering[0].startswith("-") else "id"]

    def parameters(self) -> list[OpenApiParameter]:
        """The query parameters for the OpenAPI description."""
        params = [
            OpenApiParameter(name, int, description=f"Filter by {name}") for name in self.integers
        ]
        params += [
            OpenApiParameter(name, str, description=f"Filter by {name}") for name in self.strings
        ]
        if self.search:
            params.append(
                OpenApiParameter("search", str, description="Search in " + ", ".join(self.search))
            )
        params.append(
            OpenApiParameter(
                "sort",
                str,
                description="Comma-separated fields, '-' for descending: "
                + ", ".join(sorted(self.sort)),
            )
        )
        return params


class ResourceViewSet(viewsets.GenericViewSet):
    """``list`` and ``retrieve`` of one read model over what the caller may see.

    Subclasses set ``model``, ``serializer_class`` (the read model), ``list_spec`` and
    ``read_queryset`` (what the read model needs: joins, counts), and describe both actions
    with ``read_schemas``."""

    lookup_value_regex = r"\d+"
    model: type[Model]
    list_spec: ListSpec

    def get_queryset(self) -> QuerySet:
        return self.model._default_manager.none()

    def read_queryset(self) -> QuerySet:
        return self.model._default_manager.all()

    def target(self, pk: object) -> Any:
        """The object ``pk`` if the caller may see it, else 404."""
        return get_visible(self.model._default_manager.all(), self.request.user, pk)

    def validated(self, serializer_class: type, *, partial: bool = False) -> dict[str, Any]:
        """The request body checked by ``serializer_class`` (400 with field errors if not)."""
        serializer = serializer_class(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def read(self, obj: Model, status_code: int = 200) -> Response:
        obj = self.read_queryset().get(pk=obj.pk)
        return Response(self.get_serializer(obj).data, status=status_code)

    def narrow(self, queryset: QuerySet) -> QuerySet:
        """A hook for filters a ``ListSpec`` cannot express."""
        return queryset

    def list(self, request):
        queryset = self.narrow(visible(self.read_queryset(), request.user))
        queryset = self.list_spec.apply(queryset, request.GET)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return self.read(self.target(pk))


def read_schemas(
    read_serializer: type, spec: ListSpec, noun: str, parameters: Sequence[OpenApiParameter] = ()
) -> dict[str, Any]:
    """``@extend_schema_view(**read_schemas(...))`` for a ``ResourceViewSet``."""
    return {
        "list": extend_schema(
            summary=f"List {noun}s",
            parameters=[*parameters, *spec.parameters()],
            responses={
                200: read_serializer(many=True),
                **error_responses(400, 401, 404),  # 404: a page past the last
            },
        ),
        "retrieve": extend_schema(
            summary=f"Get a {noun}",
            responses={200: read_serializer, **error_responses(401, 404)},
        ),
    }
