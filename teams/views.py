from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from access import scopes
from access.permissions import HasScope, InteractiveLoginOnly
from access.views import ANY_MEMBER, AccessMixin, TeamScopedMixin

from . import invitations, selectors, services
from .models import Invitation
from .serializers import (
    AcceptInvitationSerializer,
    CreateInvitationSerializer,
    InvitationSerializer,
    KeyPolicySerializer,
    LeakedKeyPolicySerializer,
    MemberSerializer,
    RoleSerializer,
    SecondFactorRuleSerializer,
    TeamNameSerializer,
    TeamSerializer,
    TeamWithRoleSerializer,
)


class TeamListView(AccessMixin, generics.ListAPIView):
    """The caller's teams with the caller's role in each (not team-scoped; X-Team-Id is ignored)."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    serializer_class = TeamWithRoleSerializer

    def get_queryset(self):
        return selectors.memberships_of(self.request.user)

    @extend_schema(request=TeamNameSerializer, responses={201: TeamWithRoleSerializer})
    def post(self, request):
        """Create a team; the caller becomes its owner."""
        serializer = TeamNameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.create_team(user=request.user, name=serializer.validated_data["name"])
        return Response(TeamWithRoleSerializer(membership).data, status=status.HTTP_201_CREATED)


class CurrentTeamView(TeamScopedMixin, APIView):
    """The team named by X-Team-Id. Any member reads it; PATCH needs `admin`; DELETE needs the
    owner role and an interactive login."""

    requires_recent_authentication = frozenset({"DELETE"})  # step-up: access.permissions.RecentAuthentication

    def get_permissions(self):
        permissions = super().get_permissions()
        if self.request.method == "DELETE":
            permissions.append(InteractiveLoginOnly())
        return permissions

    def get_required_scope(self, request):
        return scopes.ADMIN if request.method in ("PATCH", "DELETE") else None

    @extend_schema(responses={200: TeamSerializer})
    def get(self, request):
        return Response(TeamSerializer(request.access.team).data)

    @extend_schema(request=TeamNameSerializer, responses={200: TeamSerializer})
    def patch(self, request):
        if isinstance(request.data, dict) and "require_second_factor" in request.data:
            # Not silently ignored: the rule has its own endpoint (owner only, step-up).
            raise ValidationError(
                {"require_second_factor": ["Change it with PUT /api/v1/team/second-factor-rule (an owner, step-up)."]}
            )
        serializer = TeamNameSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        team = request.access.team
        if "name" in serializer.validated_data:  # an empty patch changes nothing
            team = services.update_team(team=team, name=serializer.validated_data["name"], actor=request.user)
        return Response(TeamSerializer(team).data)

    @extend_schema(responses={204: None})
    def delete(self, request):
        services.delete_team(team=request.access.team, actor_membership=request.access.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SecondFactorRuleView(TeamScopedMixin, APIView):
    """The team's rule that every member uses a second factor. Reading it needs `admin`; changing
    it, the owner role, an interactive login and a recent authentication (step-up)."""

    requires_recent_authentication = frozenset({"PUT"})  # step-up: access.permissions.RecentAuthentication
    scope = scopes.ADMIN

    @extend_schema(responses={200: SecondFactorRuleSerializer})
    def get(self, request):
        return Response(SecondFactorRuleSerializer(services.second_factor_rule(request.access.team)).data)

    @extend_schema(request=SecondFactorRuleSerializer, responses={200: SecondFactorRuleSerializer})
    def put(self, request):
        serializer = SecondFactorRuleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = services.set_second_factor_rule(
            team=request.access.team,
            actor_membership=request.access.membership,
            required=serializer.validated_data["required"],
        )
        return Response(SecondFactorRuleSerializer(rule).data)


class LeakedKeyPolicyView(TeamScopedMixin, APIView):
    """What a leaked-key report (POST /api/v1/secret-scanning/reports) does to this team's keys.
    Reading it needs `admin`; changing it, the owner role, an interactive login and step-up."""

    requires_recent_authentication = frozenset({"PUT"})  # step-up: access.permissions.RecentAuthentication
    scope = scopes.ADMIN

    @extend_schema(responses={200: LeakedKeyPolicySerializer})
    def get(self, request):
        return Response({"action": request.access.team.leaked_key_action})

    @extend_schema(request=LeakedKeyPolicySerializer, responses={200: LeakedKeyPolicySerializer})
    def put(self, request):
        serializer = LeakedKeyPolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = services.set_leaked_key_action(
            team=request.access.team,
            actor_membership=request.access.membership,
            action=serializer.validated_data["action"],
        )
        return Response({"action": team.leaked_key_action})


class KeyPolicyView(TeamScopedMixin, APIView):
    """The team's policy for API keys: expiry required, the longest lifetime, what happens to unused
    keys. Reading it needs `admin`; changing it, the owner role, an interactive login and step-up."""

    requires_recent_authentication = frozenset({"PUT"})  # step-up: access.permissions.RecentAuthentication
    scope = scopes.ADMIN

    @extend_schema(responses={200: KeyPolicySerializer})
    def get(self, request):
        return Response(KeyPolicySerializer(services.key_policy(request.access.team)).data)

    @extend_schema(request=KeyPolicySerializer, responses={200: KeyPolicySerializer})
    def put(self, request):
        serializer = KeyPolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = services.set_key_policy(
            team=request.access.team, actor_membership=request.access.membership, **serializer.validated_data
        )
        return Response(KeyPolicySerializer(policy).data)


class MemberListView(TeamScopedMixin, generics.ListAPIView):
    """Members of the current team (any member may list them)."""

    scope = ANY_MEMBER
    serializer_class = MemberSerializer

    def get_queryset(self):
        return selectors.members_of(self.request.access.team)


class MemberDetailView(TeamScopedMixin, APIView):
    """Change a member's role (`admin`), or remove a member (`admin`; anyone may remove themselves).

    Interactive login only: with a key, the role ceiling would be checked against the key owner's
    role, so whoever holds someone else's key could act above their own role through it.
    """

    requires_recent_authentication = frozenset({"PATCH", "DELETE"})  # step-up: access.permissions.RecentAuthentication

    permission_classes = [IsAuthenticated, InteractiveLoginOnly, HasScope]

    def get_required_scope(self, request):
        if request.method == "DELETE" and str(request.user.pk) == str(self.kwargs["user_id"]):
            return None
        return scopes.ADMIN

    def _target(self, request, user_id):
        target = selectors.member(request.access.team, user_id)
        if target is None:
            raise Http404
        return target

    @extend_schema(request=RoleSerializer, responses={200: MemberSerializer})
    def patch(self, request, user_id):
        serializer = RoleSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        membership = self._target(request, user_id)
        if "role" in serializer.validated_data:  # an empty patch changes nothing
            membership = services.change_role(
                actor=services.Actor.member(request.access.membership),
                target=membership,
                role=serializer.validated_data["role"],
            )
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, user_id):
        services.remove_member(
            actor=services.Actor.member(request.access.membership), target=self._target(request, user_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListView(TeamScopedMixin, generics.ListAPIView):
    """Invitations of the current team (`admin`, interactive login). POST mails a single-use
    token; the role is never above the inviter's."""

    requires_recent_authentication = frozenset({"POST"})  # step-up: access.permissions.RecentAuthentication

    scope = scopes.ADMIN
    permission_classes = [IsAuthenticated, InteractiveLoginOnly, HasScope]
    serializer_class = InvitationSerializer

    def get_queryset(self):
        return Invitation.objects.for_team(self.request.access.team).select_related("invited_by")

    @extend_schema(request=CreateInvitationSerializer, responses={201: InvitationSerializer})
    def post(self, request):
        serializer = CreateInvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = invitations.invite(actor_membership=request.access.membership, **serializer.validated_data)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailView(TeamScopedMixin, APIView):
    requires_recent_authentication = frozenset({"DELETE"})  # step-up: access.permissions.RecentAuthentication
    scope = scopes.ADMIN
    permission_classes = [IsAuthenticated, InteractiveLoginOnly, HasScope]

    @extend_schema(responses={204: None})
    def delete(self, request, invitation_id):
        invitation = Invitation.objects.for_team(request.access.team).filter(pk=invitation_id).first()
        if invitation is None:
            raise Http404
        invitations.revoke(invitation=invitation, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AcceptInvitationView(AccessMixin, APIView):
    """Accept an invitation as the logged-in owner of the invited, verified e-mail address."""

    rate_limit = "accept_invitation"

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]

    @extend_schema(request=AcceptInvitationSerializer, responses={201: TeamWithRoleSerializer})
    def post(self, request):
        serializer = AcceptInvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = invitations.accept(user=request.user, token=serializer.validated_data["token"])
        return Response(TeamWithRoleSerializer(membership).data, status=status.HTTP_201_CREATED)
