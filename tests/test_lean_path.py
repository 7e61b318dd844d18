"""API requests skip the page-only middleware (sessions, Django's user, messages)."""

import pytest

pytestmark = pytest.mark.django_db


def test_an_api_request_never_opens_a_session(as_key, key_for, owner, team):
    _, raw = key_for(owner, team, permissions=["read:campaigns"])
    request = as_key(raw, team).get("/api/v1/campaigns").wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "_messages")


def test_pages_still_get_sessions_and_users(client):
    request = client.get("/admin/login/").wsgi_request
    assert hasattr(request, "session") and hasattr(request, "user")
