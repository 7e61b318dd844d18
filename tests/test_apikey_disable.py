"""Disabling and enabling a key (NetBox's `enabled`): refused at once, on every node, until it is
enabled; audited; revocation stays final."""

import pytest
from django.utils import timezone

from access.scopes import Role
from apikeys.models import APIKey
from audit.models import Action, AuditEvent

from .factories import MembershipFactory, UserFactory, make_key
from .test_step_up import client_for, stale_session

pytestmark = pytest.mark.django_db

B = "/api/v1/auth/api-keys"


def test_a_disabled_key_is_refused_until_it_is_enabled_and_both_are_audited(as_user, as_key, owner, team):
    key, raw = make_key(owner, team, ["read"])
    api = as_user(owner, team)
    assert as_key(raw, team).get("/api/v1/campaigns").status_code == 200
    disabled = api.post(f"{B}/{key.pk}/disable")
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled" and disabled.json()["disabled_at"]
    refused = as_key(raw, team).get("/api/v1/campaigns")
    assert refused.status_code == 401 and refused.json()["code"] == "key_disabled"
    assert api.get(B, {"status": "disabled"}).json()["results"][0]["id"] == str(key.pk)
    enabled = api.post(f"{B}/{key.pk}/enable")
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    assert as_key(raw, team).get("/api/v1/campaigns").status_code == 200
    actions = list(AuditEvent.objects.filter(api_key_id=key.pk).values_list("action", flat=True))
    assert actions.count(Action.KEY_DISABLED) == 1 and actions.count(Action.KEY_ENABLED) == 1


def test_disabling_or_enabling_twice_records_once(as_user, owner, team):
    key, _ = make_key(owner, team, ["read"])
    api = as_user(owner, team)
    for _ in range(2):
        assert api.post(f"{B}/{key.pk}/disable").status_code == 200
    for _ in range(2):
        assert api.post(f"{B}/{key.pk}/enable").status_code == 200
    assert AuditEvent.objects.filter(action=Action.KEY_DISABLED).count() == 1
    assert AuditEvent.objects.filter(action=Action.KEY_ENABLED).count() == 1


def test_a_revoked_key_cannot_be_enabled(as_user, owner, team):
    key, _ = make_key(owner, team, ["read"])
    api = as_user(owner, team)
    api.post(f"{B}/{key.pk}/disable")
    APIKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    response = api.post(f"{B}/{key.pk}/enable")
    assert response.status_code == 409 and response.json()["code"] == "key_is_revoked"
    assert APIKey.objects.get(pk=key.pk).status == "revoked"


def test_an_admin_disables_a_members_key_but_a_member_cannot_touch_anothers(as_user, owner, team):
    member = MembershipFactory(team=team, role=Role.MEMBER, user=UserFactory(username="mem")).user
    other = MembershipFactory(team=team, role=Role.MEMBER, user=UserFactory(username="other")).user
    key, _ = make_key(member, team, ["read:campaigns"])
    assert as_user(other, team).post(f"{B}/{key.pk}/disable").status_code == 404
    assert APIKey.objects.get(pk=key.pk).disabled_at is None
    assert as_user(owner, team).post(f"{B}/{key.pk}/disable").status_code == 200
    assert as_user(member, team).post(f"{B}/{key.pk}/enable").status_code == 200


def test_a_key_cannot_disable_or_enable_keys(as_key, owner, team):
    key, raw = make_key(owner, team, ["admin"])
    assert as_key(raw, team).post(f"{B}/{key.pk}/disable").status_code == 403
    assert APIKey.objects.get(pk=key.pk).disabled_at is None


def test_disabling_needs_no_step_up_but_enabling_does(owner, team):
    key, _ = make_key(owner, team, ["read"])
    api = client_for(stale_session(owner).access_token, team)
    assert api.post(f"{B}/{key.pk}/disable").status_code == 200
    refused = api.post(f"{B}/{key.pk}/enable")
    assert refused.status_code == 403 and refused.json()["code"] == "reauthentication_required"
    assert APIKey.objects.get(pk=key.pk).disabled_at is not None
