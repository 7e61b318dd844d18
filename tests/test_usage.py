"""Usage at a glance (usage/): the worker's rollup of the audit log per key, integration and team
per hour, and the three usage endpoints that read it (never the audit table)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apikeys.services import revoke_key
from audit.middleware import flush_key_refusals
from audit.models import Action
from audit.services import record_event
from infra import background, request_context, tally
from integrations.tokens import sign
from usage import rollup
from usage.models import RollupState, Subject, UsageHour

from .factories import make_integration, make_key

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns"
# A fixed hour of the current month, so that PostgreSQL files the events in a month partition.
NOW = datetime.now(UTC).replace(day=1, hour=10, minute=30, second=0, microsecond=0)
HOUR = NOW.replace(minute=0)


@pytest.fixture
def at():
    """at(moment): travel there (the clock stays still), for the requests and the rollup alike."""
    travels = []

    def go(moment: datetime):
        while travels:
            travels.pop().stop()
        travel = time_machine.travel(moment, tick=False)
        travel.start()
        travels.append(travel)

    yield go
    while travels:
        travels.pop().stop()


def counted_at(at, moment):
    """Travel to `moment` and run the rollup there (the tests' lag is 0: what came before counts)."""
    at(moment)
    return rollup.roll_up()


def key_client(raw, team, remote="203.0.113.7", agent="deploy-bot/1.0"):
    client = APIClient(REMOTE_ADDR=remote, HTTP_USER_AGENT=agent)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_TEAM_ID=str(team.pk))
    return client


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def usage(api, path, **params):
    response = api.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_keys_requests_are_counted_by_status_refusal_route_and_last_use(at, as_user, owner, team):
    key, raw = make_key(owner, team, ["read:campaigns"])
    at(NOW)
    client = key_client(raw, team)
    assert client.get(CAMPAIGNS).status_code == 200
    assert client.get(CAMPAIGNS).status_code == 200
    assert client.get(f"{CAMPAIGNS}/{uuid.uuid4()}").status_code == 404
    assert client.get(f"{CAMPAIGNS}/{uuid.uuid4()}").status_code == 404
    assert client.get("/api/v1/offers").status_code == 403  # out of the key's scopes
    at(NOW + timedelta(minutes=5))
    key_client(raw, team, remote="2001:db8::9", agent="laptop/2").get(CAMPAIGNS)
    assert counted_at(at, NOW + timedelta(minutes=6)) == 1  # one slice: from the first event to now

    answer = usage(as_user(owner, team), f"/api/v1/auth/api-keys/{key.pk}/usage")
    assert answer["subject"] == {"type": "key", "id": str(key.pk)}
    assert answer["totals"] == {
        "requests": 6,
        "2xx": 3,
        "3xx": 0,
        "4xx": 3,
        "5xx": 0,
        "refusals": {"not_found": 2, "insufficient_scope": 1},
    }
    assert answer["top_routes"] == [
        {"route": "GET /api/v1/campaigns", "requests": 3},
        {"route": "GET /api/v1/campaigns/{id}", "requests": 2},
        {"route": "GET /api/v1/offers", "requests": 1},
    ]
    assert answer["last_used"] == {"at": iso(NOW + timedelta(minutes=5)), "ip": "2001:db8::9", "user_agent": "laptop/2"}
    assert answer["granularity"] == "hour" and len(answer["series"]) == 24
    current = answer["series"][-1]
    assert current["start"] == iso(HOUR) and current["requests"] == 6
    assert sum(point["requests"] for point in answer["series"]) == 6
    assert answer["as_of"] == iso(NOW + timedelta(minutes=6))


