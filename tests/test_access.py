"""`request.access`: one immutable value per request, and no API view can skip it.

The team step is a DRF step, not a Django middleware (the credential is only known after DRF
authentication). What makes that safe is this file: every view under /api/v1/ derives from
access.views.AccessMixin, and every view outside the short list of account-level endpoints is
team-scoped and declares the scope each of its methods needs.
"""

import dataclasses

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.test import APIRequestFactory

from access.context import ANONYMOUS, KINDS, Access, Kind
from access.permissions import HasScope
from access.views import AccessMixin, TeamScopedMixin

pytestmark = pytest.mark.django_db

# Endpoints that act on the caller's own account or on no team at all; they ignore X-Team-Id.
NOT_TEAM_SCOPED = {
    "auth/login",
    "auth/refresh",
    "auth/logout",
    "auth/me",
    "auth/sessions",
    "auth/sessions/revoke-others",
    "auth/sessions/<uuid:family_id>",
    "auth/register",
    "auth/verify-email",
    "auth/resend-verification",
    "auth/forgot-password",
    "auth/reset-password",
    "auth/change-password",
    "auth/reauthenticate",
    "auth/google",
    "me/account",
    "me/google/unlink",
    "auth/second-factor",
    "me/second-factors",
    "me/second-factors/totp",
    "me/second-factors/totp/confirm",
    "me/second-factors/totp/disable",
    "me/second-factors/recovery-codes",
    "me/passkeys",
    "me/passkeys/options",
    "me/passkeys/<uuid:passkey_id>",
    "me/email",
    "me/email/confirm",
    "auth/passkey",
    "secret-scanning/reports",
    "auth/passkey/options",
    "auth/second-factor/passkey-options",
    "auth/reauthenticate/passkey-options",
    "teams",
    "invitations/accept",
}


def test_the_walk_finds_every_endpoint(api_views):
    routes = {route for route, _ in api_views}
    assert routes >= NOT_TEAM_SCOPED
    assert len(routes) >= 35


def test_every_api_view_establishes_access_and_team_views_declare_their_scope(api_views):
    for route, view in api_views:
        check_view(route, view)


def check_view(route, view):
    assert issubclass(view, AccessMixin), f"{route}: {view.__name__} does not derive from AccessMixin"
    if route in NOT_TEAM_SCOPED:
        assert not issubclass(view, TeamScopedMixin), f"{route} should not be team-scoped"
        return
    assert issubclass(view, TeamScopedMixin), f"{route}: {view.__name__} takes team data without the team step"
    assert HasScope in view.permission_classes, f"{route}: {view.__name__} checks no scope"
    factory = APIRequestFactory()
    for method in view.http_method_names:
        if method in ("options", "head", "trace") or not hasattr(view, method):
            continue
        instance = view()
        instance.kwargs = {"user_id": "00000000-0000-0000-0000-000000000000"}
        request = getattr(factory, method)("/")
        request.user = AnonymousUser()
        # NotImplementedError when the view declares neither scope, resource nor ANY_MEMBER.
        instance.get_required_scope(request)


def test_access_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ANONYMOUS.team = object()


def test_every_credential_kind_has_rules_and_only_a_login_is_interactive():
    assert set(KINDS) == set(Kind)
    assert {kind for kind, rules in KINDS.items() if rules.interactive} == {Kind.JWT}
    assert not Access().is_interactive and not Access().is_authenticated


def test_a_key_request_and_a_login_get_the_access_they_are(as_user, as_key, key_for, owner, team):
    key, raw = key_for(owner, team, permissions=["read:campaigns"])
    by_key = as_key(raw, team).get("/api/v1/campaigns").wsgi_request.access
    assert by_key.kind == Kind.API_KEY and by_key.key.pk == key.pk and not by_key.is_interactive
    assert by_key.team == team and by_key.role == "owner" and by_key.scopes == {"read:campaigns"}
    by_login = as_user(owner, team).get("/api/v1/campaigns").wsgi_request.access
    assert by_login.kind == Kind.JWT and by_login.key is None and by_login.is_interactive
    assert "admin" in by_login.scopes


def test_an_anonymous_request_has_the_anonymous_access(client):
    assert client.get("/api/v1/auth/me").wsgi_request.access == ANONYMOUS
