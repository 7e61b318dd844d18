"""Step-up ("sudo mode"): the acts that hand out power need a recent authentication of the
login's *session* (its refresh family), settings.REAUTH_SECONDS, else 403
`reauthentication_required`; POST /auth/reauthenticate renews it (accounts/reauth.py).

Attacker's view: a token of another session, a refreshed token, a signed-out session, the window
boundary, keys and integrations, guessing the password through a stolen session.
"""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from access.permissions import InteractiveLoginOnly, RecentAuthentication
from accounts.models import RefreshFamily
from accounts.sessions import start_session
from audit.models import Action, AuditEvent

from .factories import PASSWORD, InvitationFactory, UserFactory

pytestmark = pytest.mark.django_db

B = "/api/v1/"

# Every operation under /api/v1/ that needs a recent authentication: exactly these. A new
# sensitive endpoint must be added here (and declare `requires_recent_authentication`).
STEP_UP = {
    ("auth/change-password", "POST"),
    ("auth/api-keys", "POST"),
    ("auth/api-keys/<uuid:key_id>/regenerate", "POST"),
    ("auth/api-keys/<uuid:key_id>/enable", "POST"),
    ("team", "DELETE"),
    ("team/second-factor-rule", "PUT"),
    ("team/members/<uuid:user_id>", "PATCH"),
    ("team/members/<uuid:user_id>", "DELETE"),
    ("team/invitations", "POST"),
    ("team/invitations/<uuid:invitation_id>", "DELETE"),
    ("integrations", "POST"),
    ("integrations/<uuid:integration_id>", "PATCH"),
    ("integrations/<uuid:integration_id>", "DELETE"),
    ("integrations/<uuid:integration_id>/regenerate-admin-key", "POST"),
    ("integrations/<uuid:integration_id>/regenerate-content-key", "POST"),
    ("me/second-factors/totp", "POST"),
    ("me/second-factors/totp/confirm", "POST"),
    ("me/second-factors/totp/disable", "POST"),
    ("me/second-factors/recovery-codes", "POST"),
    ("me/passkeys", "POST"),
    ("me/email", "POST"),
    ("team/leaked-key-policy", "PUT"),
    ("team/key-policy", "PUT"),
    ("me/passkeys/options", "POST"),
    ("me/passkeys/<uuid:passkey_id>", "DELETE"),
}
METHODS = ("get", "post", "put", "patch", "delete")


def stale_session(user):
    """A login whose session proved who it is just over REAUTH_SECONDS ago (its access token is
    still fresh, as after a refresh)."""
    pair = start_session(user=user)
    RefreshFamily.objects.filter(pk=pair.family_id).update(
        authenticated_at=timezone.now() - timedelta(seconds=settings.REAUTH_SECONDS + 1)
    )
    return pair


def client_for(token, team=None):
    c = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if team is not None:
        headers["HTTP_X_TEAM_ID"] = str(team.pk)
    c.credentials(**headers)
    return c


def url(route):
    path = route
    for name in ("key_id", "user_id", "invitation_id", "integration_id", "family_id", "object_id", "passkey_id"):
        path = path.replace(f"<uuid:{name}>", str(uuid.uuid4()))
    return B + path


def code(response):
    return response.json().get("code") if response.content else None


def create_key(api):
    return api.post(B + "auth/api-keys", {"name": "k", "permissions": ["read"]}, format="json")


# --- one rule, declared, and the exact set of operations ---


def test_the_declared_step_up_operations_are_exactly_the_expected_set(api_views):
    declared = set()
    for route, view in api_views:
        for method in view.requires_recent_authentication:
            assert hasattr(view, method.lower()), f"{route}: declares {method}, which it does not implement"
            declared.add((route, method))
        # Never a read: step-up guards acts, and a GET must stay harmless to retry.
        assert "GET" not in view.requires_recent_authentication
    assert declared == STEP_UP


def test_every_api_operation_refuses_a_stale_session_exactly_where_declared(api_views, owner, team):
    """Walks every URL under /api/v1/ with an owner's login whose session authenticated too long
    ago: exactly the STEP_UP operations answer 403 reauthentication_required (before the body or
    the object is even looked at), none other does."""
    refused = set()
    for route, view in api_views:
        for method in METHODS:
            if not hasattr(view, method) or method == "get":
                continue  # reads are checked by the declaration test (and the live stream never ends)
            api = client_for(stale_session(owner).access_token, team)
            response = getattr(api, method)(url(route), {}, format="json")
            if response.status_code == 403 and code(response) == "reauthentication_required":
                refused.add((route, method.upper()))
    assert refused == STEP_UP


