"""The Content API (seed 003): the team's public, read-only data for pages and widgets, with the
publishable Content key in `?key=`.

- GET (and HEAD) only; every other method is a 405. OPTIONS answers CORS preflights.
- `Accept-Version: v1` selects the version (missing: the current one); answers carry
  `Content-Version`. An unknown version is a 400 listing the supported ones.
- CORS: only the integration's `allowed_origins` get `Access-Control-Allow-Origin`; never
  credentials.
- Cacheable: `Cache-Control: public, max-age=60` and an ETag; a matching `If-None-Match` is a 304.
- Its own rate limit per Content key and per IP; use is audited per minute (usage.py).
- Public fields only: active campaigns (id, name), offers of those campaigns... see the serializers
  below; never billing, members, keys or audit.
"""

from __future__ import annotations

import contextlib
import hashlib

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from infra import ratelimit, request_context
from infra.errors import BadRequest
from infra.pagination import CursorPagination
from tracking.models import Campaign, Offer

from . import usage
from .authentication import content_integration

VERSIONS = ("v1",)
CURRENT_VERSION = "v1"
MAX_AGE_SECONDS = 60
PREFLIGHT_MAX_AGE_SECONDS = 600
# Its limits (settings.RATE_LIMITS): per IP before the key is read, then per Content key.
RATE_LIMIT_SCOPES = ("content_api", "content_api_key")

KEY_PARAMETER = OpenApiParameter(
    "key", str, OpenApiParameter.QUERY, required=True, description="The integration's Content key (26 hex characters)."
)
VERSION_PARAMETER = OpenApiParameter(
    "Accept-Version", str, OpenApiParameter.HEADER, required=False, enum=list(VERSIONS)
)


def _limit(request, scope: str, account: str | None = None) -> None:
    """A 429 here is not one audit row per refusal (a scraper would write them as fast as it can
    send): refusals of a known key are counted with its use (usage.py)."""
    try:
        ratelimit.check(request, scope, account=account)
    except ratelimit.RateLimited:
        context = request_context.current()
        if context is not None:
            context.rate_limited = None
        raise


class PublicCampaignSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = ["id", "name"]


class PublicOfferSerializer(serializers.ModelSerializer):
    class Meta:
        model = Offer
        fields = ["id", "name", "url"]


class ContentView(APIView):
    """Base of every Content API view: the key, the version, CORS, caching, the rate limit and the
    usage count. No DRF authentication class runs: the only credential is `?key=`."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    http_method_names = ["get", "head", "options"]

    def get_authenticate_header(self, request):
        # No DRF authentication class, but a missing or wrong `?key=` is a 401 (and the schema says so).
        return 'ContentKey realm="content-api"'

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.integration = None
        method = request.method.lower()
        if method == "options" or method not in self.http_method_names or not hasattr(self, method):
            return  # a preflight, or a method this API does not have: 405 before any key check
        version = request.headers.get("Accept-Version", CURRENT_VERSION).strip()
        if version not in VERSIONS:
            raise BadRequest(
                f"Accept-Version {version[:20]!r} is not supported.",
                code="version_unsupported",
                supported=list(VERSIONS),
            )
        per_ip, per_key = RATE_LIMIT_SCOPES
        _limit(request, per_ip)
        self.integration = content_integration(request)
        _limit(request, per_key, account=str(self.integration.pk))

    def options(self, request, *args, **kwargs):
        """A CORS preflight: allowed when the Content key's integration lists the Origin."""
        response = Response(status=204)
        origin = request.headers.get("Origin")
        integration = None
        with contextlib.suppress(APIException):  # no valid key: no CORS headers
            integration = content_integration(request)
        if origin and integration is not None and origin in integration.allowed_origins:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Methods"] = "GET, HEAD"
            response["Access-Control-Allow-Headers"] = "Accept-Version, If-None-Match"
            response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
        response["Vary"] = "Origin"
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        integration = getattr(self, "integration", None)
        if request.method != "OPTIONS":
            response["Content-Version"] = CURRENT_VERSION
            response["Vary"] = "Origin, Accept-Version"
            origin = request.headers.get("Origin")
            if integration is not None and origin and origin in integration.allowed_origins:
                response["Access-Control-Allow-Origin"] = origin
                response["Access-Control-Expose-Headers"] = "Content-Version, ETag"
            if response.status_code == 200:
                response = self._cacheable(request, response)
            if integration is not None:
                usage.count(integration, response.status_code)
        return response

    @staticmethod
    def _cacheable(request, response):
        response.render()
        etag = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
        response["ETag"] = etag
        response["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
        wanted = [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]
        if etag in wanted or "*" in wanted:
            response.status_code = 304
            response.content = b""
            del response["Content-Type"]
        return response


class _ContentList(ContentView):
    pagination_class = CursorPagination
    serializer_class: type[serializers.Serializer]

    def get_queryset(self):
        raise NotImplementedError

    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(self.get_queryset(), request, view=self)
        return paginator.get_paginated_response(self.serializer_class(page, many=True).data)


@extend_schema(parameters=[KEY_PARAMETER, VERSION_PARAMETER], auth=[], tags=["Content API"])
class ContentCampaignList(_ContentList):
    """The team's active campaigns: id and name."""

    serializer_class = PublicCampaignSerializer

    def get_queryset(self):
        return Campaign.objects.for_team(self.integration.team).filter(status=Campaign.Status.ACTIVE)


@extend_schema(parameters=[KEY_PARAMETER, VERSION_PARAMETER], auth=[], tags=["Content API"])
class ContentOfferList(_ContentList):
    """Offers of the team's active campaigns: id, name and landing URL (never the payout)."""

    serializer_class = PublicOfferSerializer

    def get_queryset(self):
        active = Campaign.objects.for_team(self.integration.team).filter(status=Campaign.Status.ACTIVE)
        return Offer.objects.for_team(self.integration.team).filter(pk__in=active.values("offer_id"))


@extend_schema(
    parameters=[KEY_PARAMETER, VERSION_PARAMETER],
    auth=[],
    tags=["Content API"],
    responses={200: inline_serializer("PublicTeam", {"id": serializers.UUIDField(), "name": serializers.CharField()})},
)
class ContentTeamView(ContentView):
    """The team's public profile: id and name."""

    def get(self, request):
        team = self.integration.team
        return Response({"id": str(team.pk), "name": team.name})
