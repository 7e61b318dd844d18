from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import HasScope, InteractiveLoginOnly
from access.views import ANY_MEMBER, AccessMixin, TeamScopedMixin
from audit import selectors as audit_selectors
from audit import views as audit_views
from audit.serializers import AuditEventSerializer
from infra.errors import BadRequest, Forbidden
from usage import views as usage_views
from usage.models import Subject
from usage.serializers import UsageSerializer

from . import leaks, selectors, services
from .models import APIKey
from .serializers import (
    APIKeySerializer,
    CreateAPIKeySerializer,
    IssuedAPIKeySerializer,
    LeakFindingSerializer,
    LeakLabelSerializer,
    RegenerateSerializer,
    UpdateAPIKeySerializer,
)


class KeyManagementMixin(TeamScopedMixin):
    """Key endpoints: an interactive login only (a key never mints, widens or renews keys).
    Members act on their own keys; admins also see, rename, revoke and delete every key of the
    team, but only a key's owner regenerates it (and so receives its secret). Any other key is a 404."""

    scope = ANY_MEMBER  # which keys a member sees and touches: selectors.keys_visible_to
    permission_classes = [IsAuthenticated, InteractiveLoginOnly, HasScope]

    def get_key(self) -> APIKey:
        key = selectors.keys_visible_to(self.request.access).filter(pk=self.kwargs["key_id"]).first()
        if key is None:
            raise Http404
        return key


def issued(result) -> dict:
    result.key.raw_key = result.raw
    return IssuedAPIKeySerializer(result.key).data


STATUS_FILTER = OpenApiParameter("status", enum=[s.value for s in APIKey.Status], required=False)