def test_the_team_counts_every_key_integration_and_deleted_key(at, as_user, owner, member, team):
    _own, own_raw = make_key(owner, team, ["read"])
    theirs, their_raw = make_key(member, team, ["read:campaigns"])
    gone, gone_raw = make_key(owner, team, ["read"], name="gone")
    issued = make_integration(owner, team, ["read"])
    at(NOW)
    key_client(own_raw, team).get(CAMPAIGNS)
    key_client(their_raw, team).get(CAMPAIGNS)
    key_client(their_raw, team).get(CAMPAIGNS)
    key_client(gone_raw, team).get(CAMPAIGNS)
    ghost = APIClient().get(
        CAMPAIGNS, HTTP_AUTHORIZATION=f"Ghost {sign(issued.admin_key)}", HTTP_X_TEAM_ID=str(team.pk)
    )
    assert ghost.status_code == 200
    revoke_key(key=gone, actor=owner)
    gone.delete()  # its events keep their team; the key's own link is gone
    counted_at(at, NOW + timedelta(minutes=1))

    api = as_user(owner, team)
    assert usage(api, "/api/v1/usage")["totals"]["requests"] == 5
    assert usage(api, f"/api/v1/auth/api-keys/{theirs.pk}/usage")["totals"]["requests"] == 2
    integration = usage(api, f"/api/v1/integrations/{issued.integration.pk}/usage")
    assert integration["subject"]["type"] == "integration" and integration["totals"]["requests"] == 1
    assert UsageHour.objects.across_teams(reason="test").filter(subject=Subject.KEY).count() == 2


