"""The live audit stream, attacked: credentials that should no longer open or hold a stream,
tokens used where they are no credential, replays, floods, cursors and filters aimed at another
team, inputs that try for a 500. The WSGI ones use Django's test client (replay-only answer); the
live ones run uvicorn in a thread, with the helpers of test_audit_stream_live.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import timedelta

import httpx
import jwt
import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from access.scopes import Role
from apikeys.services import regenerate_key
from audit import selectors
from audit.models import Action, AuditEvent
from audit.services import record_event
from integrations.services import regenerate_admin_key
from integrations.tokens import sign
from livestream import holders, tokens
from teams.models import Membership
from teams.services import Actor, change_role

from . import test_audit_stream_live as live
from .factories import MembershipFactory, access_token, make_integration, make_key
from .test_audit_stream import (
    STREAM_URL,
    TOKEN_URL,
    events,
    messages,
    open_with,
    problem,
    reads_the_replay,
    stream_token,
)
from .test_audit_stream_live import SSE, STREAM, login_headers, token_for

# The live module's fixtures, used here too.
asgi_server = live.asgi_server
stream_settings = live.stream_settings

pytestmark = pytest.mark.django_db


def refused(response, status: int, code: str) -> None:
    """`problem`, but a stream that opened (200, streaming) fails with a readable message."""
    assert response.status_code == status, f"expected {status} {code}, got {response.status_code}"
    problem(response, status, code)


def _integration_client(issued, team) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Ghost {sign(issued.admin_key)}", HTTP_X_TEAM_ID=str(team.pk))
    return c


# --- credentials that changed since the token or the stream was made ----------------------------


def test_a_token_minted_with_a_keys_secret_is_refused_once_that_secret_is_regenerated_away(as_key, owner, team):
    """A stream token remembers the secret that asked for it, not just the key: once that secret is
    regenerated away, its tokens open nothing."""
    key, raw = make_key(owner, team, ["admin"])
    token = stream_token(as_key(raw, team))
    regenerate_key(key=key, actor=owner, grace_seconds=0)
    problem(as_key(raw, team).get("/api/v1/audit-log"), 401, "key_invalid")  # the old secret is dead...
    refused(open_with(None, token), 401, "key_invalid")  # ...but its stream token still works


def test_the_recheck_ends_a_key_stream_once_its_secret_is_regenerated_away(owner, team):
    """The re-check of an open stream fails once the secret that opened it is regenerated away, so a
    leaked key loses its stream at the rotation, not AUDIT_STREAM_MAX_SECONDS later."""
    key, _ = make_key(owner, team, ["admin"])
    holder = holders.Holder(
        kind="api_key",
        team_id=team.pk,
        user_id=owner.pk,
        key_id=key.pk,
        fingerprint=holders.fingerprint("key", key.digest),
    )
    assert holders.standings([holder])[holder].reason is None
    regenerate_key(key=key, actor=owner, grace_seconds=0)
    assert holders.standings([holder])[holder].reason == "key_invalid"


def test_a_token_minted_with_an_old_secret_in_grace_dies_when_a_second_regeneration_kills_it(as_key, owner, team):
    """A token minted with a secret in its grace period dies when a second regeneration ends that
    secret, although the key again has a "previous" secret (another one)."""
    key, raw1 = make_key(owner, team, ["admin"])
    regenerate_key(key=key, actor=owner, grace_seconds=3600)
    token = stream_token(as_key(raw1, team))  # the previous secret, in its grace period
    key.refresh_from_db()
    regenerate_key(key=key, actor=owner, grace_seconds=3600)
    problem(as_key(raw1, team).get("/api/v1/audit-log"), 401, "key_invalid")
    refused(open_with(None, token), 401, "key_invalid")


def test_a_token_minted_by_an_integration_is_refused_once_its_admin_key_is_regenerated(owner, team):
    """Regenerating an integration's Admin key stops what the old key signed at once: its stream
    tokens too."""
    issued = make_integration(owner, team, permissions=["admin"])
    old_client = _integration_client(issued, team)
    token = stream_token(old_client)
    regenerate_admin_key(integration=issued.integration, actor_id=owner.pk)
    assert old_client.get("/api/v1/audit-log").status_code == 401  # the old key is dead...
    assert open_with(None, token).status_code == 401  # ...its stream token is not


@pytest.mark.parametrize("method", ["options", "post", "put", "patch", "delete"])
def test_a_stream_token_is_no_credential_for_other_methods_or_other_teams(as_user, admin, team, other_team, method):
    """With any method but GET/HEAD a stream token is no credential: it cannot stand for its holder
    in another team (X-Team-Id), and it is not spent by a request that could not use it."""
    MembershipFactory(team=other_team, user=admin, role=Role.OWNER)
    token = stream_token(as_user(admin, team))
    response = getattr(Client(), method)(f"{STREAM_URL}?token={token}", HTTP_X_TEAM_ID=str(other_team.pk))
    assert response.status_code in (401, 405), (response.status_code, response.content[:200])
    assert open_with(None, token).status_code == 200  # not burned by a request that could not use it


def test_an_integrations_stream_token_with_another_method_is_not_a_validation_error(owner, team):
    """Nor does an integration's token reach the membership lookup (a 400 naming the integration)."""
    issued = make_integration(owner, team, permissions=["admin"])
    token = stream_token(_integration_client(issued, team))
    response = Client().options(f"{STREAM_URL}?token={token}", HTTP_X_TEAM_ID=str(team.pk))
    assert response.status_code in (401, 405), response.content
    assert b"integration:" not in response.content


