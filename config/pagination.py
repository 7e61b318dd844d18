"""Cursor pagination for every list: stable while rows arrive, no COUNT(*), bounded page size."""

from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import pagination
from rest_framework.exceptions import NotFound


class CursorPagination(pagination.CursorPagination):
    """Newest first, `?page_size=` up to API_MAX_PAGE_SIZE, `next`/`previous` opaque cursor links.

    Ordering includes the primary key so that rows sharing a timestamp keep a total order.
    """

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except ValidationError as exc:
            # A hand-made cursor whose position is not a valid timestamp.
            raise NotFound(self.invalid_cursor_message) from exc
