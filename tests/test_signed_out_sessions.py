"""A signed-out login keeps no account powers: its leftover access token (valid for up to 5
minutes) is refused with 401 `token_revoked` on every act that needs an interactive login (keys,
members, invitations, integrations, teams, sessions, the account), and changes nothing. One rule,
accounts.sessions.signed_in, asked by access.permissions.InteractiveLoginOnly and by the live
stream's holder check."""

import re

import pytest
from rest_framework.test import APIClient

from access.permissions import InteractiveLoginOnly
from access.scopes import Role
from accounts import sessions
from accounts.models import Passkey, RecoveryCode, RefreshFamily, TOTPFactor, User
from accounts.views import RegisterView
from apikeys.models import APIKey
from audit.models import AuditEvent
from integrations.models import Integration
from teams.models import Invitation, Membership, Team
from teams.views import CurrentTeamView

from .factories import InvitationFactory, MembershipFactory, UserFactory, make_integration, make_key, register_passkey

pytestmark = pytest.mark.django_db

B = "/api/v1/"


@pytest.fixture
def world(team, owner):
    member = MembershipFactory(team=team, role=Role.MEMBER, user=UserFactory(username="m")).user
    key, _ = make_key(owner, team, ["read"])
    other_session = sessions.start_session(user=owner)
    return {
        "key": key.pk,
        "member": member.pk,
        "invitation": InvitationFactory(team=team, invited_by=owner).pk,
        "integration": make_integration(owner, team).integration.pk,
        "session": other_session.family_id,
        "passkey": register_passkey(owner)[0].pk,
    }


# Every act that needs an interactive login: (method, path, body).
ACTS = [
    ("post", "auth/api-keys", {"name": "minted after logout", "permissions": ["read"]}),
    ("get", "auth/api-keys", None),
    ("patch", "auth/api-keys/{key}", {"name": "renamed"}),
    ("put", "auth/api-keys/{key}/revoke", None),
    ("post", "auth/api-keys/{key}/disable", None),
    ("post", "auth/api-keys/{key}/enable", None),
    ("post", "auth/api-keys/{key}/regenerate", {"grace_seconds": 0}),
    ("delete", "auth/api-keys/{key}", None),
    ("get", "auth/api-keys/{key}/audit-log", None),
    ("get", "auth/api-keys/{key}/usage", None),
    ("patch", "team/members/{member}", {"role": "admin"}),
    ("delete", "team/members/{member}", None),
    ("post", "team/invitations", {"email": "eve@example.com", "role": "admin"}),
    ("delete", "team/invitations/{invitation}", None),
    ("post", "invitations/accept", {"token": "x" * 43}),
    ("post", "integrations", {"name": "after logout", "permissions": ["read"]}),
    ("patch", "integrations/{integration}", {"name": "renamed"}),
    ("delete", "integrations/{integration}", None),
    ("post", "integrations/{integration}/regenerate-admin-key", None),
    ("post", "integrations/{integration}/regenerate-content-key", None),
    ("get", "integrations/{integration}/audit-log", None),
    ("get", "integrations/{integration}/usage", None),
    ("get", "teams", None),
    ("post", "teams", {"name": "after logout"}),
    ("delete", "team", None),
    ("get", "auth/sessions", None),
    ("delete", "auth/sessions/{session}", None),
    ("post", "auth/sessions/revoke-others", None),
    ("post", "auth/change-password", {"current_password": "x", "new_password": "another-long-passphrase"}),
    ("post", "me/google/unlink", None),
    ("post", "auth/reauthenticate", {"password": "correct-horse-battery"}),
    ("get", "me/second-factors", None),
    ("post", "me/second-factors/totp", None),
    ("post", "me/second-factors/totp/confirm", {"code": "123456"}),
    ("post", "me/second-factors/totp/disable", {"code": "123456"}),
    ("post", "me/second-factors/recovery-codes", {"code": "123456"}),
    ("get", "me/passkeys", None),
    ("post", "me/passkeys", {"name": "x", "ceremony": "x", "credential": {}}),
    ("post", "me/passkeys/options", None),
    ("patch", "me/passkeys/{passkey}", {"name": "renamed"}),
    ("delete", "me/passkeys/{passkey}", None),
    ("post", "auth/reauthenticate/passkey-options", None),
    ("post", "me/email", {"email": "moved@example.com"}),
    ("post", "me/email/confirm", {"code": "123456"}),
]