# --- live (uvicorn) ------------------------------------------------------------------------------


def _slow_replay(monkeypatch, page=1, delay=0.1):
    from livestream import sse as stream_module

    original = stream_module._replay_page
    monkeypatch.setattr(stream_module, "REPLAY_PAGE", page)

    def slow(*args):
        time.sleep(delay)
        return original(*args)

    monkeypatch.setattr(stream_module, "_replay_page", slow)


def _backlog(team, count=60):
    start = selectors.id_floor(timezone.now() - timedelta(seconds=5))
    for _ in range(count):
        record_event(action=Action.TEAM_UPDATED, team_id=team.pk)
    return start


def _drain(stream, seconds):
    """(arrival time, message) until the stream closes or `seconds` pass."""
    found, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        message = stream.next(left)
        if message in (None, "timeout"):
            break
        found.append((time.monotonic(), message))
    return found


@pytest.mark.django_db(transaction=True)
def test_a_holder_revoked_during_a_long_replay_stops_receiving_it(asgi_server, owner, admin, team, monkeypatch):
    """A revocation ends the stream during a long replay too, not after it. Here: 60 one-event
    pages, 0.1 s each."""
    _slow_replay(monkeypatch)
    start = _backlog(team)
    token = token_for(asgi_server, login_headers(admin, team))
    stream = SSE(f"{asgi_server.url}{STREAM}?token={token}&last_event_id={start}").ready()
    stream.events(2)
    change_role(actor=Actor.operator(owner), target=Membership.objects.get(user=admin), role=Role.VIEWER)
    demoted = time.monotonic()
    received = _drain(stream, 10)
    late = [m for at, m in received if at - demoted > 1.5 and "id" in m and "event" not in m]
    stream.close()
    assert late == [], f"{len(late)} events delivered more than 1.5 s after the holder lost admin"


@pytest.mark.django_db(transaction=True)
def test_a_long_replay_still_ends_at_the_maximum_duration(asgi_server, stream_settings, admin, team, monkeypatch):
    """AUDIT_STREAM_MAX_SECONDS holds during the replay too."""
    stream_settings.AUDIT_STREAM_MAX_SECONDS = 1
    _slow_replay(monkeypatch)
    start = _backlog(team)
    token = token_for(asgi_server, login_headers(admin, team))
    opened = time.monotonic()
    stream = SSE(f"{asgi_server.url}{STREAM}?token={token}&last_event_id={start}").ready()
    received = _drain(stream, 10)
    stream.close()
    late = [m for at, m in received if at - opened > 2.5]
    assert late == [], f"{len(late)} messages after the 1 s maximum duration"


