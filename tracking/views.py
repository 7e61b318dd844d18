"""CRUD for the GhostFlow resources. Each view declares its resource; the scope check, the team
context and the team filter come from the shared mixins."""

from django.db.models import Count
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from access.views import TeamOwnedViewMixin, TeamScopedMixin
from apikeys.models import APIKey
from infra.errors import BadRequest
from infra.params import uuid_param
from teams.models import Membership

from . import serializers
from .models import Campaign, Domain, Network, Offer, Source


class ResourceViewMixin(TeamOwnedViewMixin):
    """`filters` maps a query parameter to (lookup, kind): kind is "uuid", "text" or a choices
    class. Unknown values of a choice or malformed ids are 400, never a silent empty page."""

    filters: dict = {}

    def perform_create(self, serializer):
        serializer.save(team=self.request.access.team)

    def get_success_headers(self, data):
        """`Location` of a 201 is the created resource's own URL. DRF's default takes it from a
        field named `url`, which on an offer is the user's landing page: an open redirect."""
        return {"Location": reverse(self.detail_route, kwargs={"object_id": data["id"]})}

    def get_queryset(self):
        queryset = super().get_queryset()
        for param, (lookup, kind) in self.filters.items():
            value = self.request.query_params.get(param)
            if value is None:
                continue
            if kind == "uuid":
                value = uuid_param(value, param)
            elif kind != "text" and value not in kind.values:
                raise BadRequest(f"{param} must be one of: {', '.join(kind.values)}.", code="invalid_filter")
            queryset = queryset.filter(**{lookup: value})
        return queryset


def _parameter(name: str, kind) -> OpenApiParameter:
    if kind == "uuid":
        return OpenApiParameter(name, OpenApiTypes.UUID, required=False)
    if kind == "text":
        return OpenApiParameter(name, str, required=False, description="Case-insensitive substring.")
    return OpenApiParameter(name, str, enum=kind.values, required=False)


def resource_views(model, serializer_class, resource: str, filters: dict):
    parameters = [_parameter(name, kind) for name, (_lookup, kind) in filters.items()]
    attrs = {
        "model": model,
        "serializer_class": serializer_class,
        "resource": resource,
        "filters": filters,
        "detail_route": resource.removesuffix("s"),  # config/api_urls.py: "offers" and "offer"
    }
    list_view = extend_schema_view(get=extend_schema(parameters=parameters))(
        type(f"{model.__name__}ListView", (ResourceViewMixin, generics.ListCreateAPIView), attrs)
    )
    detail_view = type(
        f"{model.__name__}DetailView",
        (ResourceViewMixin, generics.RetrieveUpdateDestroyAPIView),
        {**attrs, "lookup_url_kwarg": "object_id"},
    )
    return list_view, detail_view


CampaignList, CampaignDetail = resource_views(
    Campaign,
    serializers.CampaignSerializer,
    "campaigns",
    {
        "status": ("status", Campaign.Status),
        "domain": ("domain_id", "uuid"),
        "offer": ("offer_id", "uuid"),
        "source": ("source_id", "uuid"),
        "search": ("name__icontains", "text"),
    },
)
DomainList, DomainDetail = resource_views(
    Domain, serializers.DomainSerializer, "domains", {"search": ("hostname__icontains", "text")}
)
OfferList, OfferDetail = resource_views(
    Offer,
    serializers.OfferSerializer,
    "offers",
    {"network": ("network_id", "uuid"), "search": ("name__icontains", "text")},
)
SourceList, SourceDetail = resource_views(
    Source,
    serializers.SourceSerializer,
    "sources",
    {"kind": ("kind", Source.Kind), "search": ("name__icontains", "text")},
)
NetworkList, NetworkDetail = resource_views(
    Network, serializers.NetworkSerializer, "networks", {"search": ("name__icontains", "text")}
)


class StatsView(TeamScopedMixin, APIView):
    """Per-team counts and the per-status campaign summary (`read:stats`)."""

    resource = "stats"

    @extend_schema(responses={200: serializers.StatsSerializer})
    def get(self, request):
        team = request.access.team
        counts = {
            "campaigns": Campaign.objects.for_team(team).count(),
            "domains": Domain.objects.for_team(team).count(),
            "offers": Offer.objects.for_team(team).count(),
            "sources": Source.objects.for_team(team).count(),
            "networks": Network.objects.for_team(team).count(),
        }
        by_status = {choice: 0 for choice in Campaign.Status.values}
        for row in Campaign.objects.for_team(team).values("status").annotate(n=Count("id")):
            by_status[row["status"]] = row["n"]
        return Response({"counts": counts, "campaigns_by_status": by_status})


class BillingView(TeamScopedMixin, APIView):
    """The team's plan, seats used and active keys (`read:billing`)."""

    resource = "billing"

    @extend_schema(responses={200: serializers.BillingSerializer})
    def get(self, request):
        team = request.access.team
        return Response(
            {
                "plan": team.plan,
                "seats_used": Membership.objects.for_team(team).count(),
                "active_api_keys": APIKey.objects.for_team(team).active().count(),
            }
        )
