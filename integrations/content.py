"""The Content API (seed 003): the team's public, read-only data for pages and widgets, with the
publishable Content key in `?key=`, following the conventions of Ghost's Content API.

- Resources: `campaigns` (the active ones) and `offers` (of active campaigns), each listed, read by
  id (`campaigns/{id}`) and by slug (`campaigns/slug/{slug}`); and `team`.
- Lists answer `{"campaigns": [...], "meta": {"pagination": {page, limit, pages, total, next,
  prev}}}`; reads answer `{"campaigns": [one]}`. Parameters as Ghost's: `limit` (default 15, at
  most 50; `all` is 50), `page`, `fields`, `include` (campaigns: `offer`), `filter` (NQL,
  nql.py) and `order`. A parameter it cannot apply is a 400 with its own code, never ignored.
- Every query starts from the integration's team (`for_team`), then narrows.
- GET (and HEAD) only; every other method is a 405. OPTIONS answers CORS preflights.
- `Accept-Version` like Ghost's (the oldest version the client works with): missing, or any
  `v{major}[.{minor}]` (Ghost's clients send `v5.0`), is answered by the current version, named in
  `Content-Version`; a value that is not a version is a 400 `version_unsupported`.
- CORS: only the integration's `allowed_origins` get `Access-Control-Allow-Origin`; never
  credentials.
- Cacheable: `Cache-Control: public, max-age=60` and an ETag; a matching `If-None-Match` is a 304.
- Its own rate limit per IP and per Content key; use is audited per minute (usage.py), the per-IP
  refusals included.
- Public fields only; never billing, payouts, members, keys or audit.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.cache import patch_vary_headers
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from infra import ratelimit, request_context, strict
from infra.errors import BadRequest
from tracking.models import Campaign, Offer

from . import nql, usage
from .authentication import content_integration

CURRENT_VERSION = "v1"
# Accept-Version: `v5`, `v5.0`, `v5.0.1` (Ghost's clients), or `canary` (older Ghost clients).
VERSION = re.compile(r"^(v[0-9]{1,4}(\.[0-9]{1,4}){0,2}|canary)$", re.IGNORECASE)
MAX_AGE_SECONDS = 60
PREFLIGHT_MAX_AGE_SECONDS = 600
# Its limits (settings.RATE_LIMITS): per IP before the key is read, then per Content key.
RATE_LIMIT_SCOPES = ("content_api", "content_api_key")
DEFAULT_LIMIT = 15
MAX_LIMIT = 50
MAX_PAGE = 999_999_999
ORDER_ITEM = re.compile(r"^([a-z_.]+)(?:\s+(asc|desc))?$", re.IGNORECASE)
# Parameters of the main API's cursor pagination: here a clear 400, not a silent first page.
CURSOR_PARAMETERS = ("cursor", "page_size")

KEY_PARAMETER = OpenApiParameter(
    "key", str, OpenApiParameter.QUERY, required=True, description="The integration's Content key (26 hex characters)."
)
VERSION_PARAMETER = OpenApiParameter(
    "Accept-Version",
    str,
    OpenApiParameter.HEADER,
    required=False,
    pattern=r"^([vV][0-9]{1,4}(\.[0-9]{1,4}){0,2}|[cC][aA][nN][aA][rR][yY])?$",  # empty: as if not sent
    description=(
        "The oldest version the client works with, as Ghost's clients send it (`v5.0`, `v1`). Every "
        f"version is answered by the current one ({CURRENT_VERSION}), named in `Content-Version`."
    ),
)


def _limit(request, scope: str, account: str | None = None) -> None:
    """A 429 here is not one audit row per refusal (a scraper would write them as fast as it can
    send): refusals are counted per minute (usage.py), with the key's use once the key is known."""
    try:
        ratelimit.check(request, scope, account=account)
    except ratelimit.RateLimited:
        context = request_context.current()
        if context is not None:
            context.rate_limited = None
        if account is None:
            usage.count_refused_per_ip(request)
        raise


# What each resource shows, and what its parameters may name.


def _offer(offer: Offer) -> dict:
    return {"id": str(offer.pk), "name": offer.name, "slug": offer.slug, "url": offer.url}


@dataclass(frozen=True)
class Resource:
    """A listed resource: its public fields (name -> value of a row), what `filter`, `order` and
    `include` may name, and the relations `include` adds (name -> (select_related path, value))."""

    key: str
    fields: dict[str, Callable]
    filters: dict[str, nql.Field]
    orders: dict[str, str]
    includes: dict[str, tuple[str, Callable]] = field(default_factory=dict)