def test_keys_never_reach_a_step_up_operation(owner, team, key_for, as_key):
    _, raw = key_for(owner, team, permissions=["admin"])
    for route, method in sorted(STEP_UP):
        response = getattr(as_key(raw, team), method.lower())(url(route), {}, format="json")
        assert response.status_code == 403, (route, method, response.content)
        assert code(response) == "interactive_login_required", (route, method)
    # Structurally too: the step-up check is an interactive-login check first.
    assert issubclass(RecentAuthentication, InteractiveLoginOnly)


def test_an_integration_admin_key_never_reaches_a_step_up_operation(owner, team):
    from integrations import tokens

    from .factories import make_integration

    issued = make_integration(owner, team, permissions=["admin"], name="CI")
    for route, method in sorted(STEP_UP):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Ghost {tokens.sign(issued.admin_key)}", HTTP_X_TEAM_ID=str(team.pk))
        response = getattr(api, method.lower())(url(route), {}, format="json")
        assert response.status_code == 403, (route, method, response.content)
        assert code(response) == "interactive_login_required", (route, method)


# --- a fresh login is authenticated; a stale one is not; re-authentication renews only its session ---


def test_a_fresh_login_may_act_at_once(as_user, owner, team):
    assert create_key(as_user(owner, team)).status_code == 201


def test_an_act_after_the_window_is_refused_and_reauthentication_lets_it_through(owner, team):
    pair = stale_session(owner)
    api = client_for(pair.access_token, team)
    refused = create_key(api)
    assert refused.status_code == 403
    assert refused.json()["code"] == "reauthentication_required"
    assert refused["Content-Type"] == "application/problem+json"

    response = api.post(B + "auth/reauthenticate", {"password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["reauthenticated_until"]
    assert create_key(api).status_code == 201
    event = AuditEvent.objects.get(action=Action.REAUTHENTICATED)
    assert event.actor_id == owner.pk
    assert event.data == {"method": "password", "family": str(pair.family_id)}
    assert PASSWORD not in str(event.data)


def test_another_sessions_recent_authentication_does_not_lend_itself(owner, team):
    """Same person, two sessions: B re-authenticates; A's token (A stale) is still refused, and
    A's re-authentication would not have helped B either."""
    a, b = stale_session(owner), stale_session(owner)
    api_b = client_for(b.access_token, team)
    assert api_b.post(B + "auth/reauthenticate", {"password": PASSWORD}, format="json").status_code == 200
    assert create_key(api_b).status_code == 201
    response = create_key(client_for(a.access_token, team))
    assert response.status_code == 403 and response.json()["code"] == "reauthentication_required"
    assert RefreshFamily.objects.get(pk=a.family_id).authenticated_at < timezone.now() - timedelta(seconds=600)


def test_a_refresh_keeps_the_sessions_time_and_never_extends_it(client, owner, team):
    login = client.post(B + "auth/login", {"username": owner.username, "password": PASSWORD}, format="json")
    assert login.status_code == 200
    tokens = login.json()
    family = RefreshFamily.objects.get(user=owner)
    authenticated_at = family.authenticated_at
    assert authenticated_at is not None

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.REAUTH_SECONDS - 60)):
        tokens = client.post(B + "auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json").json()
        assert create_key(client_for(tokens["access_token"], team)).status_code == 201

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.REAUTH_SECONDS + 1)):
        tokens = client.post(B + "auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json").json()
        response = create_key(client_for(tokens["access_token"], team))
        assert response.status_code == 403
        assert response.json()["code"] == "reauthentication_required"
    family.refresh_from_db()
    assert family.authenticated_at == authenticated_at


@pytest.mark.parametrize("offset,allowed", [(0, True), (1, False)])
def test_the_window_boundary(owner, team, offset, allowed):
    pair = start_session(user=owner)
    authenticated_at = RefreshFamily.objects.get(pk=pair.family_id).authenticated_at
    at = authenticated_at + timedelta(seconds=settings.REAUTH_SECONDS + offset)
    with time_machine.travel(at, tick=False):
        # The login's access token has expired by then: a refreshed one, same session.
        from accounts.sessions import fresh_access_token

        token = fresh_access_token(user=owner, family_id=pair.family_id)["access_token"]
        response = create_key(client_for(token, team))
    assert (response.status_code == 201) is allowed, response.content


def test_reauth_seconds_is_a_setting(owner, team, settings):
    settings.REAUTH_SECONDS = 5
    pair = start_session(user=owner)
    with time_machine.travel(timezone.now() + timedelta(seconds=6)):
        response = create_key(client_for(pair.access_token, team))
    assert response.json()["code"] == "reauthentication_required"


