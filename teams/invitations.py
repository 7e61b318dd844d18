"""Team invitations: an admin invites an address; the owner of that verified address accepts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import Action, record_event
from infra import mail
from infra.errors import BadRequest, Conflict, Forbidden

from .models import Invitation, Membership
from .services import add_member, may_grant


def _hash(token: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"invitation:{token}".encode(), hashlib.sha256).hexdigest()


def invite(*, actor_membership: Membership, email: str, role: str) -> Invitation:
    if not may_grant(actor_membership.role, role):
        raise Forbidden("You cannot invite someone to a role above your own.", code="role_above_own")
    team = actor_membership.team
    email = email.strip()
    if Membership.objects.for_team(team).filter(user__email__iexact=email).exists():
        raise Conflict("This address already belongs to a member of the team.", code="already_member")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Re-inviting replaces the earlier pending invitation (its token stops working).
        Invitation.objects.for_team(team).filter(email__iexact=email, accepted_at__isnull=True).delete()
        invitation = Invitation.objects.create(
            team=team,
            email=email,
            role=role,
            token_hash=_hash(token),
            invited_by_id=actor_membership.user_id,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_LIFETIME_DAYS),
        )
        record_event(
            action=Action.INVITATION_CREATED,
            team_id=team.pk,
            actor_id=actor_membership.user_id,
            data={"invitation_id": str(invitation.pk), "role": role},
        )
        mail.send(
            "invitation",
            email,
            inviter=actor_membership.user.username,
            team=team.name,
            role=role,
            token=token,
            days=settings.INVITATION_LIFETIME_DAYS,
        )
    return invitation


def revoke(*, invitation: Invitation, actor) -> None:
    with transaction.atomic():
        record_event(
            action=Action.INVITATION_REVOKED,
            team_id=invitation.team_id,
            actor_id=actor.pk,
            data={"invitation_id": str(invitation.pk)},
        )
        invitation.delete()


def _check_inviter_still_may_grant(invitation: Invitation) -> None:
    """An invitation grants no more than its inviter may grant *now*: an inviter who has since left
    the team, been deactivated, lost `admin` or been demoted below the invited role cannot still
    hand that role out."""
    inviter = (
        Membership.objects.for_team(invitation.team_id)
        .select_related("user")
        .filter(user_id=invitation.invited_by_id)
        .first()
    )
    if inviter is None or not inviter.user.is_active or not may_grant(inviter.role, invitation.role):
        raise Conflict(
            "The person who invited you can no longer grant this role; ask a team admin for a new invitation.",
            code="invitation_inviter_changed",
        )


def accept(*, user, token: str) -> Membership:
    invalid = BadRequest("This invitation is invalid or has already been used.", code="invitation_invalid")
    with transaction.atomic():
        invitation = Invitation.objects.with_token_hash(_hash(token)).select_for_update().select_related("team").first()
        if invitation is None or invitation.accepted_at is not None:
            raise invalid
        if invitation.expires_at <= timezone.now():
            raise BadRequest("This invitation has expired; ask for a new one.", code="invitation_expired")
        if not user.email_verified or user.email.lower() != invitation.email.lower():
            raise Forbidden(
                "This invitation was sent to another e-mail address (or yours is not verified yet).",
                code="invitation_email_mismatch",
            )
        if Membership.objects.for_team(invitation.team).filter(user=user).exists():
            raise Conflict("You are already a member of this team.", code="already_member")
        _check_inviter_still_may_grant(invitation)
        try:
            with transaction.atomic():
                membership = add_member(
                    team=invitation.team,
                    user=user,
                    role=invitation.role,
                    actor=user,
                    data={
                        "invitation_id": str(invitation.pk),
                        "invited_by": str(invitation.invited_by_id) if invitation.invited_by_id else None,
                    },
                )
        except IntegrityError as exc:
            raise Conflict("You are already a member of this team.", code="already_member") from exc
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        record_event(
            action=Action.INVITATION_ACCEPTED,
            team_id=invitation.team_id,
            actor_id=user.pk,
            data={"invitation_id": str(invitation.pk), "role": invitation.role},
        )
    return membership
