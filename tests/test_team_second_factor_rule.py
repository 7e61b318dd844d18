"""A team's rule that every member uses a second factor (issue 27, item 5): PUT
/api/v1/team/second-factor-rule (teams.services.set_second_factor_rule), enforced on every
team-scoped request by the team step (access.context.team_rule_refusal) for a member's login and
the keys they own, never for the team's integrations.

Attacker's view: a member without a factor using their key instead of their login, or another
team; a non-owner (admin, key, stale session) changing the rule; an owner locking themself out; a
key served from a process's principal cache after the factor is removed or the rule turned on; a
flag that drifted from the factors.
"""

import time

import pyotp
import pytest
from django.core import mail
from rest_framework.test import APIClient

from access.scopes import Role
from accounts import mfa
from accounts.models import User
from audit.models import Action, AuditEvent
from infra import coherence
from teams.models import Membership, Team

from .factories import MembershipFactory, access_token, enrol_totp, make_integration, make_key
from .test_credential_rules import admin_token
from .test_principal_cache import _call, two_servers  # noqa: F401  (a fixture)
from .test_step_up import stale_session

pytestmark = pytest.mark.django_db

RULE = "/api/v1/team/second-factor-rule"
CAMPAIGNS = "/api/v1/campaigns"
TEAMS = "/api/v1/teams"
ENROL = "/api/v1/me/second-factors/totp"
CONFIRM = "/api/v1/me/second-factors/totp/confirm"
DISABLE = "/api/v1/me/second-factors/totp/disable"


def code(response):
    return response.json().get("code")


def refused(response) -> bool:
    return (response.status_code, code(response)) == (403, "second_factor_required")


def require(team, on=True):
    """Turn the rule on (or off) in the database, as an owner with a factor would through the API."""
    Team.objects.filter(pk=team.pk).update(require_second_factor=on)


@pytest.fixture
def cached(settings):
    settings.PRINCIPAL_CACHE = "on"
    coherence.clear_all()
    coherence._replace_clean()
    yield
    coherence.clear_all()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a block leaves for after the commit (the clean generation token)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- changing the rule ---------------------------------------------------------------------------


def test_an_owner_with_a_second_factor_turns_the_rule_on_and_off_audited_and_mailed_to_every_member(
    as_user, owner, admin, member, team
):
    enrol_totp(owner)
    enrol_totp(admin)
    mail.outbox.clear()
    api = as_user(owner, team)
    assert api.get(RULE).json() == {"required": False, "members_without_second_factor": 1}

    response = api.put(RULE, {"required": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"required": True, "members_without_second_factor": 1}
    assert Team.objects.get(pk=team.pk).require_second_factor is True
    assert api.get("/api/v1/team").json()["require_second_factor"] is True
    event = AuditEvent.objects.get(action=Action.TEAM_SECOND_FACTOR_REQUIRED)
    assert (event.team_id, event.actor_id, event.data) == (team.pk, owner.pk, {"members_without_second_factor": 1})
    mails = {message.to[0]: message for message in mail.outbox}
    assert set(mails) == {owner.email, admin.email, member.email}
    assert "does not have two-step verification yet" in mails[member.email].body
    assert "nothing changes for you" in mails[owner.email].body
    assert mails[member.email].subject == "Your GhostFlow team now requires two-step verification"

    # The same value again changes nothing and tells nobody.
    mail.outbox.clear()
    assert api.put(RULE, {"required": True}, format="json").status_code == 200
    assert AuditEvent.objects.filter(action=Action.TEAM_SECOND_FACTOR_REQUIRED).count() == 1
    assert mail.outbox == []

    response = api.put(RULE, {"required": False}, format="json")
    assert response.json() == {"required": False, "members_without_second_factor": 1}
    assert AuditEvent.objects.filter(action=Action.TEAM_SECOND_FACTOR_NOT_REQUIRED, actor_id=owner.pk).count() == 1
    assert sorted(message.to[0] for message in mail.outbox) == sorted([owner.email, admin.email, member.email])
    assert all("no longer requires" in message.subject for message in mail.outbox)


def test_an_owner_without_a_second_factor_cannot_turn_the_rule_on(as_user, owner, team):
    response = as_user(owner, team).put(RULE, {"required": True}, format="json")
    assert (response.status_code, code(response)) == (409, "own_second_factor_required")
    assert Team.objects.get(pk=team.pk).require_second_factor is False
    assert not AuditEvent.objects.filter(action=Action.TEAM_SECOND_FACTOR_REQUIRED).exists()


def test_only_an_owner_changes_the_rule_not_an_admin_a_member_or_a_key(as_user, owner, admin, member, team):
    for user in (owner, admin, member):
        enrol_totp(user)
    response = as_user(admin, team).put(RULE, {"required": True}, format="json")
    assert (response.status_code, code(response)) == (403, "owner_required")
    response = as_user(member, team).put(RULE, {"required": True}, format="json")
    assert (response.status_code, code(response)) == (403, "insufficient_scope")
    _, raw = make_key(owner, team, permissions=["admin"])
    by_key = APIClient()
    by_key.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_TEAM_ID=str(team.pk))
    response = by_key.put(RULE, {"required": True}, format="json")
    assert (response.status_code, code(response)) == (403, "interactive_login_required")
    assert Team.objects.get(pk=team.pk).require_second_factor is False


