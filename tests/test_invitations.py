import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from access.scopes import Role
from audit.models import Action, AuditEvent
from teams.models import Invitation, Membership

from .factories import UserFactory

pytestmark = pytest.mark.django_db

INVITE = "/api/v1/team/invitations"
ACCEPT = "/api/v1/invitations/accept"


def token_in(message) -> str:
    return re.search(r"token=(\S+)", message.body).group(1)


@pytest.fixture
def invitee():
    return UserFactory(username="newcomer", email="newcomer@example.com")


def invite(client, email="newcomer@example.com", role="member"):
    return client.post(INVITE, {"email": email, "role": role}, format="json")


def test_an_admin_invites_and_the_invitee_accepts(as_user, admin, team, invitee):
    response = invite(as_user(admin, team))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending" and body["email"] == "newcomer@example.com" and body["role"] == "member"
    assert body["invited_by"] == admin.username and "token" not in body and "token_hash" not in body
    assert mail.outbox[0].to == ["newcomer@example.com"]
    token = token_in(mail.outbox[0])
    assert token not in Invitation.objects.get().token_hash
    accepted = as_user(invitee).post(ACCEPT, {"token": token}, format="json")
    assert accepted.status_code == 201
    assert accepted.json()["role"] == "member" and accepted.json()["id"] == str(team.pk)
    assert Membership.objects.get(team=team, user=invitee).role == Role.MEMBER
    assert {Action.INVITATION_CREATED, Action.INVITATION_ACCEPTED, Action.MEMBER_ADDED} <= set(
        AuditEvent.objects.filter(team=team).values_list("action", flat=True)
    )
    # single use
    assert as_user(invitee).post(ACCEPT, {"token": token}, format="json").json()["code"] == "invitation_invalid"


