"""Audit events say what happened: which secret was used, who acted, what status."""

import re

import pytest
from django.core import mail

from apikeys.services import regenerate_key, revoke_key
from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns"


def api_requests(key):
    return list(
        AuditEvent.objects.filter(action=Action.API_REQUEST, api_key=key)
        .order_by("created_at")
        .values_list("status_code", "data")
    )


def test_calls_with_the_old_secret_during_the_grace_period_say_so(as_key, key_for, owner, team):
    key, old = key_for(owner, team, permissions=["read:campaigns"])
    new = regenerate_key(key=key, actor=owner, grace_seconds=600).raw
    assert as_key(old, team).get(CAMPAIGNS).status_code == 200
    assert as_key(new, team).get(CAMPAIGNS).status_code == 200
    assert api_requests(key) == [(200, {"secret": "previous"}), (200, {})]


def test_a_call_with_an_old_secret_after_a_revoke_is_refused_and_recorded(as_key, key_for, owner, team):
    key, old = key_for(owner, team, permissions=["read:campaigns"])
    regenerate_key(key=key, actor=owner, grace_seconds=600)
    revoke_key(key=key, actor=owner)
    response = as_key(old, team).get(CAMPAIGNS)
    assert response.status_code == 401
    assert response.json()["code"] == "key_revoked"
    assert api_requests(key) == [(401, {"code": "key_revoked", "secret": "previous"})]


def test_key_events_carry_the_status_of_their_request(as_user, owner, team):
    client = as_user(owner, team)
    created = client.post("/api/v1/auth/api-keys", {"name": "k", "permissions": ["read"]}, format="json")
    key_id = created.json()["id"]
    client.post(f"/api/v1/auth/api-keys/{key_id}/regenerate", {}, format="json")
    client.put(f"/api/v1/auth/api-keys/{key_id}/revoke")
    client.delete(f"/api/v1/auth/api-keys/{key_id}")
    statuses = dict(AuditEvent.objects.filter(action__startswith="key.").values_list("action", "status_code"))
    assert statuses == {
        Action.KEY_CREATED: 201,
        Action.KEY_REGENERATED: 200,
        Action.KEY_REVOKED: 200,
        Action.KEY_DELETED: 204,
    }


def test_accepting_an_invitation_names_the_invitee_as_actor_and_the_inviter_in_data(as_user, admin, team):
    from .factories import UserFactory

    invitee = UserFactory(username="newcomer", email="newcomer@example.com")
    as_user(admin, team).post("/api/v1/team/invitations", {"email": invitee.email, "role": "member"}, format="json")
    token = re.search(r"token=(\S+)", mail.outbox[0].body).group(1)
    assert as_user(invitee).post("/api/v1/invitations/accept", {"token": token}, format="json").status_code == 201
    event = AuditEvent.objects.get(action=Action.MEMBER_ADDED)
    assert event.actor_id == invitee.pk and event.team_id == team.pk
    assert event.data["invited_by"] == str(admin.pk) and event.data["user_id"] == str(invitee.pk)


def test_a_key_is_shown_as_its_prefix_everywhere_and_raw_only_when_issued(as_user, as_key, owner, team):
    client = as_user(owner, team)
    issued = client.post("/api/v1/auth/api-keys", {"name": "k", "permissions": ["read"]}, format="json").json()
    raw, prefix = issued["raw_key"], issued["prefix"]
    assert prefix == raw[:11] and "key" not in issued
    listed = client.get("/api/v1/auth/api-keys").json()["results"][0]
    assert listed["prefix"] == prefix and "raw_key" not in listed
    assert as_key(raw, team).get("/api/v1/auth/me").json()["api_key"]["prefix"] == prefix
    event = client.get(f"/api/v1/auth/api-keys/{issued['id']}/audit-log").json()["results"][0]
    assert event["api_key"]["prefix"] == prefix
