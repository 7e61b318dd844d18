"""The audit log: one event per key request (denials and failures included), security events,
atomicity with the change it records, no secrets, and the two listings."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.test import Client
from django.utils import timezone

from access.scopes import Role
from accounts.passwords import set_password
from apikeys.models import APIKey
from apikeys.services import regenerate_key, revoke_key
from audit.models import Action, AuditEvent
from teams.models import Membership
from tracking.models import Campaign, Network

from .factories import make_key

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns"


@pytest.fixture
def key(owner, team):
    return make_key(owner, team, ["read:campaigns", "write:campaigns"])


def requests_of(key_obj):
    return list(AuditEvent.objects.filter(action=Action.API_REQUEST, api_key=key_obj).order_by("created_at"))


@pytest.mark.parametrize(
    "method,path,body,status",
    [
        ("get", CAMPAIGNS, None, 200),
        ("post", CAMPAIGNS, {"name": "c"}, 201),
        ("post", CAMPAIGNS, {"name": ""}, 400),
        ("get", "/api/v1/stats", None, 403),
        ("get", f"{CAMPAIGNS}/00000000-0000-0000-0000-000000000000", None, 404),
        ("put", CAMPAIGNS, None, 405),
    ],
)
def test_every_key_request_leaves_exactly_one_event_with_its_final_status(
    as_key, key, team, method, path, body, status
):
    client = as_key(key[1], team)
    response = getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)
    assert response.status_code == status
    (event,) = requests_of(key[0])
    assert event.status_code == status
    assert event.method == method.upper()
    assert event.path == path
    assert event.team_id == team.pk
    assert event.actor_id == key[0].user_id
    assert event.key_prefix == key[0].prefix and event.key_name == key[0].name
    if status >= 400:
        assert event.data["code"] == response.json()["code"]


@pytest.mark.urls("tests.urls")
def test_a_5xx_is_recorded_and_the_half_written_change_rolled_back(key_for, owner, team):
    _, raw = key_for(owner, team, ["read:networks", "write:networks"])
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_TEAM_ID=str(team.pk))
    assert client.get("/api/v1/team-boom").status_code == 500
    assert client.post("/api/v1/team-boom").status_code == 500
    assert not Network.objects.exists()
    assert [e.status_code for e in requests_of(APIKey.objects.get())] == [500, 500]


def test_a_revoked_key_is_recorded_as_a_denial(as_key, key, team, owner):
    revoke_key(key=key[0], actor=owner)
    as_key(key[1], team).get(CAMPAIGNS)
    (event,) = requests_of(key[0])
    assert (event.status_code, event.data["code"]) == (401, "key_revoked")


def test_an_expired_key_is_recorded_as_a_denial(as_key, owner, team):
    expiring, raw = make_key(owner, team, ["read"], expires_at=timezone.now() + timedelta(minutes=1))
    APIKey.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    as_key(raw, team).get(CAMPAIGNS)
    (event,) = requests_of(expiring)
    assert (event.status_code, event.data["code"]) == (401, "key_expired")


def test_a_key_sent_with_the_wrong_team_is_recorded_against_the_key(as_key, key, other_team):
    as_key(key[1], other_team).get(CAMPAIGNS)
    (event,) = requests_of(key[0])
    assert event.status_code == 403
    assert event.data == {"code": "key_team_mismatch", "requested_team": str(other_team.pk)}
    assert event.team_id == key[0].team_id  # visible to the key's team, not the probed one


def test_a_key_without_team_header_is_recorded(as_key, key):
    as_key(key[1]).get(CAMPAIGNS)
    assert [e.status_code for e in requests_of(key[0])] == [400]


def test_jwt_requests_and_unknown_keys_record_no_request_event(as_user, as_key, owner, team):
    as_user(owner, team).get(CAMPAIGNS)
    as_key("gf_" + "a" * 38, team).get(CAMPAIGNS)
    assert not AuditEvent.objects.filter(action=Action.API_REQUEST).exists()


def test_if_the_event_cannot_be_written_the_change_is_rolled_back_and_the_request_fails(as_key, key, team, monkeypatch):
    def broken(*args, **kwargs):
        raise DatabaseError("audit table unavailable")

    monkeypatch.setattr("audit.services._insert", broken)
    client = as_key(key[1], team)
    client.raise_request_exception = False
    response = client.post(CAMPAIGNS, {"name": "must not exist"}, format="json")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert not Campaign.objects.exists()
    # Reads fail too rather than go unrecorded.
    assert client.get(CAMPAIGNS).status_code == 500


def test_a_security_event_and_its_change_commit_together(as_user, admin, member, team, monkeypatch):
    monkeypatch.setattr("audit.services._insert", lambda *a, **k: (_ for _ in ()).throw(DatabaseError("down")))
    client = as_user(admin, team)
    client.raise_request_exception = False
    response = client.patch(f"/api/v1/team/members/{member.pk}", {"role": "viewer"}, format="json")
    assert response.status_code == 500
    assert Membership.objects.get(user=member).role == Role.MEMBER


def test_security_events_are_recorded(as_user, client, owner, member, admin, team, password):
    key, _ = make_key(owner, team, ["read"])
    regenerate_key(key=key, actor=owner)
    revoke_key(key=key, actor=owner)
    as_user(owner, team).delete(f"/api/v1/auth/api-keys/{key.pk}")
    client.post("/api/v1/auth/login", {"username": "owner", "password": "nope-nope-1"}, format="json")
    pair = client.post("/api/v1/auth/login", {"username": "owner", "password": password}, format="json").json()
    client.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")
    client.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")
    second = client.post("/api/v1/auth/login", {"username": "owner", "password": password}, format="json").json()
    client.post("/api/v1/auth/logout", {"refresh_token": second["refresh_token"]}, format="json")
    set_password(user=member, password="a-new-password-9")
    as_user(admin, team).patch(f"/api/v1/team/members/{member.pk}", {"role": "viewer"}, format="json")
    as_user(admin, team).delete(f"/api/v1/team/members/{member.pk}")
    as_user(owner, team).patch("/api/v1/team", {"name": "Renamed"}, format="json")
    created = as_user(owner).post("/api/v1/teams", {"name": "Temp"}, format="json").json()
    as_user(owner, type(team).objects.get(pk=created["id"])).delete("/api/v1/team")
    temp = created["id"]
    # (action, actor, team) of every event, in order: who did what, where.
    events = [
        (e.action, e.actor_id, str(e.team_id) if e.team_id else None)
        for e in AuditEvent.objects.exclude(action=Action.API_REQUEST).order_by("created_at", "id")
    ]
    t = str(team.pk)
    assert events == [
        (Action.KEY_CREATED, owner.pk, t),
        (Action.KEY_REGENERATED, owner.pk, t),
        (Action.KEY_REVOKED, owner.pk, t),
        (Action.KEY_DELETED, owner.pk, t),
        (Action.LOGIN_FAILED, None, None),
        (Action.LOGIN_SUCCEEDED, owner.pk, None),
        (Action.REFRESH_REUSE, owner.pk, None),
        (Action.LOGIN_SUCCEEDED, owner.pk, None),
        (Action.LOGOUT, owner.pk, None),
        (Action.PASSWORD_CHANGED, member.pk, None),
        (Action.MEMBER_ROLE_CHANGED, admin.pk, t),
        (Action.MEMBER_REMOVED, admin.pk, t),
        (Action.TEAM_UPDATED, owner.pk, t),
        (Action.TEAM_CREATED, owner.pk, temp),
        (Action.TEAM_DELETED, owner.pk, temp),
    ]


def test_no_event_ever_holds_a_secret(as_key, as_user, client, key, team, owner, password):
    raw = key[1]
    c = as_key(raw, team)
    c.get(CAMPAIGNS)
    c.get(f"{CAMPAIGNS}?api_key={raw}")
    c.post(CAMPAIGNS, {"name": raw}, format="json")
    pair = client.post("/api/v1/auth/login", {"username": "owner", "password": password}, format="json").json()
    client.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")
    client.post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")
    regenerated = as_user(owner, team).post(f"/api/v1/auth/api-keys/{key[0].pk}/regenerate", {}, format="json")
    secrets = [raw, password, pair["refresh_token"], pair["access_token"], regenerated.json()["raw_key"], key[0].digest]
    for event in AuditEvent.objects.all():
        text = " ".join(str(v) for v in event.__dict__.values())
        assert not any(secret in text for secret in secrets), event.action


def test_client_ip_ignores_forwarded_for_unless_a_proxy_is_trusted(as_key, key, team, settings):
    client = as_key(key[1], team)
    client.get(CAMPAIGNS, HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="10.0.0.1")
    settings.TRUSTED_PROXY_COUNT = 1
    client.get(CAMPAIGNS, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7", REMOTE_ADDR="10.0.0.1")
    assert [e.ip for e in requests_of(key[0])] == ["10.0.0.1", "203.0.113.7"]


def test_user_agent_is_truncated(as_key, key, team):
    as_key(key[1], team).get(CAMPAIGNS, HTTP_USER_AGENT="x" * 1000)
    assert len(requests_of(key[0])[0].user_agent) == 255


# --- listings ---------------------------------------------------------------


def key_log(key_obj):
    return f"/api/v1/auth/api-keys/{key_obj.pk}/audit-log"


def test_the_key_log_is_for_its_owner_and_admins_newest_first(as_key, as_user, team, admin, member, viewer):
    key_obj, raw = make_key(member, team, ["read:campaigns"])
    for _ in range(3):
        as_key(raw, team).get(CAMPAIGNS)
    owner_view = as_user(member, team).get(key_log(key_obj))
    assert owner_view.status_code == 200
    events = owner_view.json()["results"]
    assert [e["action"] for e in events[:3]] == ["api_request"] * 3
    assert events[-1]["action"] == "key.created"
    times = [e["created_at"] for e in events]
    assert times == sorted(times, reverse=True)
    assert events[0]["api_key"] == {"id": str(key_obj.pk), "prefix": key_obj.prefix, "name": key_obj.name}
    assert as_user(admin, team).get(key_log(key_obj)).status_code == 200
    assert as_user(viewer, team).get(key_log(key_obj)).status_code == 404


def test_a_key_cannot_read_its_own_log(as_key, key, team):
    assert as_key(key[1], team).get(key_log(key[0])).status_code == 403


def test_another_teams_key_log_is_404(as_user, owner, outsider, other_team, team):
    foreign, _ = make_key(outsider, other_team, ["read"])
    assert as_user(owner, team).get(key_log(foreign)).status_code == 404


def test_the_team_log_needs_admin_and_shows_only_this_team(as_user, as_key, owner, member, outsider, team, other_team):
    _, raw = make_key(owner, team, ["read"])
    _, foreign_raw = make_key(outsider, other_team, ["read"])
    as_key(raw, team).get(CAMPAIGNS)
    as_key(foreign_raw, other_team).get(CAMPAIGNS)
    response = as_user(owner, team).get("/api/v1/audit-log")
    assert response.status_code == 200
    teams = set(
        AuditEvent.objects.filter(pk__in=[e["id"] for e in response.json()["results"]]).values_list("team", flat=True)
    )
    assert teams == {team.pk}
    denied = as_user(member, team).get("/api/v1/audit-log")
    assert denied.status_code == 403
    assert denied.json()["required_scope"] == "admin"


def test_team_log_filters(as_user, as_key, owner, team):
    key_obj, raw = make_key(owner, team, ["read:campaigns"])
    client = as_key(raw, team)
    client.get(CAMPAIGNS)
    client.get("/api/v1/stats")
    api = as_user(owner, team)

    def actions(**params):
        return [(e["action"], e["status_code"]) for e in api.get("/api/v1/audit-log", params).json()["results"]]

    assert actions(status="4xx") == [("api_request", 403)]
    assert actions(action="key.created") == [("key.created", 201)]
    assert ("key.created", 201) in actions(status="2xx")  # key events carry their status
    assert len(actions(key=str(key_obj.pk))) == 3
    assert len(actions(actor=str(owner.pk))) == 3
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert actions(since=future) == []
    assert len(actions(until=future)) == 3


@pytest.mark.parametrize(
    "params",
    [
        {"status": "6xx"},
        {"action": "nope"},
        {"key": "x"},
        {"actor": "1"},
        {"since": "yesterday"},
        {"until": "2026-01-01"},
    ],
    ids=str,
)
def test_bad_log_filters_are_400(as_user, owner, team, params):
    response = as_user(owner, team).get("/api/v1/audit-log", params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filter"


def test_the_cursor_is_stable_while_new_events_arrive(as_user, as_key, owner, team):
    _, raw = make_key(owner, team, ["read"])
    client = as_key(raw, team)
    for _ in range(12):
        client.get(CAMPAIGNS)
    api = as_user(owner, team)
    first = api.get("/api/v1/audit-log", {"page_size": 5}).json()
    for _ in range(7):  # arrive while the reader pages
        client.get(CAMPAIGNS)
    seen = [e["id"] for e in first["results"]]
    page = first
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [e["id"] for e in page["results"]]
    assert len(seen) == len(set(seen)) == 13  # 12 requests + key.created, no duplicates or gaps


def test_the_log_page_size_is_bounded(as_user, owner, team):
    make_key(owner, team, ["read"])
    response = as_user(owner, team).get("/api/v1/audit-log", {"page_size": 100000})
    assert response.status_code == 200
    assert "count" not in response.json()


# --- pruning and admin ------------------------------------------------------


def test_prune_deletes_old_events_in_batches_and_reports(owner, team, capsys):
    make_key(owner, team, ["read"])
    for _ in range(7):
        make_key(owner, team, ["read"])
    AuditEvent.objects.update(created_at=timezone.now() - timedelta(days=100))
    make_key(owner, team, ["read"])  # a fresh event stays
    call_command("prune_audit", "--older-than", "90d", "--batch-size", "3")
    out = capsys.readouterr().out
    assert "Deleted 8 audit events" in out and "in 3 batches" in out
    assert AuditEvent.objects.count() == 1


def test_prune_defaults_to_the_retention_setting(owner, team, settings, capsys):
    settings.AUDIT_RETENTION_DAYS = 10
    make_key(owner, team, ["read"])
    AuditEvent.objects.update(created_at=timezone.now() - timedelta(days=11))
    from audit.management.commands import prune_audit

    call_command(prune_audit.Command(), older_than=f"{settings.AUDIT_RETENTION_DAYS}d")
    assert AuditEvent.objects.count() == 0


def test_prune_dry_run_deletes_nothing(owner, team, capsys):
    make_key(owner, team, ["read"])
    AuditEvent.objects.update(created_at=timezone.now() - timedelta(days=100))
    call_command("prune_audit", "--dry-run")
    assert "Would delete 1" in capsys.readouterr().out
    assert AuditEvent.objects.count() == 1


@pytest.mark.parametrize("age", ["0d", "ninety", "-5d", "90"])
def test_prune_refuses_a_bad_age(age):
    with pytest.raises(CommandError):
        call_command("prune_audit", "--older-than", age)


def test_admin_is_read_only(owner, team):
    make_key(owner, team, ["read"])
    event = AuditEvent.objects.get()
    operator = Client()
    operator.force_login(type(owner).objects.create_superuser("op", "op@example.com", "pw-op-12345"))
    assert operator.get("/admin/audit/auditevent/", {"q": event.key_prefix}).status_code == 200
    assert operator.get("/admin/audit/auditevent/", {"status_class": "4"}).status_code == 200
    assert operator.get("/admin/audit/auditevent/add/").status_code == 403
    operator.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "login.failed"})
    event.refresh_from_db()
    assert event.action == Action.KEY_CREATED
    assert operator.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403


def test_a_deleted_teams_history_outlives_it(as_user, owner, team):
    make_key(owner, team, ["read"])
    assert as_user(owner, team).delete("/api/v1/team").status_code == 204
    actions = set(AuditEvent.objects.filter(team_id=team.pk).values_list("action", flat=True))
    assert actions == {Action.KEY_CREATED, Action.TEAM_DELETED}


def test_event_ids_are_time_ordered_uuid7():
    from audit.models import uuid7

    ids = [uuid7() for _ in range(50)]
    assert all(u.version == 7 and u.variant == "specified in RFC 4122" for u in ids)
    assert [u.int >> 80 for u in ids] == sorted(u.int >> 80 for u in ids)
    assert len(set(ids)) == 50


def test_event_ids_made_one_after_the_other_are_in_order_within_a_millisecond():
    # The live stream resumes after the last id a client got: a later event needs a larger id.
    from audit.models import uuid7

    ids = [uuid7() for _ in range(2000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert all(u.version == 7 and u.variant == "specified in RFC 4122" for u in ids)