def test_the_invitations_are_listed_and_can_be_withdrawn(as_user, admin, team, invitee):
    client = as_user(admin, team)
    invite(client)
    listed = client.get(INVITE).json()["results"]
    assert [i["email"] for i in listed] == ["newcomer@example.com"]
    assert client.delete(f"{INVITE}/{listed[0]['id']}").status_code == 204
    token = token_in(mail.outbox[0])
    response = as_user(invitee).post(ACCEPT, {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invitation_invalid"


def test_an_invitation_expires_after_seven_days(as_user, admin, team, invitee):
    invite(as_user(admin, team))
    token = token_in(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1)):
        response = as_user(invitee).post(ACCEPT, {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invitation_expired"
    assert not Membership.objects.filter(user=invitee, team=team).exists()


def test_nobody_invites_above_their_own_role(as_user, admin, team):
    response = invite(as_user(admin, team), role="owner")
    assert response.status_code == 403
    assert response.json()["code"] == "role_above_own"
    assert not Invitation.objects.exists()


def test_inviting_needs_admin(as_user, member, team):
    response = invite(as_user(member, team))
    assert response.status_code == 403
    assert response.json()["required_scope"] == "admin"


def test_re_inviting_an_existing_member_is_409(as_user, admin, member, team):
    response = invite(as_user(admin, team), email=member.email.upper())
    assert response.status_code == 409
    assert response.json()["code"] == "already_member"


def test_re_inviting_a_pending_address_replaces_the_old_token(as_user, admin, team, invitee):
    client = as_user(admin, team)
    invite(client)
    invite(client)
    first, second = token_in(mail.outbox[0]), token_in(mail.outbox[1])
    assert Invitation.objects.count() == 1
    refused = as_user(invitee).post(ACCEPT, {"token": first}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "invitation_invalid")
    accepted = as_user(invitee).post(ACCEPT, {"token": second}, format="json")
    assert accepted.status_code == 201
    assert accepted.json()["id"] == str(team.pk) and accepted.json()["role"] == "member"


def test_the_accepting_users_verified_email_must_match(as_user, admin, team, invitee):
    invite(as_user(admin, team))
    token = token_in(mail.outbox[0])
    stranger = UserFactory(email="stranger@example.com")
    response = as_user(stranger).post(ACCEPT, {"token": token}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "invitation_email_mismatch"
    unverified = UserFactory(email="other@example.com", email_verified_at=None)
    invite(as_user(admin, team), email="other@example.com")
    response = as_user(unverified).post(ACCEPT, {"token": token_in(mail.outbox[1])}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "invitation_email_mismatch"
    assert not Membership.objects.filter(team=team, user__in=[stranger, unverified]).exists()


def test_another_teams_invitation_cannot_be_withdrawn(as_user, admin, team, outsider, other_team):
    invite(as_user(outsider, other_team))
    foreign = Invitation.objects.get()
    response = as_user(admin, team).delete(f"{INVITE}/{foreign.pk}")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert Invitation.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "email"), ({"email": "nope"}, "email"), ({"email": "a@example.com", "role": "god"}, "role")],
)
def test_bad_invitations_are_400(as_user, admin, team, body, field):
    response = as_user(admin, team).post(INVITE, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and field in response.json()["errors"]
    assert not Invitation.objects.exists()


def test_invitations_refuse_api_keys(as_key, key_for, owner, team):
    _, raw = key_for(owner, team, ["admin"])
    response = invite(as_key(raw, team))
    assert (response.status_code, response.json()["code"]) == (403, "interactive_login_required")
    assert not Invitation.objects.exists()


def test_a_garbage_token_is_400(as_user, invitee):
    response = as_user(invitee).post(ACCEPT, {"token": "nope"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invitation_invalid")


@pytest.mark.parametrize(
    "inviter_now",
    ["viewer", "member", None],
)
def test_an_invitation_never_grants_more_than_its_inviter_may_grant_now(
    as_user, owner, admin, team, invitee, inviter_now
):
    assert invite(as_user(admin, team), role="admin").status_code == 201
    token = token_in(mail.outbox[0])
    if inviter_now is None:
        Membership.objects.filter(team=team, user=admin).delete()  # the inviter left the team
    else:
        Membership.objects.filter(team=team, user=admin).update(role=inviter_now)
    response = as_user(invitee).post(ACCEPT, {"token": token}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "invitation_inviter_changed"
    assert not Membership.objects.filter(team=team, user=invitee).exists()
    assert Invitation.objects.get().accepted_at is None


def test_an_invitation_still_works_when_the_inviter_was_promoted(as_user, admin, team, invitee):
    invite(as_user(admin, team), role="admin")
    Membership.objects.filter(team=team, user=admin).update(role=Role.OWNER)
    response = as_user(invitee).post(ACCEPT, {"token": token_in(mail.outbox[0])}, format="json")
    assert response.status_code == 201
    assert response.json()["role"] == "admin"


def test_a_removed_member_who_comes_back_does_not_get_their_keys_back(as_user, owner, member, team, key_for, as_key):
    _, raw = key_for(member, team, permissions=["read:campaigns"])
    assert as_user(owner, team).delete(f"/api/v1/team/members/{member.pk}").status_code == 204
    event = AuditEvent.objects.get(action=Action.KEY_REVOKED)
    assert event.actor_id == owner.pk and event.team_id == team.pk and event.data == {"reason": "member_removed"}
    invite(as_user(owner, team), email=member.email, role="member")
    assert as_user(member).post(ACCEPT, {"token": token_in(mail.outbox[-1])}, format="json").status_code == 201
    response = as_key(raw, team).get("/api/v1/campaigns")
    assert response.status_code == 401
    assert response.json()["code"] == "key_revoked"


def test_an_invitation_dies_with_its_inviters_deactivation(as_user, admin, team, invitee):
    from accounts.activation import set_active

    invite(as_user(admin, team), role="admin")
    set_active(user=admin, active=False)
    response = as_user(invitee).post(ACCEPT, {"token": token_in(mail.outbox[0])}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "invitation_inviter_changed")
    assert not Membership.objects.filter(team=team, user=invitee).exists()
