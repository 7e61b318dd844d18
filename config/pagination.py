"""Cursor pagination for every list: stable while rows arrive, no COUNT(*), bounded page size."""

from django.conf import settings
from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Newest first, `?page_size=` up to API_MAX_PAGE_SIZE, `next`/`previous` opaque cursor links.

    Ordering includes the primary key so that rows sharing a timestamp keep a total order.
    """

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
