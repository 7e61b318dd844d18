"""Cursor pagination for every list: stable while rows arrive, no COUNT(*), bounded page size."""

from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import pagination
from rest_framework.exceptions import NotFound

from infra.errors import BadRequest


class CursorPagination(pagination.CursorPagination):
    """Newest first, `?page_size=` (larger values are capped at API_MAX_PAGE_SIZE), `next`/`previous`
    opaque cursor links.

    Ordering includes the primary key so that rows sharing a timestamp keep a total order.
    """

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise BadRequest("page_size must be a positive integer.", code="invalid_page_size")
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1  # 0 and negatives are a 400 (get_page_size)
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        # A cursor that does not decode, or a hand-made one whose position is not a timestamp, is
        # the client's mistake: 400, not DRF's 404.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (NotFound, ValidationError) as exc:
            raise BadRequest(
                "The cursor is not valid; start again from the first page.", code="invalid_cursor"
            ) from exc