def test_content_key_use_and_key_limit_refusals_counted_per_minute_are_counted(at, as_user, owner, team, monkeypatch):
    issued = make_integration(owner, team, ["read"])
    key, raw = make_key(owner, team, ["read"], rate_limits=[{"limit": 2, "seconds": 3600}])
    minute = [int(NOW.timestamp() // 60)]
    monkeypatch.setattr(tally.time, "time", lambda: minute[0] * 60 + 1)
    at(NOW)
    content = APIClient()
    for _ in range(4):
        assert content.get(f"/api/content/v1/campaigns/?key={issued.content_key}").status_code == 200
    statuses = [key_client(raw, team).get(CAMPAIGNS).status_code for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
    minute[0] += 1
    at(NOW + timedelta(minutes=1))
    content.get(f"/api/content/v1/campaigns/?key={issued.content_key}")  # writes the last minute's count
    flush_key_refusals(key)
    counted_at(at, NOW + timedelta(minutes=2))

    api = as_user(owner, team)
    of_key = usage(api, f"/api/v1/auth/api-keys/{key.pk}/usage")["totals"]
    assert (of_key["requests"], of_key["2xx"], of_key["4xx"]) == (5, 2, 3)
    assert of_key["refusals"] == {"key_rate_limited": 3}
    of_integration = usage(api, f"/api/v1/integrations/{issued.integration.pk}/usage")["totals"]
    assert (of_integration["requests"], of_integration["2xx"]) == (4, 4)
    assert usage(api, "/api/v1/usage")["totals"]["requests"] == 9


def test_each_event_is_counted_once_however_often_it_runs_and_only_after_the_lag(at, settings, owner, team):
    settings.USAGE_LAG_SECONDS = 60
    key, raw = make_key(owner, team, ["read"])
    at(HOUR + timedelta(minutes=10))
    key_client(raw, team).get(CAMPAIGNS)
    rows = UsageHour.objects.across_teams(reason="test")
    counted_at(at, HOUR + timedelta(minutes=10, seconds=30))
    assert not rows.exists()  # within the lag: its transaction may not have committed everywhere
    assert RollupState.objects.get().counted_until == HOUR + timedelta(minutes=9, seconds=30)
    for minutes in (12, 12, 13, 20):
        counted_at(at, HOUR + timedelta(minutes=minutes))
    assert sorted(rows.values_list("subject", "requests")) == [("key", 1), ("team", 1)]

    at(HOUR + timedelta(minutes=21))
    record_event(action=Action.API_REQUEST, team_id=team.pk, api_key=key, status_code=200)
    counted_at(at, HOUR + timedelta(minutes=21, seconds=10))
    assert rows.get(subject="key").requests == 1
    counted_at(at, HOUR + timedelta(minutes=23))
    assert rows.get(subject="key").requests == 2

    # An event whose row appears after the lag has passed its id (a transaction held open for
    # minutes, a server's clock minutes slow) is not counted: the lag is the bound (the docs say so).
    at(HOUR + timedelta(minutes=15))
    record_event(action=Action.API_REQUEST, team_id=team.pk, api_key=key, status_code=200)
    counted_at(at, HOUR + timedelta(minutes=30))
    assert rows.get(subject="key").requests == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer: no lock to skip")
def test_a_second_worker_skips_the_run_while_the_first_holds_the_state(at, owner, team, transactional_db):
    import threading

    _key, raw = make_key(owner, team, ["read"])
    at(NOW)
    key_client(raw, team).get(CAMPAIGNS)
    at(NOW + timedelta(minutes=1))
    rollup.roll_up()  # makes the state row
    held, release = threading.Event(), threading.Event()

    def first_worker():
        from django.db import connection as own
        from django.db import transaction

        with transaction.atomic():
            RollupState.objects.select_for_update().get(pk=1)
            held.set()
            release.wait(10)
        own.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    assert held.wait(10)
    try:
        assert counted_at(at, NOW + timedelta(minutes=5)) == 0
    finally:
        release.set()
        worker.join()
    assert counted_at(at, NOW + timedelta(minutes=5)) == 1


def test_a_first_run_starts_at_the_oldest_event_kept_and_rows_past_retention_go(at, settings, owner, team):
    settings.USAGE_RETENTION_DAYS = 2
    _key, raw = make_key(owner, team, ["read"])
    at(HOUR - timedelta(days=5))
    key_client(raw, team).get(CAMPAIGNS)  # older than the retention: never rolled up
    at(HOUR - timedelta(hours=30))
    key_client(raw, team).get(CAMPAIGNS)
    assert counted_at(at, NOW) == 31  # hour-long slices from the oldest event kept to now
    rows = UsageHour.objects.across_teams(reason="test").filter(subject=Subject.KEY)
    assert list(rows.values_list("hour", "requests")) == [(HOUR - timedelta(hours=30), 1)]
    counted_at(at, NOW + timedelta(days=1, hours=7))
    assert not rows.exists()  # past USAGE_RETENTION_DAYS


def test_days_are_summed_from_hours_and_the_series_has_every_period(at, as_user, owner, team):
    key, raw = make_key(owner, team, ["read"])
    for moment in (NOW - timedelta(days=2), NOW - timedelta(days=2, hours=1), NOW):
        at(moment)
        key_client(raw, team).get(CAMPAIGNS)
    counted_at(at, NOW + timedelta(minutes=1))
    answer = usage(as_user(owner, team), f"/api/v1/auth/api-keys/{key.pk}/usage", granularity="day", periods=7)
    assert answer["granularity"] == "day" and len(answer["series"]) == 7
    assert [point["requests"] for point in answer["series"]] == [0, 0, 0, 0, 2, 0, 1]
    assert answer["since"] == iso(HOUR.replace(hour=0) - timedelta(days=6))
    assert answer["until"] == iso(HOUR.replace(hour=0) + timedelta(days=1))


def test_the_last_use_is_known_even_when_it_is_older_than_the_window(at, as_user, owner, team):
    key, raw = make_key(owner, team, ["read"])
    at(NOW - timedelta(days=3))
    key_client(raw, team, remote="198.51.100.4").get(CAMPAIGNS)
    counted_at(at, NOW)
    answer = usage(as_user(owner, team), f"/api/v1/auth/api-keys/{key.pk}/usage")
    assert answer["totals"]["requests"] == 0
    assert answer["last_used"]["ip"] == "198.51.100.4"


@pytest.mark.parametrize(
    "params",
    [
        {"granularity": "week"},
        {"periods": "0"},
        {"periods": "169"},
        {"periods": "abc"},
        {"periods": "٣"},
        {"granularity": "day", "periods": "91"},
    ],
)
def test_a_bad_window_is_a_400_invalid_filter(as_user, owner, team, params):
    response = as_user(owner, team).get("/api/v1/usage", params)
    assert response.status_code == 400 and response.json()["code"] == "invalid_filter"


def test_who_sees_which_usage(as_user, owner, admin, member, viewer, outsider, team, other_team):
    own, _ = make_key(member, team, ["read:campaigns"])
    others, _ = make_key(owner, team, ["read"])
    foreign, foreign_raw = make_key(outsider, other_team, ["admin"])
    issued = make_integration(owner, team, ["read"])
    as_member = as_user(member, team)
    assert as_member.get(f"/api/v1/auth/api-keys/{own.pk}/usage").status_code == 200  # their own key
    assert as_member.get(f"/api/v1/auth/api-keys/{others.pk}/usage").status_code == 404  # not theirs
    assert as_member.get("/api/v1/usage").status_code == 403  # the team's is the admins'
    assert as_member.get(f"/api/v1/integrations/{issued.integration.pk}/usage").status_code == 403
    as_admin = as_user(admin, team)
    assert as_admin.get(f"/api/v1/auth/api-keys/{others.pk}/usage").status_code == 200
    assert as_admin.get("/api/v1/usage").status_code == 200
    assert as_admin.get(f"/api/v1/auth/api-keys/{foreign.pk}/usage").status_code == 404  # another team's
    assert as_user(viewer, team).get("/api/v1/usage").status_code == 403
    # A key is not an interactive login: it cannot read a key's usage, its own included.
    response = key_client(foreign_raw, other_team).get(f"/api/v1/auth/api-keys/{foreign.pk}/usage")
    assert response.status_code == 403


def test_the_team_usage_of_another_team_is_refused_like_any_team_endpoint(as_user, owner, outsider, team):
    response = as_user(outsider, team).get("/api/v1/usage")
    assert response.status_code == 403


def test_a_usage_page_reads_the_rollup_in_three_queries_whatever_the_log_size(at, as_user, owner, team):
    key, _raw = make_key(owner, team, ["read"])
    api = as_user(owner, team)
    path = f"/api/v1/auth/api-keys/{key.pk}/usage"
    api.get(path)  # warm: the first request of a process reads more (the principal cache)
    with CaptureQueriesContext(connection) as queries:
        assert api.get(path).status_code == 200
    usage_queries = [q["sql"] for q in queries.captured_queries if "usage_" in q["sql"]]
    # 1. the window's hours; 2. the last hour with a use (none in the window); 3. the rollup's state
    assert len(usage_queries) == 3, usage_queries
    assert not any("audit_auditevent" in q["sql"] for q in queries.captured_queries)


def test_the_worker_runs_the_rollup_as_a_periodic_job(settings):
    seconds, job = background.PERIODIC["usage.rollup.run"]
    assert job is rollup.run and seconds == settings.USAGE_ROLLUP_SECONDS


def test_a_run_replaces_only_its_hours_and_reads_the_log_by_primary_key_range(at, owner, team):
    _key, raw = make_key(owner, team, ["read"])
    at(NOW)
    key_client(raw, team).get(CAMPAIGNS)
    at(NOW + timedelta(minutes=1))
    with CaptureQueriesContext(connection) as queries:
        rollup.roll_up()
    reads = [q["sql"] for q in queries.captured_queries if "audit_auditevent" in q["sql"]]
    assert reads and all('"id" >=' in sql for sql in reads), reads
    assert sum('"id" <' in sql for sql in reads) == 3, reads  # the slice's three reads; the other finds the start


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/api/v1/campaigns/3f1c6e0a-1b2c-4d5e-8f90-123456789abc", "GET /api/v1/campaigns/{id}"),
        ("PATCH", "/api/v1/offers/42", "PATCH /api/v1/offers/{id}"),
        ("GET", "/api/v1/stats", "GET /api/v1/stats"),
        ("GET", "/api/v1/campaigns/3f1c6e0a1b2c4d5e8f90123456789abc/x", "GET /api/v1/campaigns/{id}/x"),
    ],
)
def test_routes_take_the_ids_out(method, path, route):
    assert rollup.route_of(method, path) == route


def test_an_event_outside_any_request_with_a_team_but_no_subject_counts_for_the_team(at, owner, team):
    at(NOW)
    with request_context.use(None):
        record_event(action=Action.API_REQUEST, team_id=team.pk, status_code=500)
    counted_at(at, NOW + timedelta(minutes=1))
    row = UsageHour.objects.across_teams(reason="test").get()
    assert (row.subject, row.subject_id, row.requests, row.by_status) == ("team", team.pk, 1, {"5xx": 1})