class APIKeyListView(KeyManagementMixin, generics.ListAPIView):
    requires_recent_authentication = frozenset({"POST"})  # step-up: access.permissions.RecentAuthentication
    serializer_class = APIKeySerializer

    @extend_schema(parameters=[STATUS_FILTER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        queryset = selectors.keys_visible_to(self.request.access)
        wanted = self.request.query_params.get("status")
        if wanted is None:
            return queryset
        if wanted not in APIKey.Status.values:
            raise BadRequest("status must be active, revoked or expired.", code="invalid_filter")
        return queryset.in_status(wanted)

    @extend_schema(request=CreateAPIKeySerializer, responses={201: IssuedAPIKeySerializer})
    def post(self, request):
        """Create a key. The response carries the raw key once; it is never shown again. Without
        `permissions` the key is read-only: every `read:*` scope of your role, as `permissions` in
        the answer says."""
        serializer = CreateAPIKeySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.create_key(membership=request.access.membership, **serializer.validated_data)
        return Response(issued(result), status=status.HTTP_201_CREATED)


class APIKeyDetailView(KeyManagementMixin, APIView):
    @extend_schema(responses={200: APIKeySerializer})
    def get(self, request, key_id):
        return Response(APIKeySerializer(self.get_key()).data)

    @extend_schema(request=UpdateAPIKeySerializer, responses={200: APIKeySerializer})
    def patch(self, request, key_id):
        """Rename a key, or set its IP allowlist, rate limits or monthly quota. Team, owner, secret
        and scopes of an existing key never change."""
        key = self.get_key()
        serializer = UpdateAPIKeySerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "name" in serializer.validated_data:  # an empty patch changes nothing
            key = services.rename_key(key=key, name=serializer.validated_data["name"])
        key = services.govern_key(key=key, actor=request.user, **serializer.validated_data)
        return Response(APIKeySerializer(key).data)

    @extend_schema(responses={204: None})
    def delete(self, request, key_id):
        services.delete_key(key=self.get_key(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class APIKeyRevokeView(KeyManagementMixin, APIView):
    @extend_schema(request=None, responses={200: APIKeySerializer})
    def put(self, request, key_id):
        """Revoke: instant and final. Revoking again is harmless."""
        key = services.revoke_key(key=self.get_key(), actor=request.user)
        return Response(APIKeySerializer(key).data)


class APIKeyDisableView(KeyManagementMixin, APIView):
    @extend_schema(request=None, responses={200: APIKeySerializer})
    def post(self, request, key_id):
        """Disable: every request with the key is refused (401 `key_disabled`) from the next one,
        on every node, until it is enabled. For the key's owner or a team admin; no step-up (taking
        power away should be quick). Disabling again is harmless."""
        return Response(APIKeySerializer(services.disable_key(key=self.get_key(), actor=request.user)).data)


class APIKeyEnableView(KeyManagementMixin, APIView):
    # Giving a key its power back is like creating one: step-up (access.permissions.RecentAuthentication).
    requires_recent_authentication = frozenset({"POST"})

    @extend_schema(request=None, responses={200: APIKeySerializer})
    def post(self, request, key_id):
        """Enable a disabled key again (409 `key_is_revoked` for a revoked one). Enabling an
        enabled key is harmless."""
        return Response(APIKeySerializer(services.enable_key(key=self.get_key(), actor=request.user)).data)


class APIKeyRegenerateView(KeyManagementMixin, APIView):
    requires_recent_authentication = frozenset({"POST"})  # step-up: access.permissions.RecentAuthentication

    @extend_schema(request=RegenerateSerializer, responses={200: IssuedAPIKeySerializer})
    def post(self, request, key_id):
        """A new secret for the same key; the old one stops now or after `grace_seconds`.
        Only the key's owner may regenerate it: the answer carries the new secret."""
        key = self.get_key()
        if key.user_id != request.user.pk:
            # An admin who received the owner's new secret could act as the owner (and above
            # their own role) with it. Admins may revoke or delete someone else's key instead.
            raise Forbidden(
                "Only the owner of a key can regenerate it; revoke or delete it instead.", code="key_owner_only"
            )
        serializer = RegenerateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.regenerate_key(
            key=key, actor=request.user, grace_seconds=serializer.validated_data["grace_seconds"]
        )
        return Response(issued(result))


class KeyAuditLogView(KeyManagementMixin, generics.ListAPIView):
    """One key's events, newest first: for the key's owner or a team admin."""

    serializer_class = AuditEventSerializer

    @extend_schema(parameters=audit_views.FILTERS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return audit_selectors.apply_filters(audit_selectors.events_of_key(self.get_key()), self.request.query_params)


class KeyUsageView(KeyManagementMixin, APIView):
    """One key's requests per hour or day, by status class and refusal, its busiest routes and
    where it was last used from: for the key's owner or a team admin."""

    @extend_schema(parameters=usage_views.PARAMETERS, responses=UsageSerializer)
    def get(self, request, key_id):
        return usage_views.usage_response(request, subject=Subject.KEY, subject_id=self.get_key().pk)


class LeakReportView(AccessMixin, APIView):
    """A leaked-key report (GitHub's secret-scanning partner format; apikeys/leaks.py): a signed
    JSON list of found tokens. Every one that is ours and live stops working at once; the answer
    labels each token `true_positive` (a key we issued) or `false_positive`."""

    authentication_classes = []
    permission_classes = [AllowAny]
    rate_limit = "secret_scanning"

    @extend_schema(
        request=LeakFindingSerializer(many=True),
        responses={200: LeakLabelSerializer(many=True)},
        parameters=[
            OpenApiParameter("Github-Public-Key-Identifier", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                "Github-Public-Key-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Base64 ECDSA P-256/SHA-256 signature of the raw body.",
            ),
        ],
        auth=[],
    )
    def post(self, request):
        body = request.body  # the raw bytes the signature covers (read before any parsing)
        leaks.verify_signature(
            body=body,
            key_id=request.headers.get("Github-Public-Key-Identifier"),
            signature=request.headers.get("Github-Public-Key-Signature"),
        )
        findings = leaks.parse(body)
        return Response(leaks.handle(findings=findings, reporter="github"))

    def get_authenticate_header(self, request):
        return 'Signature realm="secret-scanning"'