CAMPAIGNS = Resource(
    key="campaigns",
    fields={"id": lambda row: str(row.pk), "name": lambda row: row.name, "slug": lambda row: row.slug},
    filters={
        "id": nql.Field("id", "uuid"),
        "name": nql.Field("name"),
        "slug": nql.Field("slug"),
        # Every campaign shown is active; the filter is accepted as Ghost's `status:published` is.
        "status": nql.Field("status", "choice", tuple(Campaign.Status.values)),
        "offer.id": nql.Field("offer_id", "uuid"),
        "offer.name": nql.Field("offer__name"),
        "offer.slug": nql.Field("offer__slug"),
    },
    orders={"id": "id", "name": "name", "slug": "slug"},
    includes={"offer": ("offer", lambda row: _offer(row.offer) if row.offer is not None else None)},
)
OFFERS = Resource(
    key="offers",
    fields={
        "id": lambda row: str(row.pk),
        "name": lambda row: row.name,
        "slug": lambda row: row.slug,
        "url": lambda row: row.url,
    },
    filters={
        "id": nql.Field("id", "uuid"),
        "name": nql.Field("name"),
        "slug": nql.Field("slug"),
        "url": nql.Field("url"),
    },
    orders={"id": "id", "name": "name", "slug": "slug", "url": "url"},
)


