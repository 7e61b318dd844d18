"""One validity rule per credential kind, applied by both of its checkers: its authentication class
on each request and the live stream's periodic re-check of who holds a stream (livestream.holders,
batched). For every way a credential stops working, the request it makes is refused and the
stream it holds is ended, for the same reason, with the same code (access/refusals.py).

The request here is POST /api/v1/audit-log/stream-token in the credential's team: it needs the
credential to work, the team, `admin`, and for a login a signed-in session.
"""

import time
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.activation import set_active
from accounts.passwords import set_password
from accounts.sessions import revoke_all_sessions, start_session
from apikeys.models import APIKey
from apikeys.services import disable_key, regenerate_key, revoke_key
from integrations import tokens as admin_tokens
from integrations.services import regenerate_admin_key, revoke_integration
from livestream import holders
from livestream.tokens import verify as verify_stream_token
from teams.models import Membership, Team

from .factories import make_integration, make_key

URL = "/api/v1/audit-log/stream-token"


def client_with(authorization: str, team) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization, HTTP_X_TEAM_ID=str(team.pk))
    return client


def holder_of(client: APIClient):
    """The holder the stream would re-check: the one its stream token names."""
    response = client.post(URL)
    assert response.status_code == 200, response.content
    return verify_stream_token(response.json()["token"]).holder


def assert_both_refuse(client: APIClient, holder, reason: str) -> None:
    response = client.post(URL)
    standing = holders.standings([holder])[holder]
    assert standing.refusal is not None and standing.reason == reason
    assert (response.status_code, response.json()["code"]) == (standing.refusal.status, standing.refusal.code)


# --- gf_ keys: APIKey.refusal ---------------------------------------------------------------------


def _remove_owner_without_the_service(key: APIKey) -> None:
    # The service would also revoke the owner's keys there (key_revoked); what the rule must catch
    # on its own is an owner who is no longer a member, however that came about.
    Membership.objects.filter(team_id=key.team_id, user_id=key.user_id).delete()


def _deactivate_without_the_service(user) -> None:
    # The service would also revoke their keys (key_revoked), as above.
    user.is_active = False
    user.save(update_fields=["is_active"])


KEY_CHANGES = {
    "revoked": (lambda key, owner: revoke_key(key=key, actor=owner), "key_revoked"),
    "expired": (
        lambda key, owner: APIKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1)),
        "key_expired",
    ),
    "secret regenerated": (lambda key, owner: regenerate_key(key=key, actor=owner), "key_invalid"),
    "disabled": (lambda key, owner: disable_key(key=key, actor=owner), "key_disabled"),
    "owner inactive": (lambda key, owner: _deactivate_without_the_service(key.user), "key_owner_inactive"),
    "owner removed": (lambda key, owner: _remove_owner_without_the_service(key), "key_owner_removed"),
    # The team's rule (access.context.team_rule_refusal): the key's owner has no second factor.
    "team requires a second factor": (
        lambda key, owner: Team.objects.filter(pk=key.team_id).update(require_second_factor=True),
        "second_factor_required",
    ),
}


@pytest.mark.parametrize("change", KEY_CHANGES)
def test_a_key_is_refused_by_the_request_path_and_the_stream_alike(owner, admin, team, change):
    key, raw = make_key(admin, team, ["admin"])
    client = client_with(f"Bearer {raw}", team)
    holder = holder_of(client)
    assert holders.standings([holder])[holder].refusal is None
    make_change, reason = KEY_CHANGES[change]
    make_change(APIKey.objects.get(pk=key.pk), owner)
    assert_both_refuse(client, holder, reason)


# --- logins: accounts.authentication.login_refusal, accounts.sessions.signed_in -------------------

LOGIN_CHANGES = {
    "user inactive": (lambda user: set_active(user=user, active=False), "user_inactive"),
    "password changed": (lambda user: set_password(user=user, password="a-brand-new-passphrase"), "password_changed"),
    "session ended": (lambda user: revoke_all_sessions(user=user, reason="logout"), "session_revoked"),
    "team requires a second factor": (
        lambda user: Team.objects.filter(memberships__user=user).update(require_second_factor=True),
        "second_factor_required",
    ),
}


@pytest.mark.parametrize("change", LOGIN_CHANGES)
def test_a_login_is_refused_by_the_request_path_and_the_stream_alike(admin, team, change):
    client = client_with(f"Bearer {start_session(user=admin).access_token}", team)
    holder = holder_of(client)
    assert holders.standings([holder])[holder].refusal is None
    make_change, reason = LOGIN_CHANGES[change]
    make_change(admin)
    assert_both_refuse(client, holder, reason)


# --- integrations: Integration.refusal ------------------------------------------------------------


def admin_token(admin_key: str) -> str:
    kid, _, secret = admin_key.partition(":")
    now = int(time.time())
    return jwt.encode(
        {"iat": now, "exp": now + 300, "aud": admin_tokens.ADMIN_AUDIENCE},
        bytes.fromhex(secret),
        algorithm="HS256",
        headers={"kid": kid, "typ": "JWT"},
    )


INTEGRATION_CHANGES = {
    "revoked": (
        lambda integration, owner: revoke_integration(integration=integration, actor_id=owner.pk),
        "integration_revoked",
    ),
    "Admin key regenerated": (
        lambda integration, owner: regenerate_admin_key(integration=integration, actor_id=owner.pk),
        "kid_unknown",
    ),
}


@pytest.mark.parametrize("change", INTEGRATION_CHANGES)
def test_an_integration_is_refused_by_the_request_path_and_the_stream_alike(owner, team, change):
    issued = make_integration(owner, team, permissions=["admin"])
    client = client_with(f"Ghost {admin_token(issued.admin_key)}", team)
    holder = holder_of(client)
    assert holders.standings([holder])[holder].refusal is None
    make_change, reason = INTEGRATION_CHANGES[change]
    make_change(issued.integration, owner)
    assert_both_refuse(client, holder, reason)


def test_the_stream_calls_each_kinds_rule_rather_than_restating_it():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(holders))
    called = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert {"key.refusal", "integration.refusal", "login_refusal", "sessions.signed_in", "team_rule_refusal"} <= called
    read = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert read & {"revoked_at", "is_active", "owner_membership_id", "password", "expires_at"} == set()