def test_a_signed_out_session_is_refused_and_cannot_reauthenticate(owner, team):
    pair = start_session(user=owner)
    assert APIClient().post(B + "auth/logout", {"refresh_token": pair.refresh_token}, format="json").status_code == 204
    api = client_for(pair.access_token, team)
    for response in (create_key(api), api.post(B + "auth/reauthenticate", {"password": PASSWORD}, format="json")):
        assert response.status_code == 401
        assert response.json()["code"] == "token_revoked"


def test_a_session_revoked_after_its_password_check_is_not_marked(owner, team):
    pair = stale_session(owner)
    RefreshFamily.objects.filter(pk=pair.family_id).update(revoked_at=timezone.now())
    api = client_for(pair.access_token, team)
    assert api.post(B + "auth/reauthenticate", {"password": PASSWORD}, format="json").status_code == 401
    assert not AuditEvent.objects.filter(action=Action.REAUTHENTICATED).exists()


# --- the password check: wrong, limited, audited; only logins ---


def test_a_wrong_password_is_refused_audited_and_leaves_the_session_stale(owner, team):
    pair = stale_session(owner)
    api = client_for(pair.access_token, team)
    response = api.post(B + "auth/reauthenticate", {"password": "wrong-password"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "wrong_password"
    assert create_key(api).json()["code"] == "reauthentication_required"
    event = AuditEvent.objects.get(action=Action.REAUTHENTICATION_FAILED)
    assert event.actor_id == owner.pk and "wrong-password" not in str(event.data)


def test_guessing_through_a_stolen_session_is_rate_limited_per_account(owner, team):
    limit = int(settings.RATE_LIMITS["reauthenticate"]["account"].split("/")[0])
    sessions = [stale_session(owner) for _ in range(2)]  # spread over sessions: one count per account
    for attempt in range(limit):
        api = client_for(sessions[attempt % 2].access_token)
        assert api.post(B + "auth/reauthenticate", {"password": f"guess-{attempt}"}, format="json").status_code == 400
    api = client_for(sessions[0].access_token)
    response = api.post(B + "auth/reauthenticate", {"password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert create_key(client_for(sessions[0].access_token, team)).json()["code"] == "reauthentication_required"


@pytest.mark.parametrize("body", [{}, {"password": ""}, {"password": 123}, {"password": ["x"]}, []])
def test_a_malformed_body_is_a_clear_400(owner, body):
    api = client_for(stale_session(owner).access_token)
    response = api.post(B + "auth/reauthenticate", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("validation_error", "malformed_request")


def test_an_account_without_a_password_cannot_reauthenticate_by_password(team):
    user = UserFactory(username="googler", email="googler@example.com")
    user.set_unusable_password()
    user.save()
    api = client_for(stale_session(user).access_token)
    response = api.post(B + "auth/reauthenticate", {"password": "anything-at-all"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "no_password"


def test_a_key_cannot_reauthenticate(owner, team, key_for, as_key):
    _, raw = key_for(owner, team, permissions=["admin"])
    response = as_key(raw, team).post(B + "auth/reauthenticate", {"password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "interactive_login_required"


# --- each guarded act, after the window (time travel), with a session made by the API ---


def _login(owner):
    c = APIClient()
    return c.post(B + "auth/login", {"username": owner.username, "password": PASSWORD}, format="json").json()


def test_acts_more_than_reauth_seconds_after_login_get_403(owner, member, team):
    tokens = _login(owner)
    invitation = InvitationFactory(team=team, invited_by=owner)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.REAUTH_SECONDS + 1)):
        tokens = APIClient().post(B + "auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json").json()
        api = client_for(tokens["access_token"], team)
        acts = [
            api.post(B + "auth/api-keys", {"name": "k", "permissions": ["read"]}, format="json"),
            api.patch(B + f"team/members/{member.pk}", {"role": "admin"}, format="json"),
            api.delete(B + f"team/members/{member.pk}"),
            api.post(B + "team/invitations", {"email": "y@example.com", "role": "member"}, format="json"),
            api.delete(B + f"team/invitations/{invitation.pk}"),
            api.post(B + "integrations", {"name": "ci"}, format="json"),
            api.delete(B + "team"),
            api.post(
                B + "auth/change-password",
                {"current_password": PASSWORD, "new_password": "another-long-pass-9"},
                format="json",
            ),
        ]
    for response in acts:
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "reauthentication_required"
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    assert team.memberships.filter(user=member, role="member").exists()
