"""The live audit stream's endpoints: a stream token (for EventSource, which cannot send headers)
and the Server-Sent Events stream itself (livestream/sse.py)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from access import scopes
from access.context import TEAM_HEADER, parse_team_header
from access.views import TeamScopedMixin
from audit import selectors
from audit.views import FILTERS
from infra import request_context
from infra.errors import BadRequest, Forbidden, Unauthorized
from infra.schema import ProblemSerializer

from . import holders, sse, tokens
from .authentication import QUERY_PARAM, StreamGrant, StreamTokenAuthentication
from .serializers import AuditStreamMessageSerializer, StreamTokenSerializer


class AuditStreamTokenView(TeamScopedMixin, APIView):
    """A stream token for this team's live audit stream (`admin`), for `EventSource`, which cannot
    send headers: `GET /api/v1/audit-log/stream?token=...`. It must open the stream within 60
    seconds; the same URL then reopens it (EventSource's reconnect) within 60 seconds of each
    disconnect, one connection at a time, while its holder may still watch, for 12 hours at most
    (livestream/tokens.py). Good for nothing else."""

    scope = scopes.ADMIN
    rate_limit = "audit_stream_token"

    def rate_limit_account_of(self, request) -> str:
        return f"team:{request.access.team.pk}"  # per team, whoever asks

    @extend_schema(request=None, responses={200: StreamTokenSerializer})
    def post(self, request):
        holder = holders.holder_of(request.access, secret_used=_key_secret())
        token, expires_in = tokens.issue(holder=holder)
        response = Response(StreamTokenSerializer({"token": token, "expires_in": expires_in}).data)
        response["Cache-Control"] = "no-store"
        return response


class EventStreamRenderer(JSONRenderer):
    """Lets `Accept: text/event-stream` (what EventSource sends) through content negotiation; the
    stream itself is written by livestream/sse.py, and refusals are still problem documents."""

    media_type = sse.CONTENT_TYPE
    format = "json"  # what it writes (refusals); and no `?format=` choice to offer


STREAM_PARAMETERS = [
    *[parameter for parameter in FILTERS if parameter.name in selectors.STREAM_FILTERS],
    OpenApiParameter(
        "token",
        str,
        required=False,
        description=(
            "A stream token (`POST /api/v1/audit-log/stream-token`), for clients that cannot send headers "
            "(EventSource). It names the team: X-Team-Id may be left out."
        ),
    ),
    OpenApiParameter(
        "last_event_id",
        OpenApiTypes.UUID,
        required=False,
        description="Resume after this event (as the Last-Event-ID header does).",
    ),
    OpenApiParameter(
        "Last-Event-ID",
        OpenApiTypes.UUID,
        location=OpenApiParameter.HEADER,
        required=False,
        description="Resume after this event: what was missed is replayed first (up to AUDIT_STREAM_REPLAY_SECONDS).",
    ),
]


class AuditStreamView(TeamScopedMixin, APIView):
    """The team's audit log as it happens (`admin`), as Server-Sent Events (livestream/sse.py): each
    event exactly as the listing shows it, `id:` its id; `: heartbeat` comments; a final
    `event: revoked` when the holder may no longer watch. With `Authorization` + `X-Team-Id` like
    every call, or with `?token=` (a stream token, which names its team)."""

    scope = scopes.ADMIN
    authentication_classes = [*api_settings.DEFAULT_AUTHENTICATION_CLASSES, StreamTokenAuthentication]
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    def perform_authentication(self, request):
        if QUERY_PARAM not in request.query_params or request.method not in ("GET", "HEAD"):
            # The header path, the team step as usual (and a method the stream does not take is
            # the same 405 as anywhere else).
            return super().perform_authentication(request)
        if request.headers.get("Authorization") or request.headers.get("X-Api-Key"):
            raise BadRequest("Send either `?token=` or an Authorization header, not both.", code="bad_request")
        grant = request.auth  # runs the authentication classes: only the stream token one claims this
        if not isinstance(grant, StreamGrant):
            raise Unauthorized("The stream token is invalid.", code="token_invalid")
        # The token names its team, as X-Team-Id does on every other call; one sent too must agree.
        if request.headers.get(TEAM_HEADER) and parse_team_header(request) != grant.holder.team_id:
            raise Forbidden(
                "This credential belongs to another team; send the X-Team-Id of its team.", code="key_team_mismatch"
            )
        request.access = request._request.access = grant.access

    @extend_schema(
        parameters=STREAM_PARAMETERS,
        responses={
            (200, sse.CONTENT_TYPE): OpenApiResponse(
                AuditStreamMessageSerializer,
                description=(
                    "`text/event-stream`: one message per event (`id:` its id, `data:` the event as in the "
                    "listing), `: heartbeat` comments, and a last `event: revoked` or `event: end`. The schema "
                    "is that of one message."
                ),
            ),
            (503, "application/problem+json"): OpenApiResponse(
                ProblemSerializer, description="Too many streams on this server, or the cache is unreachable."
            ),
        },
    )
    def get(self, request):
        event_filter = selectors.parse_filters(request.query_params, selectors.STREAM_FILTERS)
        after, gap = sse.starting_point(request)
        grant = request.auth
        holder = (
            grant.holder
            if isinstance(grant, StreamGrant)
            else holders.holder_of(request.access, secret_used=_key_secret())
        )
        return sse.response(
            request,
            team_id=request.access.team.pk,
            holder=holder,
            event_filter=event_filter,
            after=after,
            gap=gap,
            ticket=grant.ticket if isinstance(grant, StreamGrant) else None,
        )


def _key_secret() -> str:
    context = request_context.current()
    return context.key_secret if context is not None else "current"
