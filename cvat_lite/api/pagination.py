from __future__ import annotations

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """CVAT's paging: ``page`` and ``page_size`` (at most 500), ``{count, next, previous,
    results}``."""

    page_size_query_param = "page_size"
    max_page_size = 500