def _names(request, parameter: str, allowed, code: str) -> list[str]:
    """A comma-separated list parameter (`fields`, `include`); empty or absent: []."""
    names = [name.strip().lower() for name in request.query_params.get(parameter, "").split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise BadRequest(
            f"{parameter} names what this resource does not have: {', '.join(unknown)[:100]}.",
            code=code,
            allowed=list(allowed),
        )
    return list(dict.fromkeys(names))


def _representation(resource: Resource, request) -> tuple[Callable[[object], dict], list[str]]:
    """How a row is shown (`fields`, `include`), and the relations to select with it."""
    fields = _names(request, "fields", resource.fields, "invalid_fields") or list(resource.fields)
    includes = _names(request, "include", resource.includes, "invalid_include")

    def represent(row) -> dict:
        item = {name: resource.fields[name](row) for name in fields}
        for name in includes:
            item[name] = resource.includes[name][1](row)
        return item

    return represent, [resource.includes[name][0] for name in includes]


def _positive(request, parameter: str, *, default: int, code: str, cap: int | None = None) -> int:
    """`limit` (with `cap`: larger values and `all` are the cap) or `page` (at most MAX_PAGE)."""
    raw = request.query_params.get(parameter)
    if raw is None:
        return default
    if cap is not None and raw.lower() == "all":
        return cap
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        expected = "a positive integer" + (" or `all`" if cap is not None else "")
        raise BadRequest(f"{parameter} must be {expected}.", code=code)
    if cap is not None:
        return cap if len(digits) > len(str(cap)) else min(int(digits), cap)
    if len(digits) > len(str(MAX_PAGE)):
        raise BadRequest(f"{parameter} must be at most {MAX_PAGE}.", code=code)
    return int(digits)


def _ordering(resource: Resource, request) -> list[str]:
    raw = request.query_params.get("order", "").strip()
    if not raw:
        return ["-created_at", "-id"]  # newest first
    ordering: list[str] = []
    for item in raw.split(","):
        match = ORDER_ITEM.match(item.strip())
        name = match.group(1).lower() if match else None
        if name not in resource.orders:
            raise BadRequest(
                f"order takes `field asc|desc`, comma-separated; fields: {', '.join(resource.orders)}.",
                code="invalid_order",
                allowed=list(resource.orders),
            )
        descending = (match.group(2) or "asc").lower() == "desc"
        ordering.append(("-" if descending else "") + resource.orders[name])
    if not any(item.lstrip("-") == "id" for item in ordering):
        ordering.append("id")  # a total order, so pages neither repeat nor skip rows
    return ordering


def _filtered(resource: Resource, request, queryset):
    raw = request.query_params.get("filter")
    if raw is None:
        return queryset
    try:
        condition = nql.parse(raw, resource.filters)
    except nql.FilterError as refused:
        raise BadRequest(refused.message, code=refused.code, **refused.extra) from None
    return queryset.filter(condition)


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
        version = request.headers.get("Accept-Version", "").strip()
        if version and not VERSION.match(version):
            raise BadRequest(
                f"Accept-Version {version[:20]!r} is not a version; send e.g. v5.0 or {CURRENT_VERSION}, or nothing.",
                code="version_unsupported",
                supported=[CURRENT_VERSION],
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
        patch_vary_headers(response, ("Origin",))
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        integration = getattr(self, "integration", None)
        if request.method != "OPTIONS":
            response["Content-Version"] = CURRENT_VERSION
            # Added to what is already there (e.g. DRF's `Accept` with several renderers), never replacing it.
            patch_vary_headers(response, ("Origin", "Accept-Version"))
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


class _ResourceView(ContentView):
    resource: Resource

    def public_rows(self):
        """Every row of this resource the integration's team shows: the team first, always."""
        raise NotImplementedError


class _ListView(_ResourceView):
    def get(self, request):
        for name in CURSOR_PARAMETERS:
            if name in request.query_params:
                raise BadRequest(f"The Content API pages with `limit` and `page`, not `{name}`.", code="invalid_query")
        represent, related = _representation(self.resource, request)
        limit = _positive(request, "limit", default=DEFAULT_LIMIT, code="invalid_limit", cap=MAX_LIMIT)
        page = _positive(request, "page", default=1, code="invalid_page")
        ordering = _ordering(self.resource, request)
        rows = _filtered(self.resource, request, self.public_rows()).order_by(*ordering)
        total = rows.count()
        pages = max(1, math.ceil(total / limit))
        start = (page - 1) * limit
        shown = list(rows.select_related(*related)[start : start + limit]) if start < total else []
        pagination = {
            "page": page,
            "limit": limit,
            "pages": pages,
            "total": total,
            "next": page + 1 if page < pages else None,
            "prev": page - 1 if page > 1 else None,
        }
        return Response({self.resource.key: [represent(row) for row in shown], "meta": {"pagination": pagination}})


class _ReadView(_ResourceView):
    """One row, by id or by slug, as Ghost answers a read: `{"campaigns": [row]}`."""

    def read(self, request, **lookup):
        if "filter" in request.query_params:
            raise BadRequest("filter applies to lists, not to a read by id or slug.", code="invalid_query")
        represent, related = _representation(self.resource, request)
        row = self.public_rows().select_related(*related).filter(**lookup).first()
        if row is None:
            raise NotFound()
        return Response({self.resource.key: [represent(row)]})


class _ReadByIdView(_ReadView):
    def get(self, request, object_id: str):
        try:
            pk = uuid.UUID(object_id)
        except ValueError:
            raise NotFound() from None  # no row has this id
        return self.read(request, pk=pk)


class _ReadBySlugView(_ReadView):
    def get(self, request, slug: str):
        if "\x00" in slug:  # no slug has it (and PostgreSQL refuses it in a string)
            raise NotFound()
        return self.read(request, slug=slug)


# The OpenAPI description: exactly what the views above answer.


# Schema only: an object with exactly the declared properties (`additionalProperties: false`), so
# a client generator or schemathesis sees any answer that is not the one described. (A comment, not
# a docstring: the schema would show a docstring as every such object's description.)
class ExactObject(serializers.Serializer):
    pass


class ExactObjectSchema(OpenApiSerializerExtension):
    target_class = ExactObject
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


def _exact(name: str, fields: dict[str, serializers.Field], **kwargs) -> ExactObject:
    return type(name, (ExactObject,), dict(fields))(**kwargs)


def _public_offer_fields() -> dict[str, serializers.Field]:
    return {
        "id": serializers.UUIDField(required=False),
        "name": strict.CharField(required=False),
        "slug": strict.CharField(required=False),
        "url": strict.URLField(required=False),
    }


PUBLIC_OFFER = _exact("PublicOffer", _public_offer_fields())
PUBLIC_CAMPAIGN = _exact(
    "PublicCampaign",
    {
        "id": serializers.UUIDField(required=False),
        "name": strict.CharField(required=False),
        "slug": strict.CharField(required=False),
        "offer": _exact(
            "PublicCampaignOffer",
            _public_offer_fields(),
            required=False,
            allow_null=True,
            help_text="With `include=offer` only; null when the campaign has no offer.",
        ),
    },
)
PAGINATION = _exact(
    "ContentPagination",
    {
        "page": serializers.IntegerField(),
        "limit": serializers.IntegerField(),
        "pages": serializers.IntegerField(),
        "total": serializers.IntegerField(),
        "next": serializers.IntegerField(allow_null=True),
        "prev": serializers.IntegerField(allow_null=True),
    },
)
META = _exact("ContentMeta", {"pagination": PAGINATION})
FIELDS_NOTE = "Every field is present unless `fields` leaves it out."


def _list_answer(name: str, key: str, item) -> serializers.Serializer:
    return _exact(name, {key: type(item)(many=True, help_text=FIELDS_NOTE), "meta": META})


def _read_answer(name: str, key: str, item) -> serializers.Serializer:
    return _exact(name, {key: type(item)(many=True, help_text=f"Exactly one. {FIELDS_NOTE}")})


def _parameters(resource: Resource, *, listing: bool) -> list[OpenApiParameter]:
    parameters = [
        KEY_PARAMETER,
        VERSION_PARAMETER,
        OpenApiParameter(
            "fields",
            str,
            description=f"Comma-separated; only these fields ({', '.join(resource.fields)}).",
        ),
    ]
    if resource.includes:
        parameters.append(
            OpenApiParameter("include", str, description=f"Comma-separated relations: {', '.join(resource.includes)}.")
        )
    if not listing:
        return parameters
    return [
        *parameters,
        OpenApiParameter(
            "limit",
            str,
            pattern=r"^([0-9]*[1-9][0-9]*|[aA][lL][lL])$",
            description=(
                f"Items per page: default {DEFAULT_LIMIT}, at most {MAX_LIMIT} "
                f"(larger values and `all` are {MAX_LIMIT})."
            ),
        ),
        OpenApiParameter(
            "page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, description="The page, from 1 (default)."
        ),
        OpenApiParameter(
            "filter",
            str,
            description=f"Ghost's NQL over: {', '.join(resource.filters)}. E.g. `slug:[spring,summer]+name:-'Old'`.",
        ),
        OpenApiParameter(
            "order",
            str,
            description=(
                f"`field asc|desc`, comma-separated, over: {', '.join(resource.orders)}. Default: newest first."
            ),
        ),
    ]


def _view(base: type, name: str, resource: Resource, rows: Callable, **schema) -> type:
    """A view class of `resource`, its GET described by `schema` (extend_schema's arguments)."""

    def get(self, request, **kwargs):
        return base.get(self, request, **kwargs)

    described = extend_schema(auth=[], tags=["Content API"], **schema)(get)
    return type(name, (base,), {"resource": resource, "public_rows": rows, "get": described})


def _views(resource: Resource, item, rows: Callable, list_doc: str, read_doc: str):
    plural = resource.key.capitalize()
    list_view = _view(
        _ListView,
        f"Content{plural}List",
        resource,
        rows,
        operation_id=f"content_{resource.key}_list",
        parameters=_parameters(resource, listing=True),
        responses={200: _list_answer(f"Content{plural}List", resource.key, item)},
        description=list_doc,
    )
    read_answer = _read_answer(f"Content{plural}Read", resource.key, item)
    read = {"parameters": _parameters(resource, listing=False), "responses": {200: read_answer}}
    by_id = _view(
        _ReadByIdView,
        f"Content{plural}ById",
        resource,
        rows,
        operation_id=f"content_{resource.key}_read",
        description=f"{read_doc} By id.",
        **read,
    )
    by_slug = _view(
        _ReadBySlugView,
        f"Content{plural}BySlug",
        resource,
        rows,
        operation_id=f"content_{resource.key}_read_by_slug",
        description=f"{read_doc} By slug.",
        **read,
    )
    return list_view, by_id, by_slug


def _active_campaigns(self):
    return Campaign.objects.for_team(self.integration.team).filter(status=Campaign.Status.ACTIVE)


def _public_offers(self):
    active = Campaign.objects.for_team(self.integration.team).filter(status=Campaign.Status.ACTIVE)
    return Offer.objects.for_team(self.integration.team).filter(pk__in=active.values("offer_id"))


ContentCampaignList, ContentCampaignById, ContentCampaignBySlug = _views(
    CAMPAIGNS,
    PUBLIC_CAMPAIGN,
    _active_campaigns,
    "The team's active campaigns: id, name, slug (and their offer with `include=offer`).",
    "One active campaign of the team.",
)
ContentOfferList, ContentOfferById, ContentOfferBySlug = _views(
    OFFERS,
    PUBLIC_OFFER,
    _public_offers,
    "Offers of the team's active campaigns: id, name, slug and landing URL (never the payout).",
    "One offer of an active campaign of the team.",
)


@extend_schema(
    parameters=[KEY_PARAMETER, VERSION_PARAMETER],
    auth=[],
    tags=["Content API"],
    responses={200: _exact("PublicTeam", {"id": serializers.UUIDField(), "name": strict.CharField()})},
)
class ContentTeamView(ContentView):
    """The team's public profile: id and name."""

    def get(self, request):
        team = self.integration.team
        return Response({"id": str(team.pk), "name": team.name})
