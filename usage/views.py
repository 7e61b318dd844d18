"""The team's usage (`admin`); a key's and an integration's are served by their own apps' views
(apikeys.views.KeyUsageView, integrations.views.IntegrationUsageView) through the same selector."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from access import scopes
from access.views import TeamScopedMixin

from . import selectors
from .serializers import UsageSerializer

PARAMETERS = [
    OpenApiParameter(
        "granularity", str, enum=list(selectors.GRANULARITIES), required=False, description="Default: hour."
    ),
    OpenApiParameter(
        "periods",
        int,
        required=False,
        description=(
            "How many periods, ending with the current one: 1-168 hours (default 24) or 1-90 days (default 30)."
        ),
    ),
]


def usage_response(request, *, subject: str, subject_id) -> Response:
    granularity, periods = selectors.window(request.query_params)
    usage = selectors.usage_of(
        team=request.access.team, subject=subject, subject_id=subject_id, granularity=granularity, periods=periods
    )
    return Response(UsageSerializer(usage).data)


class TeamUsageView(TeamScopedMixin, APIView):
    """The team's requests per hour or day (every key's, integration's and deleted key's), by
    status class and refusal, its busiest routes and its last use (`admin`)."""

    scope = scopes.ADMIN

    @extend_schema(parameters=PARAMETERS, responses=UsageSerializer)
    def get(self, request):
        return usage_response(request, subject="team", subject_id=request.access.team.pk)