@pytest.mark.django_db(transaction=True)
def test_a_replay_longer_than_one_stream_carries_goes_on_after_the_reconnect(asgi_server, admin, team, monkeypatch):
    """One connection replays at most REPLAY_LIMIT events, then ends (`replay_limit`); reconnecting
    with the last id received goes on from there, nothing missed or repeated."""
    from livestream import sse as stream_module

    monkeypatch.setattr(stream_module, "REPLAY_PAGE", 5)
    monkeypatch.setattr(stream_module, "REPLAY_LIMIT", 10)
    start = _backlog(team, count=25)
    expected = [
        str(event_id) for event_id in AuditEvent.objects.filter(team=team).order_by("id").values_list("id", flat=True)
    ]
    received, after, endings = [], str(start), []
    for _ in range(3):
        token = token_for(asgi_server, login_headers(admin, team))
        stream = SSE(f"{asgi_server.url}{STREAM}?token={token}&last_event_id={after}").ready()
        for _, message in _drain(stream, 2):
            if message.get("event") == "end":
                endings.append(json.loads(message["data"])["reason"])
            elif "id" in message:
                received.append(json.loads(message["data"])["id"])
                after = message["id"]
        stream.close()
    assert endings == ["replay_limit", "replay_limit"]
    assert received == expected


# SQLite lets one transaction write at a time: two cannot commit out of id order there.
concurrent_writers = pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers")


def _commit_later(team):
    """An event stamped now whose transaction commits when `release` is set (another connection)."""
    stamped, release, made = threading.Event(), threading.Event(), {}

    def write():
        try:
            with transaction.atomic():
                made["event"] = record_event(action=Action.TEAM_UPDATED, team_id=team.pk)
                stamped.set()
                release.wait(15)
        finally:
            connection.close()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    assert stamped.wait(10)
    time.sleep(0.005)  # the next event is stamped later: a larger id
    return made, release, thread


@concurrent_writers
@pytest.mark.django_db(transaction=True)
def test_events_committed_out_of_id_order_within_the_settle_time_go_out_in_id_order(asgi_server, owner, team):
    """Two concurrent requests: E1 stamped first, E2 stamped later and committed first. E2 is held
    until it is AUDIT_STREAM_SETTLE_SECONDS old, so E1, committed meanwhile, goes first: a client
    that resumes after either misses nothing and gets nothing twice."""
    token = token_for(asgi_server, login_headers(owner, team))
    first = SSE(f"{asgi_server.url}{STREAM}?token={token}").ready()
    made, release, thread = _commit_later(team)
    later = record_event(action=Action.TEAM_UPDATED, team_id=team.pk)
    time.sleep(0.1)
    release.set()
    thread.join(10)
    received = first.events(2)
    first.close()
    assert [m["id"] for m in received] == [str(made["event"].id), str(later.id)]
    # Resuming after E1 gives E2 once; after E2, nothing.
    for after, expected in [(made["event"].id, [str(later.id)]), (later.id, [])]:
        token = token_for(asgi_server, login_headers(owner, team))
        again = SSE(f"{asgi_server.url}{STREAM}?token={token}", {"Last-Event-ID": str(after)}).ready()
        replayed = [m["id"] for _, m in _drain(again, 1.5) if "id" in m and "event" not in m]
        again.close()
        assert replayed == expected


@concurrent_writers
@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_the_settle_time_is_sent_without_moving_the_resume_point_back(
    asgi_server, owner, team
):
    """E1 commits long after E2 went out: it is still sent, under E2's id, so a client resuming
    from the last id it received does not get E2 again."""
    token = token_for(asgi_server, login_headers(owner, team))
    first = SSE(f"{asgi_server.url}{STREAM}?token={token}").ready()
    made, release, thread = _commit_later(team)
    later = record_event(action=Action.TEAM_UPDATED, team_id=team.pk)
    assert [m["id"] for m in first.events(1)] == [str(later.id)]
    release.set()
    thread.join(10)
    (last,) = first.events(1)
    first.close()
    assert json.loads(last["data"])["id"] == str(made["event"].id)
    assert last["id"] == str(later.id)  # the resume point stays at the newest event sent
    token = token_for(asgi_server, login_headers(owner, team))
    second = SSE(f"{asgi_server.url}{STREAM}?token={token}", {"Last-Event-ID": last["id"]}).ready()
    repeated = [m["id"] for _, m in _drain(second, 1.5) if "id" in m and "event" not in m]
    second.close()
    assert repeated == [], "delivered before, replayed again after the resume"


