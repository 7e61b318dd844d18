"""Managing a team's integrations: an admin's interactive login only (`admin` scope)."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from access import scopes
from access.permissions import HasScope, InteractiveLoginOnly
from access.views import TeamScopedMixin
from audit import selectors as audit_selectors
from audit import views as audit_views
from audit.serializers import AuditEventSerializer
from usage import views as usage_views
from usage.models import Subject
from usage.serializers import UsageSerializer

from . import services
from .models import Integration
from .serializers import (
    CreateIntegrationSerializer,
    IntegrationSerializer,
    IssuedIntegrationSerializer,
    UpdateIntegrationSerializer,
)


class IntegrationMixin(TeamScopedMixin):
    """A person with `admin` in the team: no key or integration manages integrations. Another
    team's integration is a 404."""

    scope = scopes.ADMIN
    permission_classes = [IsAuthenticated, InteractiveLoginOnly, HasScope]

    def get_integration(self) -> Integration:
        integrations = Integration.objects.for_team(self.request.access.team)
        integration = integrations.filter(pk=self.kwargs["integration_id"]).first()
        if integration is None:
            raise Http404
        return integration


def issued(result: services.IssuedIntegration) -> dict:
    result.integration.admin_key = result.admin_key
    return IssuedIntegrationSerializer(result.integration).data


class IntegrationListView(IntegrationMixin, generics.ListAPIView):
    requires_recent_authentication = frozenset({"POST"})  # step-up: access.permissions.RecentAuthentication
    serializer_class = IntegrationSerializer

    def get_queryset(self):
        return Integration.objects.for_team(self.request.access.team)

    @extend_schema(request=CreateIntegrationSerializer, responses={201: IssuedIntegrationSerializer})
    def post(self, request):
        """Create an integration. The response carries the Admin key once; it is never shown again."""
        serializer = CreateIntegrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.create_integration(membership=request.access.membership, **serializer.validated_data)
        return Response(issued(result), status=status.HTTP_201_CREATED)


class IntegrationDetailView(IntegrationMixin, APIView):
    requires_recent_authentication = frozenset({"PATCH", "DELETE"})  # step-up: access.permissions.RecentAuthentication

    @extend_schema(responses={200: IntegrationSerializer})
    def get(self, request, integration_id):
        return Response(IntegrationSerializer(self.get_integration()).data)

    @extend_schema(request=UpdateIntegrationSerializer, responses={200: IntegrationSerializer})
    def patch(self, request, integration_id):
        integration = self.get_integration()
        serializer = UpdateIntegrationSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        integration = services.update_integration(
            integration=integration, membership=request.access.membership, **serializer.validated_data
        )
        return Response(IntegrationSerializer(integration).data)

    @extend_schema(responses={204: None})
    def delete(self, request, integration_id):
        services.delete_integration(integration=self.get_integration(), actor_id=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegenerateAdminKeyView(IntegrationMixin, APIView):
    requires_recent_authentication = frozenset({"POST"})  # step-up: access.permissions.RecentAuthentication

    @extend_schema(request=None, responses={200: IssuedIntegrationSerializer})
    def post(self, request, integration_id):
        """A new Admin key (id and secret), shown once; the old one stops working at once."""
        result = services.regenerate_admin_key(integration=self.get_integration(), actor_id=request.user.pk)
        return Response(issued(result))


class RegenerateContentKeyView(IntegrationMixin, APIView):
    requires_recent_authentication = frozenset({"POST"})  # step-up: access.permissions.RecentAuthentication

    @extend_schema(request=None, responses={200: IntegrationSerializer})
    def post(self, request, integration_id):
        """A new Content key; the old one stops working at once (update the pages that embed it)."""
        result = services.regenerate_content_key(integration=self.get_integration(), actor_id=request.user.pk)
        return Response(IntegrationSerializer(result.integration).data)


class IntegrationAuditLogView(IntegrationMixin, generics.ListAPIView):
    """What an integration did and what was done to it, newest first."""

    serializer_class = AuditEventSerializer

    @extend_schema(parameters=audit_views.FILTERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        integration = self.get_integration()
        events = audit_selectors.events_of_team(self.request.access.team).filter(integration=integration)
        return audit_selectors.apply_filters(events, self.request.query_params)


class IntegrationUsageView(IntegrationMixin, APIView):
    """An integration's requests (Admin key and Content key) per hour or day, by status class and
    refusal, its busiest routes and where its Admin key was last used from."""

    @extend_schema(parameters=usage_views.PARAMETERS, responses=UsageSerializer)
    def get(self, request, integration_id):
        integration = self.get_integration()
        return usage_views.usage_response(request, subject=Subject.INTEGRATION, subject_id=integration.pk)
