"""Key authentication: the seed's curl, every refusal code, team binding, the query budget."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from access.scopes import Role
from accounts.activation import set_active
from accounts.models import User
from apikeys import keys
from apikeys.models import APIKey
from apikeys.services import regenerate_key, revoke_key
from audit.models import Action, AuditEvent
from teams.models import Membership
from tracking.models import Campaign

from .factories import access_token, make_key

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns"


@pytest.fixture
def key(owner, team):
    return make_key(owner, team, ["read:campaigns", "write:campaigns", "read:stats"])


def test_the_seeds_curl_example_works(client, key, team):
    _, raw = key
    Campaign.objects.create(team=team, name="Spring sale")
    # curl https://.../api/v1/campaigns -H "Authorization: Bearer gf_..." -H "X-Team-Id: <uuid>"
    response = client.get(CAMPAIGNS, HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_TEAM_ID=str(team.pk))
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["results"]] == ["Spring sale"]


def test_x_api_key_header_works_too(as_key, key, team):
    assert as_key(key[1], team, header="x-api-key").get(CAMPAIGNS).status_code == 200


def test_a_key_in_the_query_string_is_refused_and_not_used(client, key, team):
    _, raw = key
    response = client.get(f"{CAMPAIGNS}?api_key={raw}", HTTP_X_TEAM_ID=str(team.pk))
    assert response.status_code == 401
    assert response.json()["code"] == "key_in_query"
    # even alongside a valid header credential
    response = client.get(f"{CAMPAIGNS}?key={raw}", HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_TEAM_ID=str(team.pk))
    assert response.status_code == 401
    assert APIKey.objects.get().last_used_at is None


@pytest.mark.parametrize("mutate", ["malformed", "checksum"])
def test_malformed_or_bad_checksum_keys_are_401_without_any_query(client, key, team, mutate, django_assert_num_queries):
    _, raw = key
    bad = "gf_tooshort" if mutate == "malformed" else raw[:-1] + ("A" if raw[-1] != "A" else "B")
    with django_assert_num_queries(0):
        response = client.get(CAMPAIGNS, HTTP_AUTHORIZATION=f"Bearer {bad}", HTTP_X_TEAM_ID=str(team.pk))
    assert response.status_code == 401
    assert response.json()["code"] == "key_invalid"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_well_formed_key_is_key_invalid(as_key, team):
    response = as_key(keys.generate().raw, team).get(CAMPAIGNS)
    assert response.status_code == 401
    assert response.json()["code"] == "key_invalid"


def test_a_revoked_key_is_refused(as_key, key, team, owner):
    revoke_key(key=key[0], actor=owner)
    response = as_key(key[1], team).get(CAMPAIGNS)
    assert response.status_code == 401
    assert response.json()["code"] == "key_revoked"


def test_an_expired_key_is_refused(as_key, owner, team):
    _, raw = make_key(owner, team, ["read"], expires_at=timezone.now() + timedelta(hours=1))
    assert as_key(raw, team).get(CAMPAIGNS).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = as_key(raw, team).get(CAMPAIGNS)
    assert response.status_code == 401
    assert response.json()["code"] == "key_expired"


def test_a_deleted_key_is_invalid(as_key, key, team):
    key[0].delete()
    assert as_key(key[1], team).get(CAMPAIGNS).json()["code"] == "key_invalid"


def test_deactivating_the_owner_revokes_the_key_for_good(as_key, key, team, owner):
    set_active(user=owner, active=False)
    response = as_key(key[1], team).get(CAMPAIGNS)
    assert response.status_code == 401
    assert response.json()["code"] == "key_revoked"
    set_active(user=owner, active=True)
    assert as_key(key[1], team).get(CAMPAIGNS).json()["code"] == "key_revoked"
    event = AuditEvent.objects.get(action=Action.KEY_REVOKED, api_key_id=key[0].pk)
    assert event.data == {"reason": "owner_deactivated"}


def test_an_owner_deactivated_behind_the_services_back_still_kills_the_key(as_key, key, team, owner):
    # e.g. an UPDATE in SQL: the key class checks the owner on every request anyway.
    User.objects.filter(pk=owner.pk).update(is_active=False)
    response = as_key(key[1], team).get(CAMPAIGNS)
    assert response.status_code == 401
    assert response.json()["code"] == "key_owner_inactive"


def test_an_owner_removed_from_the_team_kills_the_key_at_once(as_key, team, member):
    _, raw = make_key(member, team, ["read:campaigns"])
    client = as_key(raw, team)
    assert client.get(CAMPAIGNS).status_code == 200
    Membership.objects.filter(user=member, team=team).delete()
    for path in (CAMPAIGNS, "/api/v1/auth/me", "/api/v1/me/account"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["code"] == "key_owner_removed"


def test_a_key_sent_with_another_team_is_403_saying_so(as_key, key, other_team, owner):
    Membership.objects.create(user=owner, team=other_team, role=Role.OWNER)
    response = as_key(key[1], other_team).get(CAMPAIGNS)
    assert response.status_code == 403
    assert response.json()["code"] == "key_team_mismatch"
    assert "another team" in response.json()["detail"]


def test_a_key_still_needs_x_team_id(as_key, key):
    response = as_key(key[1]).get(CAMPAIGNS)
    assert response.status_code == 400
    assert response.json()["code"] == "team_required"


def test_a_regenerated_key_refuses_the_old_secret(as_key, key, team, owner):
    new = regenerate_key(key=key[0], actor=owner).raw
    assert as_key(key[1], team).get(CAMPAIGNS).json()["code"] == "key_invalid"
    assert as_key(new, team).get(CAMPAIGNS).status_code == 200


def test_a_regeneration_grace_period_is_honoured_then_ends(as_key, key, team, owner):
    new = regenerate_key(key=key[0], actor=owner, grace_seconds=600).raw
    assert as_key(key[1], team).get(CAMPAIGNS).status_code == 200
    assert as_key(new, team).get(CAMPAIGNS).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        assert as_key(key[1], team).get(CAMPAIGNS).status_code == 401
        assert as_key(new, team).get(CAMPAIGNS).status_code == 200


def test_revoking_ends_a_grace_period_too(as_key, key, team, owner):
    new = regenerate_key(key=key[0], actor=owner, grace_seconds=600).raw
    revoke_key(key=APIKey.objects.get(), actor=owner)
    assert as_key(key[1], team).get(CAMPAIGNS).status_code == 401
    assert as_key(new, team).get(CAMPAIGNS).status_code == 401


def test_me_with_a_key_shows_the_key_and_its_effective_scopes(as_key, key, team):
    body = as_key(key[1], team).get("/api/v1/auth/me").json()
    assert body["auth"] == "api_key"
    assert body["user"]["username"] == "owner"
    assert body["api_key"]["id"] == str(key[0].pk)
    assert body["api_key"]["team"] == str(team.pk)
    assert body["api_key"]["scopes"] == ["read:campaigns", "write:campaigns", "read:stats"]


def test_me_shows_scopes_shrunk_by_a_demotion(as_key, team, admin):
    _, raw = make_key(admin, team, ["admin"])
    Membership.objects.filter(user=admin).update(role=Role.VIEWER)
    scopes = as_key(raw, team).get("/api/v1/auth/me").json()["api_key"]["scopes"]
    assert "admin" not in scopes and "write:campaigns" not in scopes and "read:campaigns" in scopes


def test_a_jwt_is_never_taken_for_a_key_nor_a_key_for_a_jwt(client, key, team, owner):
    jwt = access_token(owner)
    response = client.get(CAMPAIGNS, HTTP_X_API_KEY=jwt, HTTP_X_TEAM_ID=str(team.pk))
    assert response.status_code == 401
    assert response.json()["code"] == "key_invalid"
    assert client.get(CAMPAIGNS, HTTP_AUTHORIZATION=f"Bearer {jwt}", HTTP_X_TEAM_ID=str(team.pk)).status_code == 200
    bad_key = "gf_" + "x" * 20
    response = client.get(CAMPAIGNS, HTTP_AUTHORIZATION=f"Bearer {bad_key}", HTTP_X_TEAM_ID=str(team.pk))
    assert response.json()["code"] == "key_invalid"  # not "token_invalid": the JWT class never saw it


def test_last_used_is_written_at_most_once_a_minute(as_key, key, team):
    client = as_key(key[1], team)
    client.get(CAMPAIGNS)
    first = APIKey.objects.get().last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        client.get(CAMPAIGNS)
    assert APIKey.objects.get().last_used_at == first
    assert not any("UPDATE" in q["sql"] and "apikeys_apikey" in q["sql"] for q in queries.captured_queries)
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        client.get(CAMPAIGNS)
    assert APIKey.objects.get().last_used_at > first


@pytest.mark.parametrize("page_size", [1, 25])
def test_a_key_authenticated_campaign_list_costs_three_queries(as_key, key, team, page_size, django_assert_num_queries):
    for i in range(30):
        Campaign.objects.create(team=team, name=f"c{i}")
    APIKey.objects.update(last_used_at=timezone.now())  # within the minute: no last_used write
    client = as_key(key[1], team)
    with django_assert_num_queries(3):
        # 1. the key by digest, joined with owner and team, with the owner's membership (subquery)
        # 2. the page of campaigns (cursor pagination: no COUNT)
        # 3. the audit event INSERT
        response = client.get(CAMPAIGNS, {"page_size": page_size})
    assert len(response.json()["results"]) == page_size