def test_changing_the_rule_needs_a_recent_authentication(owner, team):
    enrol_totp(owner)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {stale_session(owner).access_token}", HTTP_X_TEAM_ID=str(team.pk))
    response = api.put(RULE, {"required": True}, format="json")
    assert (response.status_code, code(response)) == (403, "reauthentication_required")
    assert Team.objects.get(pk=team.pk).require_second_factor is False
    assert api.get(RULE).status_code == 200  # reading it is no act


def test_the_team_patch_does_not_silently_ignore_the_rule(as_user, owner, team):
    enrol_totp(owner)
    response = as_user(owner, team).patch("/api/v1/team", {"require_second_factor": True}, format="json")
    assert (response.status_code, code(response)) == (400, "validation_error")
    assert "second-factor-rule" in str(response.json())
    assert Team.objects.get(pk=team.pk).require_second_factor is False


@pytest.mark.parametrize("value", ["yes", "true", 1, None])
def test_the_rule_takes_a_json_boolean_only(as_user, owner, team, value):
    enrol_totp(owner)
    response = as_user(owner, team).put(RULE, {"required": value}, format="json")
    assert (response.status_code, code(response)) == (400, "validation_error")
    assert Team.objects.get(pk=team.pk).require_second_factor is False


# --- what the rule does ----------------------------------------------------------------------------


def test_a_member_without_a_second_factor_is_refused_in_the_team_by_login_and_by_key(
    as_user, as_key, member, team, other_team
):
    MembershipFactory(team=other_team, user=member, role=Role.MEMBER)
    _, raw = make_key(member, team, permissions=["read:campaigns"])
    _, other_raw = make_key(member, other_team, permissions=["read:campaigns"])
    require(team)

    assert refused(as_user(member, team).get(CAMPAIGNS))
    assert refused(as_user(member, team).get("/api/v1/team"))
    assert refused(as_key(raw, team).get(CAMPAIGNS))
    # Another team, without the rule: unaffected, by login and by key.
    assert as_user(member, other_team).get(CAMPAIGNS).status_code == 200
    assert as_key(other_raw, other_team).get(CAMPAIGNS).status_code == 200
    # What is not a team's stays reachable, so they can enrol; the team list says where they lack one.
    api = as_user(member)
    assert api.get("/api/v1/auth/me").status_code == 200
    assert api.get("/api/v1/me/second-factors").status_code == 200
    teams = {row["id"]: row for row in api.get(TEAMS).json()["results"]}
    assert (teams[str(team.pk)]["require_second_factor"], teams[str(team.pk)]["second_factor_missing"]) == (True, True)
    assert teams[str(other_team.pk)]["second_factor_missing"] is False
    assert api.post(ENROL).status_code == 201


def test_the_key_audit_event_of_a_refused_request_says_so(as_key, member, team):
    _, raw = make_key(member, team, permissions=["read:campaigns"])
    require(team)
    assert refused(as_key(raw, team).get(CAMPAIGNS))
    event = AuditEvent.objects.filter(action=Action.API_REQUEST).latest("id")
    assert event.status_code == 403