def _login(user, team) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user)}", HTTP_X_TEAM_ID=str(team.pk))
    return c


@pytest.mark.django_db(transaction=True)
def test_one_tenant_cannot_take_every_stream_slot_of_a_process(
    asgi_server, stream_settings, admin, outsider, team, other_team
):
    """AUDIT_STREAM_MAX_PER_TEAM: a team past its share gets 429; another team still gets its own."""
    stream_settings.AUDIT_STREAM_MAX_PER_TEAM = 2
    mine = [SSE(f"{asgi_server.url}{STREAM}", login_headers(admin, team)).ready() for _ in range(2)]
    extra = SSE(f"{asgi_server.url}{STREAM}", login_headers(admin, team))
    theirs = SSE(f"{asgi_server.url}{STREAM}", login_headers(outsider, other_team))
    statuses = extra.status, theirs.status
    for stream in [*mine, extra, theirs]:
        stream.close()
    assert statuses == (429, 200)


def test_stream_tokens_are_rate_limited_per_team(as_user, admin, team, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "audit_stream_token": {"account": "3/m"}}
    client = as_user(admin, team)
    statuses = [client.post(TOKEN_URL).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.django_db(transaction=True)
def test_a_live_key_stream_is_revoked_when_its_secret_is_regenerated_without_grace(asgi_server, owner, team):
    """An open stream (header path) ends when the key's secret is regenerated without grace."""
    key, raw = make_key(owner, team, ["admin"])
    stream = SSE(f"{asgi_server.url}{STREAM}", {"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}).ready()
    regenerate_key(key=key, actor=owner, grace_seconds=0)
    assert (
        httpx.get(
            f"{asgi_server.url}/api/v1/audit-log", headers={"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}
        ).status_code
        == 401
    )
    found = [m for _, m in _drain(stream, 3)]
    stream.close()
    assert any(m.get("event") == "revoked" for m in found), found


# --- tokens, cursors and inputs ------------------------------------------------------------------


def test_it_refuses_a_login_jwt_as_stream_token(admin, team):
    problem(open_with(None, access_token(admin)), 401, "token_invalid")


def test_it_refuses_a_refresh_token_or_an_integration_token_as_stream_token(owner, team):
    from accounts.sessions import start_session

    issued = make_integration(owner, team, permissions=["admin"])
    problem(open_with(None, start_session(user=owner).refresh_token), 401, "token_invalid")
    problem(open_with(None, sign(issued.admin_key)), 401, "token_invalid")
    # The Admin key itself in ?token= is refused as a key in the query string.
    problem(open_with(None, issued.admin_key), 401, "key_in_query")


def test_it_refuses_an_unsigned_or_resigned_stream_token(as_user, admin, team):
    from django.conf import settings

    token = stream_token(as_user(admin, team))
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    with_login_key = jwt.encode(claims, settings.JWT_SIGNING_KEY, algorithm="HS256")
    for wrong in (unsigned, with_login_key):
        problem(open_with(None, wrong), 401, "token_invalid")


def test_it_refuses_a_stream_token_as_bearer_anywhere(as_user, admin, team):
    token = stream_token(as_user(admin, team))
    for scheme in ("Bearer", "Ghost"):
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}", HTTP_X_TEAM_ID=str(team.pk))
        assert c.get(STREAM_URL).status_code == 401
        assert c.post(TOKEN_URL).status_code == 401  # no chaining: a token cannot mint the next one
        assert c.get("/api/v1/audit-log").status_code == 401
    c = APIClient()
    c.credentials(HTTP_X_API_KEY=token, HTTP_X_TEAM_ID=str(team.pk))
    assert c.get("/api/v1/audit-log").status_code == 401
    assert open_with(None, token).status_code == 200  # and it was never redeemed on the way


def test_a_refused_open_does_not_use_the_token_and_a_used_one_never_streams_twice(as_user, admin, team, other_team):
    token = stream_token(as_user(admin, team))
    problem(Client().get(f"{STREAM_URL}?token={token}", HTTP_X_TEAM_ID=str(other_team.pk)), 403, "key_team_mismatch")
    first = open_with(None, token)  # a refused request changed nothing
    assert first.status_code == 200
    for headers in ({}, {"HTTP_LAST_EVENT_ID": str(uuid.uuid4())}, {"HTTP_X_TEAM_ID": str(team.pk)}):
        second = Client().get(f"{STREAM_URL}?token={token}", HTTP_ACCEPT="text/event-stream", **headers)
        assert second.status_code in (200, 400) and not second.streaming
        assert b"token_in_use" in second.content or second.json()["code"] == "invalid_cursor"


def test_it_refuses_a_token_whose_team_claim_was_swapped(as_user, admin, team, other_team):
    MembershipFactory(team=other_team, user=admin, role=Role.OWNER)
    token = stream_token(as_user(admin, team))
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    swapped = jwt.encode({**claims, "team": str(other_team.pk)}, "x", algorithm="HS256").split(".")[1]
    problem(open_with(None, f"{header}.{swapped}.{signature}"), 401, "token_invalid")


def test_non_admins_and_narrow_keys_never_get_or_use_a_stream(as_user, as_key, owner, member, viewer, team):
    for user in (member, viewer):
        problem(as_user(user, team).post(TOKEN_URL), 403, "insufficient_scope")
        problem(as_user(user, team).get(STREAM_URL), 403, "insufficient_scope")
    _, raw = make_key(owner, team, ["read", "write"])
    problem(as_key(raw, team).post(TOKEN_URL), 403, "insufficient_scope")
    # A key with `admin` whose owner is now a member: its token no longer opens the stream.
    admin_membership = MembershipFactory(team=team, role=Role.ADMIN)
    _, raw = make_key(admin_membership.user, team, ["admin"])
    token = stream_token(as_key(raw, team))
    change_role(actor=Actor.operator(owner), target=admin_membership, role=Role.MEMBER)
    problem(open_with(None, token), 403, "insufficient_scope")


@reads_the_replay
def test_filters_and_cursors_never_reach_another_team(as_user, outsider, owner, admin, team, other_team):
    start = selectors.id_floor(timezone.now() - timedelta(seconds=5))
    time.sleep(0.002)
    theirs_key, _ = make_key(outsider, other_team, ["read"])
    theirs = [
        record_event(
            action=Action.API_REQUEST, team_id=other_team.pk, api_key=theirs_key, actor_id=outsider.pk, status_code=200
        )
        for _ in range(3)
    ]
    mine = record_event(action=Action.TEAM_UPDATED, team_id=team.pk)
    client = as_user(admin, team)
    for query in (f"key={theirs_key.pk}", f"actor={outsider.pk}", "status=2xx", "action=api_request", ""):
        found = events(client.get(f"{STREAM_URL}?{query}", HTTP_LAST_EVENT_ID=str(start)))
        assert {e["id"] for e in found} <= {str(mine.id)}, query
    found = events(client.get(STREAM_URL, HTTP_LAST_EVENT_ID=str(theirs[0].id)))
    assert [e["id"] for e in found] == [str(mine.id)]


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_LAST_EVENT_ID": "x" * 100_000},
        {"HTTP_LAST_EVENT_ID": "00000000-0000-0000-0000-000000000000"},
        {"HTTP_LAST_EVENT_ID": "ffffffff-ffff-ffff-ffff-ffffffffffff"},
        {"HTTP_LAST_EVENT_ID": "\u00e9\u00e9"},
        {"HTTP_LAST_EVENT_ID": " "},
        {"HTTP_X_TEAM_ID": "not-a-uuid"},
        {"HTTP_ACCEPT": "text/html"},
    ],
)
def test_odd_headers_never_answer_500(as_user, admin, team, headers):
    token = stream_token(as_user(admin, team))
    response = Client().get(f"{STREAM_URL}?token={token}", **headers)
    assert response.status_code < 500


@pytest.mark.parametrize(
    "query",
    [
        "token=" + "a" * 100_000,
        "token=%ff%fe",
        "token=a&token=b",
        "token=",
        "token=%ED%A0%80",
        "token=a.b.c&last_event_id=zz",
        "last_event_id=" + "1" * 5000,
        "status=4xx&status=zz&key=&actor=",
        "format=xml",
    ],
)
def test_odd_queries_never_answer_500(query):
    assert Client().get(f"{STREAM_URL}?{query}").status_code < 500
    assert Client().head(f"{STREAM_URL}?{query}").status_code < 500
    assert Client().options(f"{STREAM_URL}?{query}").status_code < 500


def test_head_with_a_token_answers_headers_only(as_user, admin, team):
    token = stream_token(as_user(admin, team))
    response = Client().head(f"{STREAM_URL}?token={token}")
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    assert not getattr(response, "streaming", False)


@reads_the_replay
def test_the_wsgi_answer_is_one_bounded_page_and_ends(as_user, admin, team):
    start = selectors.id_floor(timezone.now() - timedelta(seconds=5))
    for _ in range(520):
        record_event(action=Action.TEAM_UPDATED, team_id=team.pk)
    started = time.monotonic()
    found = messages(as_user(admin, team).get(STREAM_URL, HTTP_LAST_EVENT_ID=str(start)))
    assert time.monotonic() - started < 10
    assert len([m for m in found if "id" in m]) == 500
    assert found[-1]["event"] == "end"


def test_no_token_in_audit_rows_or_logs_on_any_refusal(as_key, owner, team, other_team, caplog):
    key, raw = make_key(owner, team, ["admin"])
    with caplog.at_level(logging.DEBUG):
        tokens_used = []
        for query_extra, headers in (
            ("", {"HTTP_X_TEAM_ID": str(other_team.pk)}),  # key_team_mismatch: audited with data
            ("&status=zz", {}),  # 400 after authentication
            ("&last_event_id=zz", {}),
            ("", {"HTTP_X_TEAM_ID": str(team.pk)}),
        ):
            token = stream_token(as_key(raw, team))
            tokens_used.append(token)
            Client().get(f"{STREAM_URL}?token={token}{query_extra}", **headers)
        regenerate_key(key=key, actor=owner, grace_seconds=60)
    rows = json.dumps(list(AuditEvent.objects.values()), default=str)
    for token in tokens_used:
        assert token.split(".")[2] not in caplog.text and token.split(".")[1] not in rows
    assert "token=" not in rows and "?" not in "".join(AuditEvent.objects.values_list("path", flat=True))


def test_the_use_of_a_token_is_recorded_in_the_database_without_the_token(as_user, admin, team):
    token = stream_token(as_user(admin, team))
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    response = open_with(None, token)
    assert response.status_code == 200
    row = tokens.StreamTokenUse.objects.values().get()
    assert row["jti"].hex == jti and row["team_id"] == team.pk and row["held_by"] is not None
    assert token.split(".")[2] not in json.dumps(row, default=str)


def test_a_token_for_a_deleted_key_is_refused_without_naming_it(as_key, owner, team):
    from apikeys.services import delete_key

    key, raw = make_key(owner, team, ["admin"])
    token = stream_token(as_key(raw, team))
    delete_key(key=key, actor=owner)
    problem(open_with(None, token), 401, "key_revoked")


def test_an_unknown_holder_id_is_refused(admin, team):
    holder = holders.Holder(kind="jwt", team_id=team.pk, user_id=uuid.uuid4(), fingerprint="0" * 32)
    token, _ = tokens.issue(holder=holder)
    problem(open_with(None, token), 401, "authentication_failed")
