from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics

from access import scopes
from access.views import TeamScopedMixin

from . import selectors
from .models import Action
from .serializers import AuditEventSerializer

FILTERS = [
    OpenApiParameter("action", str, enum=Action.values, required=False),
    OpenApiParameter("key", OpenApiTypes.UUID, required=False),
    OpenApiParameter("integration", OpenApiTypes.UUID, required=False),
    OpenApiParameter("actor", OpenApiTypes.UUID, required=False),
    OpenApiParameter(
        "status",
        str,
        enum=list(selectors.STATUS_CLASSES),
        required=False,
        description=(
            "Events that carry the HTTP status of the request that made them: every `api_request`, "
            "the `key.*`, `login.*`, `refresh.reuse_detected`, `rate_limited`, e-mail and password "
            "events. Team, member and invitation changes carry none and never match; filter them by "
            "`action`."
        ),
    ),
    OpenApiParameter("since", OpenApiTypes.DATETIME, required=False),
    OpenApiParameter("until", OpenApiTypes.DATETIME, required=False),
]


class TeamAuditLogView(TeamScopedMixin, generics.ListAPIView):
    """The team's whole audit log, newest first (`admin`)."""

    scope = scopes.ADMIN
    serializer_class = AuditEventSerializer

    @extend_schema(parameters=FILTERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.apply_filters(selectors.events_of_team(self.request.access.team), self.request.query_params)
