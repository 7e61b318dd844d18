"""No cache keeps an API answer that carries a credential or a team's data (#23.18): login,
refresh and key creation hand out secrets; team data depends on the caller's credential. Only
the Content API's public pages are cacheable, by their own choice."""

import pytest
from rest_framework.test import APIClient

from .factories import PASSWORD, make_integration

pytestmark = pytest.mark.django_db


def _no_store(response):
    assert response["Cache-Control"] == "no-store"


def test_login_and_refresh_answers_are_never_stored(client, owner):
    login = client.post("/api/v1/auth/login", {"username": owner.username, "password": PASSWORD}, format="json")
    assert login.status_code == 200
    _no_store(login)
    refreshed = client.post("/api/v1/auth/refresh", {"refresh_token": login.json()["refresh_token"]}, format="json")
    assert refreshed.status_code == 200
    _no_store(refreshed)


def test_a_new_keys_answer_is_never_stored(as_user, owner, team):
    created = as_user(owner, team).post("/api/v1/auth/api-keys", {"name": "k", "permissions": ["read"]}, format="json")
    assert created.status_code == 201
    _no_store(created)


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_team_data_read_with_a_key_is_never_stored_and_varies_on_the_credential(as_key, owner, team, key_for, header):
    _, raw = key_for(owner, team, permissions=["read"])
    response = as_key(raw, team, header=header).get("/api/v1/campaigns")
    assert response.status_code == 200
    _no_store(response)
    vary = {part.strip().lower() for part in response["Vary"].split(",")}
    assert {"authorization", "x-api-key", "x-team-id"} <= vary


def test_refusals_are_never_stored_either(client):
    _no_store(client.get("/api/v1/campaigns"))


def test_the_content_apis_public_pages_keep_their_own_cache_policy(admin, team):
    issued = make_integration(admin, team, permissions=["read"])
    page = APIClient().get("/api/content/v1/campaigns", {"key": issued.content_key})
    assert page.status_code == 200
    assert page["Cache-Control"] == "public, max-age=60"
    _no_store(APIClient().get("/api/content/v1/campaigns", {"key": "0" * 26}))