def test_enrolling_lets_the_member_in_at_once_and_removing_the_factor_shuts_them_out_again(
    member, team, as_key, cached, committed
):
    """With the principal cache on: the key (and the login's user row) are cached while refused;
    the enrolment and the removal each replace the generation, so the next request sees them."""
    _, raw = make_key(member, team, permissions=["read:campaigns"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(member)}")
    in_team = {"HTTP_X_TEAM_ID": str(team.pk)}
    require(team)
    with committed():
        coherence.changed()  # the rule was set behind the services' back: a clean generation
    for _ in range(2):  # resolved and cached, refused
        assert refused(as_key(raw, team).get(CAMPAIGNS))
        assert refused(api.get(CAMPAIGNS, **in_team))

    with committed():
        secret = api.post(ENROL).json()["secret"]
        recovery = api.post(CONFIRM, {"code": pyotp.TOTP(secret).now()}, format="json").json()["recovery_codes"]
    assert User.objects.get(pk=member.pk).second_factor_enrolled is True
    assert as_key(raw, team).get(CAMPAIGNS).status_code == 200
    assert api.get(CAMPAIGNS, **in_team).status_code == 200
    assert as_key(raw, team).get(CAMPAIGNS).status_code == 200  # and from the cache

    with committed():
        assert api.post(DISABLE, {"code": recovery[0]}, format="json").status_code == 200
    assert User.objects.get(pk=member.pk).second_factor_enrolled is False
    assert refused(as_key(raw, team).get(CAMPAIGNS))
    assert refused(api.get(CAMPAIGNS, **in_team))


def test_the_rule_turned_on_and_off_reaches_cached_keys_and_logins_at_once(
    as_user, as_key, owner, member, team, cached, committed
):
    enrol_totp(owner)
    _, raw = make_key(member, team, permissions=["read:campaigns"])
    login = as_user(member, team)
    with committed():
        coherence.changed()
    for _ in range(2):
        assert as_key(raw, team).get(CAMPAIGNS).status_code == 200
        assert login.get(CAMPAIGNS).status_code == 200
    with committed():
        assert as_user(owner, team).put(RULE, {"required": True}, format="json").status_code == 200
    assert refused(as_key(raw, team).get(CAMPAIGNS))
    assert refused(login.get(CAMPAIGNS))
    with committed():
        assert as_user(owner, team).put(RULE, {"required": False}, format="json").status_code == 200
    assert as_key(raw, team).get(CAMPAIGNS).status_code == 200
    assert login.get(CAMPAIGNS).status_code == 200


def test_a_cached_key_would_outlive_a_flag_changed_behind_the_services_back(member, team, as_key, cached, committed):
    """The test above proves something: the key *is* served from the cache, so only the services'
    invalidation (accounts.mfa.second_factors_changed) makes the change seen at once."""
    _, raw = make_key(member, team, permissions=["read:campaigns"])
    enrol_totp(member)
    require(team)
    with committed():
        coherence.changed()
    assert as_key(raw, team).get(CAMPAIGNS).status_code == 200  # cached, enrolled
    User.objects.filter(pk=member.pk).update(second_factor_enrolled=False)  # no invalidation
    assert as_key(raw, team).get(CAMPAIGNS).status_code == 200  # still the cached row
    with committed():
        mfa.second_factors_changed(user=member)  # recomputed from the factors: still enrolled
    assert as_key(raw, team).get(CAMPAIGNS).status_code == 200
    with committed():
        mfa.disable_totp(user=member)
    assert refused(as_key(raw, team).get(CAMPAIGNS))


def test_an_owner_who_removes_their_factor_is_shut_out_like_anyone_until_they_enrol_again(as_user, owner, team):
    enrol_totp(owner)
    assert as_user(owner, team).put(RULE, {"required": True}, format="json").status_code == 200
    mfa.disable_totp(user=owner)
    assert refused(as_user(owner, team).get(RULE))
    enrol_totp(owner)
    assert as_user(owner, team).get(RULE).status_code == 200


def test_integrations_are_the_teams_and_carry_on(owner, member, team):
    issued = make_integration(owner, team, permissions=["read:campaigns"])
    require(team)  # the owner who made it has no second factor either
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ghost {admin_token(issued.admin_key)}", HTTP_X_TEAM_ID=str(team.pk))
    assert client.get(CAMPAIGNS).status_code == 200


def test_a_pending_enrolment_is_no_second_factor(as_user, member, team):
    require(team)
    mfa.begin_totp_enrolment(user=member)
    assert refused(as_user(member, team).get(CAMPAIGNS))


def test_the_flag_is_recomputed_from_the_factors_whatever_it_said(member):
    """accounts.mfa.second_factors_changed is the one place (passkeys call it too): it asks the
    factors, not the flag."""
    User.objects.filter(pk=member.pk).update(second_factor_enrolled=True)
    assert mfa.second_factors_changed(user=member) is False
    assert User.objects.get(pk=member.pk).second_factor_enrolled is False
    enrol_totp(member)
    assert User.objects.get(pk=member.pk).second_factor_enrolled is True
    mfa.disable_totp(user=member, reason="admin")
    assert User.objects.get(pk=member.pk).second_factor_enrolled is False


# --- what it costs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [False, True])
def test_the_rule_costs_a_warm_key_request_no_query(
    as_key, member, team, cached, committed, rule, django_assert_num_queries
):
    enrol_totp(member)
    require(team, rule)
    _, raw = make_key(member, team, permissions=["read:campaigns"])
    with committed():
        coherence.changed()
    assert as_key(raw, team).get(CAMPAIGNS).status_code == 200  # resolves the key, writes last_used_at
    with django_assert_num_queries(2):
        # 1. the page of campaigns
        # 2. the audit event INSERT
        assert as_key(raw, team).get(CAMPAIGNS).status_code == 200


@pytest.mark.parametrize("rule", [False, True])
def test_the_rule_costs_a_cold_key_request_no_query(as_key, member, team, rule, django_assert_num_queries):
    enrol_totp(member)
    require(team, rule)
    _, raw = make_key(member, team, permissions=["read:campaigns"])
    with django_assert_num_queries(4):
        # 1. the key, with its owner (and their second-factor flag), its team (and its rule) and the
        #    owner's membership: one SELECT (APIKeyQuerySet.for_authentication)
        # 2. last_used_at (its first use)
        # 3. the page of campaigns
        # 4. the audit event INSERT
        assert as_key(raw, team).get(CAMPAIGNS).status_code == 200
    coherence.clear_all()
    with django_assert_num_queries(3):  # the same, without the last_used_at write
        assert as_key(raw, team).get(CAMPAIGNS).status_code == 200


@pytest.mark.parametrize("rule", [False, True])
def test_the_rule_costs_a_login_request_no_query(as_user, member, team, rule, django_assert_num_queries):
    enrol_totp(member)
    require(team, rule)
    api = as_user(member, team)
    with django_assert_num_queries(3):
        # 1. the token's user (with its second-factor flag)
        # 2. the membership, with its team (and its rule)
        # 3. the page of campaigns
        assert api.get(CAMPAIGNS).status_code == 200


# --- two processes ---------------------------------------------------------------------------------


def test_enrolling_and_the_rule_are_seen_by_the_next_request_on_another_process(
    two_servers,  # noqa: F811
    owner,
    member,
    team,
):
    a, b = two_servers
    _, raw = make_key(member, team, permissions=["read:campaigns"])
    key_headers = {"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}
    owner_headers = {"Authorization": f"Bearer {access_token(owner)}", "X-Team-Id": str(team.pk)}
    member_headers = {"Authorization": f"Bearer {access_token(member)}"}
    enrol_totp(owner)
    for _ in range(3):  # B has resolved, and cached, the key
        assert _call(b, "GET", CAMPAIGNS, key_headers) == 200
    assert _call(a, "PUT", RULE, owner_headers, {"required": True}) == 200
    assert _call(b, "GET", CAMPAIGNS, key_headers) == 403
    # The member enrols through A; B lets the key in on its next request.
    secret = _json(a, "POST", ENROL, member_headers)["secret"]
    totp = pyotp.TOTP(secret)
    assert _call(a, "POST", CONFIRM, member_headers, {"code": totp.now()}) == 200
    assert _call(b, "GET", CAMPAIGNS, key_headers) == 200
    assert _call(a, "POST", DISABLE, member_headers, {"code": totp.at(time.time() + 30)}) == 200
    assert _call(b, "GET", CAMPAIGNS, key_headers) == 403
    assert Membership.objects.filter(team=team, user=member).exists()


def _json(url, method, path, headers):
    import json
    import urllib.request

    request = urllib.request.Request(
        url + path, data=b"{}", method=method, headers={**headers, "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