def state():
    """What an act could change."""
    return (
        sorted(APIKey.objects.values_list("id", "name", "revoked_at", "digest")),
        sorted(Membership.objects.values_list("id", "role")),
        sorted(Invitation.objects.values_list("id", "role")),
        sorted(Integration.objects.values_list("id", "name", "revoked_at", "admin_key_id")),
        sorted(Team.objects.values_list("id", "name")),
        sorted((str(pk), str(at)) for pk, at in RefreshFamily.objects.values_list("id", "revoked_at")),
        sorted(TOTPFactor.objects.values_list("id", "secret_encrypted", "confirmed_at")),
        sorted(RecoveryCode.objects.values_list("id", "used_at")),
        sorted(Passkey.objects.values_list("id", "name")),
        sorted(User.objects.values_list("id", "email")),
        AuditEvent.objects.count(),
    )


def signed_out_client(user, team) -> APIClient:
    pair = sessions.start_session(user=user)
    assert APIClient().post(B + "auth/logout", {"refresh_token": pair.refresh_token}, format="json").status_code == 204
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.access_token}", HTTP_X_TEAM_ID=str(team.pk))
    return client


@pytest.mark.parametrize("method, path, body", ACTS, ids=[f"{m.upper()} {p}" for m, p, _ in ACTS])
def test_a_signed_out_access_token_is_refused_every_interactive_act(world, team, owner, method, path, body):
    client = signed_out_client(owner, team)
    before = state()
    response = getattr(client, method)(B + path.format(**world), body, format="json")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_revoked"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert state() == before


def test_closed_registration_by_a_signed_out_admin_is_refused(team, owner, settings):
    settings.REGISTRATION_OPEN = False
    client = signed_out_client(owner, team)
    body = {"username": "late", "email": "late@example.com", "password": "a-long-passphrase"}
    response = client.post(B + "auth/register", body, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert not Membership.objects.filter(user__username="late").exists()


def test_the_acts_above_are_every_interactive_only_endpoint(api_views):
    """A new endpoint behind InteractiveLoginOnly joins ACTS, or this fails."""
    covered = {re.sub(r"\{\w+\}", "*", path) for _, path, _ in ACTS}
    interactive = {
        re.sub(r"<[^>]+>", "*", route)
        for route, view in api_views
        # CurrentTeamView adds the class for DELETE; RegisterView calls it when registration is
        # closed (its own test above).
        if InteractiveLoginOnly in getattr(view, "permission_classes", ()) or view in (CurrentTeamView, RegisterView)
    }
    assert interactive - {"auth/register"} == covered


def test_a_session_revoked_from_another_one_loses_its_powers_at_once(team, owner):
    victim = sessions.start_session(user=owner)  # e.g. a stolen laptop
    current = sessions.start_session(user=owner)
    mine = APIClient()
    mine.credentials(HTTP_AUTHORIZATION=f"Bearer {current.access_token}", HTTP_X_TEAM_ID=str(team.pk))
    assert mine.delete(f"{B}auth/sessions/{victim.family_id}").status_code == 204
    stolen = APIClient()
    stolen.credentials(HTTP_AUTHORIZATION=f"Bearer {victim.access_token}", HTTP_X_TEAM_ID=str(team.pk))
    response = stolen.post(B + "auth/sessions/revoke-others")
    assert response.status_code == 401 and response.json()["code"] == "token_revoked"
    assert RefreshFamily.objects.get(pk=current.family_id).revoked_at is None
    assert (
        mine.post(B + "auth/api-keys", {"name": "still me", "permissions": ["read"]}, format="json").status_code == 201
    )


def test_a_session_past_its_cap_is_refused_too(team, owner):
    pair = sessions.start_session(user=owner)
    RefreshFamily.objects.filter(pk=pair.family_id).update(expires_at="2000-01-01T00:00:00Z")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.access_token}", HTTP_X_TEAM_ID=str(team.pk))
    assert client.get(B + "auth/sessions").json()["code"] == "token_revoked"


def test_ordinary_calls_of_a_signed_out_token_still_work_until_it_expires(team, owner):
    """By design (README, Security model): logout ends the session's powers over the account, not
    the reads of its access token, which expires within minutes."""
    client = signed_out_client(owner, team)
    assert client.get(B + "auth/me").status_code == 200
    assert client.get(B + "team/members").status_code == 200


def test_the_session_check_costs_one_query(as_user, owner, team, django_assert_num_queries):
    make_key(owner, team, ["read"])
    client = as_user(owner, team)
    with django_assert_num_queries(4):
        # 1. the user of the access token (simplejwt)
        # 2. the caller's membership in X-Team-Id, joined with the team
        # 3. the session (refresh family) is still signed in
        # 4. the page of keys
        response = client.get(B + "auth/api-keys")
    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path"), [("post", "audit-log/stream-token"), ("get", "audit-log/stream")])
def test_a_signed_out_access_token_neither_opens_the_live_stream_nor_gets_a_stream_token(team, owner, method, path):
    """Opening the stream would replay the team's log before the first re-check ended it."""
    response = getattr(signed_out_client(owner, team), method)(B + path)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
