"""The live audit stream: its tokens, who may open it, its filters and its replay.

Everything here runs through Django's test client, which is a WSGI client: there the stream
endpoint answers the replay only (what was missed after Last-Event-ID) and closes, with the same
authentication, team and scope checks as under ASGI. The live behaviour (delivery as events
commit, revocation, resume across a reconnect) is in test_audit_stream_live.py, against a real
ASGI server; two processes in test_audit_stream_processes.py.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from access.scopes import Role
from accounts.activation import set_active
from accounts.passwords import set_password
from accounts.sessions import revoke_all_sessions
from apikeys.services import revoke_key
from audit import selectors
from audit.models import Action, AuditEvent
from audit.services import record_event
from livestream import fanout, tokens
from livestream.holders import Holder
from teams.models import Membership
from teams.services import Actor, change_role, delete_team, remove_member

from . import asgi_client, servers
from .factories import MembershipFactory, TeamFactory, UserFactory, access_token, make_integration, make_key

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/audit-log/stream-token"
STREAM_URL = "/api/v1/audit-log/stream"


def stream_token(client) -> str:
    response = client.post(TOKEN_URL)
    assert response.status_code == 200, response.content
    return response.json()["token"]


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.content)
    assert body["code"] == code, body
    return body


def messages(response) -> list[dict]:
    """The SSE messages of a (finite) stream: [{"id", "event", "data"}], comments left out."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/event-stream"
    text = b"".join(response.streaming_content).decode()
    found = []
    for block in text.split("\n\n"):
        message = {}
        for line in block.splitlines():
            if line.startswith(":") or not line:
                continue
            name, _, value = line.partition(": ")
            message[name] = value
        if message:
            found.append(message)
    return found


# Reads the finite WSGI answer; under ASGI (tests/asgi_client.py) the endpoint streams live.
reads_the_replay = asgi_client.wsgi_only("reads the WSGI (replay-only) answer; the live one: test_audit_stream_live.py")


def events(response) -> list[dict]:
    return [json.loads(m["data"]) for m in messages(response) if "event" not in m]


def open_with(client, token: str, **query):
    from django.test import Client

    query = "&".join(f"{k}={v}" for k, v in {"token": token, **query}.items())
    return Client().get(f"{STREAM_URL}?{query}", HTTP_ACCEPT="text/event-stream")


# --- the stream token -------------------------------------------------------------------------


def test_an_admin_gets_a_short_lived_token_that_is_not_stored(as_user, admin, team):
    response = as_user(admin, team).post(TOKEN_URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_in"} and body["expires_in"] == 60
    assert response["Cache-Control"] == "no-store"
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    # 60 s to open it; `exp` bounds how long its URL reopens the stream at all (12 h).
    assert claims["aud"] == "ghostflow-audit-stream" and claims["exp"] - claims["iat"] == 12 * 3600
    assert claims["team"] == str(team.pk) and claims["sub"] == str(admin.pk) and claims["kind"] == "jwt"
    assert body["token"] not in json.dumps(list(AuditEvent.objects.values()), default=str)


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_only_admins_get_a_token(as_user, team, role):
    user = MembershipFactory(team=team, role=role).user
    problem(as_user(user, team).post(TOKEN_URL), 403, "insufficient_scope")


def test_a_token_needs_a_team_the_caller_is_in(as_user, admin, team, outsider, other_team, client):
    problem(as_user(admin).post(TOKEN_URL), 400, "team_required")
    problem(as_user(admin, other_team).post(TOKEN_URL), 403, "team_forbidden")
    problem(client.post(TOKEN_URL), 401, "not_authenticated")


def test_a_key_with_admin_gets_a_token_and_a_narrower_key_does_not(as_key, owner, team, other_team):
    _, admin_raw = make_key(owner, team, ["admin"])
    _, read_raw = make_key(owner, team, ["read"])
    assert as_key(admin_raw, team).post(TOKEN_URL).status_code == 200
    problem(as_key(read_raw, team).post(TOKEN_URL), 403, "insufficient_scope")
    problem(as_key(admin_raw, other_team).post(TOKEN_URL), 403, "key_team_mismatch")


# --- opening the stream with a token ----------------------------------------------------------


def in_use(response) -> bool:
    """The answer to a token another connection holds: no stream, an `end` and a `retry:`."""
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    return response.content.decode().startswith('retry: 2000\n\nevent: end\ndata: {"reason": "token_in_use"}')


@reads_the_replay  # the same rules under ASGI: test_audit_stream_live.py, test_audit_stream_caps.py
def test_a_token_opens_its_teams_stream_one_connection_at_a_time(as_user, admin, team):
    token = stream_token(as_user(admin, team))
    first = open_with(None, token)
    assert first.status_code == 200 and first["Content-Type"] == "text/event-stream"
    assert first["Cache-Control"] == "no-cache, no-store"
    # While the first answer is open, the same URL opens no second stream...
    assert in_use(open_with(None, token))
    b"".join(first.streaming_content)  # read to its end: the test client closes it then
    # ...and once it has closed, the same URL resumes (what EventSource does on its own).
    again = open_with(None, token)
    assert again.status_code == 200 and not in_use_body(again)


def in_use_body(response) -> bool:
    return b"token_in_use" in b"".join(response.streaming_content)


@reads_the_replay  # the same rules under ASGI: test_audit_stream_live.py, test_audit_stream_caps.py
def test_a_token_reopens_the_stream_only_within_its_reconnect_window(as_user, admin, team):
    token = stream_token(as_user(admin, team))
    b"".join(open_with(None, token).streaming_content)  # the test client closes it when read
    with time_machine.travel(timezone.now() + timedelta(seconds=tokens.RECONNECT_SECONDS - 5), tick=False):
        b"".join(open_with(None, token).streaming_content)  # each reconnect starts the window afresh
    with time_machine.travel(timezone.now() + timedelta(seconds=2 * tokens.RECONNECT_SECONDS - 10), tick=False):
        b"".join(open_with(None, token).streaming_content)
    with time_machine.travel(timezone.now() + timedelta(seconds=3 * tokens.RECONNECT_SECONDS), tick=False):
        problem(open_with(None, token), 401, "token_reused")


@reads_the_replay  # the same rules under ASGI: test_audit_stream_live.py, test_audit_stream_caps.py
def test_a_token_never_reopens_the_stream_past_its_maximum_age(as_user, admin, team):
    start = timezone.now()
    token = stream_token(as_user(admin, team))
    b"".join(open_with(None, token).streaming_content)
    # Kept reconnecting within the window all along, it still stops at 12 hours.
    when = start + timedelta(seconds=tokens.MAX_AGE_SECONDS - 1)
    with time_machine.travel(when, tick=False):
        tokens.StreamTokenUse.objects.update(reopen_until=when + timedelta(seconds=30))
        b"".join(open_with(None, token).streaming_content)
    with time_machine.travel(start + timedelta(seconds=tokens.MAX_AGE_SECONDS + 2), tick=False):
        tokens.StreamTokenUse.objects.update(reopen_until=timezone.now() + timedelta(seconds=30))
        problem(open_with(None, token), 401, "token_expired")


@reads_the_replay  # the same rules under ASGI: test_audit_stream_live.py, test_audit_stream_caps.py
def test_a_hold_whose_stream_server_died_lapses(as_user, admin, team):
    """A server that dies with a stream open stops renewing its hold: after HOLD_SECONDS the token
    reopens the stream (within its window) rather than wait for a connection that is gone."""
    token = stream_token(as_user(admin, team))
    dead = open_with(None, token)  # never read nor closed: its server "died" with it
    assert in_use(open_with(None, token))
    with time_machine.travel(timezone.now() + timedelta(seconds=tokens.HOLD_SECONDS + 1), tick=False):
        response = open_with(None, token)
        assert response.status_code == 200 and not in_use_body(response)
    assert dead.status_code == 200


def test_a_token_expires_after_60_seconds(as_user, admin, team):
    with time_machine.travel(timezone.now() - timedelta(seconds=61), tick=False):
        token = stream_token(as_user(admin, team))
    problem(open_with(None, token), 401, "token_expired")
    with time_machine.travel(timezone.now() - timedelta(seconds=55), tick=False):
        token = stream_token(as_user(admin, team))
    assert open_with(None, token).status_code == 200


def test_a_tampered_token_or_another_kind_of_token_is_refused(as_user, admin, team):
    token = stream_token(as_user(admin, team))
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "team": str(uuid.uuid4())}, "a guessed signing key " * 3, algorithm="HS256")
    for wrong in (
        f"{header}.{payload}.{signature[:-2]}AA",
        forged,
        access_token(admin),  # a login's access token is not a stream token
        "x" * 5000,
        "",
    ):
        problem(open_with(None, wrong), 401, "token_invalid")


def test_a_stream_token_is_no_credential_anywhere_else(as_user, admin, team, client):
    token = stream_token(as_user(admin, team))
    # As a Bearer token (with the team) it is refused by every authentication class...
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_TEAM_ID=str(team.pk))
    problem(client.get("/api/v1/audit-log"), 401, "token_invalid")
    # ...and `?token=` means nothing on other endpoints.
    client.credentials(HTTP_X_TEAM_ID=str(team.pk))
    problem(client.get(f"/api/v1/audit-log?token={token}"), 401, "not_authenticated")
    problem(client.get(f"/api/v1/campaigns?token={token}"), 401, "not_authenticated")
    # Still unused: it opens the stream.
    assert open_with(None, token).status_code == 200


def test_a_key_in_the_token_parameter_is_refused_as_a_key_in_the_query(owner, team):
    _, raw = make_key(owner, team, ["admin"])
    problem(open_with(None, raw), 401, "key_in_query")


def test_a_token_and_a_header_together_are_refused(as_user, admin, team):
    client = as_user(admin, team)
    token = stream_token(client)
    problem(client.get(f"{STREAM_URL}?token={token}"), 400, "bad_request")


def test_a_token_only_opens_the_stream_of_its_team(as_user, admin, team):
    other = TeamFactory()
    MembershipFactory(team=other, user=admin, role=Role.OWNER)
    token = stream_token(as_user(admin, team))
    from django.test import Client

    response = Client().get(f"{STREAM_URL}?token={token}", HTTP_X_TEAM_ID=str(other.pk))
    problem(response, 403, "key_team_mismatch")
    token = stream_token(as_user(admin, team))
    response = Client().get(f"{STREAM_URL}?token={token}", HTTP_X_TEAM_ID=str(team.pk))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("demote", 403, "insufficient_scope"),
        ("remove", 403, "team_forbidden"),
        ("deactivate", 401, "authentication_failed"),
        ("password", 401, "token_revoked"),
        ("sign_out", 401, "token_revoked"),
        ("delete_team", 403, "team_forbidden"),
    ],
)
def test_a_token_is_checked_against_the_holders_rights_when_it_is_used(
    as_user, owner, admin, team, change, status, code
):
    token = stream_token(as_user(admin, team))
    take_the_right(change, admin=admin, owner=owner, team=team)
    problem(open_with(None, token), status, code)


def take_the_right(change: str, *, admin, owner, team) -> None:
    """What makes `admin` lose the right to watch `team`'s stream, through the services."""
    if change == "demote":
        change_role(actor=Actor.operator(owner), target=Membership.objects.get(user=admin), role=Role.MEMBER)
    elif change == "remove":
        remove_member(actor=Actor.operator(owner), target=Membership.objects.get(user=admin))
    elif change == "deactivate":
        set_active(user=admin, active=False)
    elif change == "password":
        set_password(user=admin, password="a-brand-new-passphrase")
    elif change == "sign_out":
        revoke_all_sessions(user=admin, reason="logout")
    else:
        delete_team(team=team, actor_membership=Membership.objects.get(user=owner))


def test_a_keys_token_is_checked_against_the_key_and_the_open_is_audited_against_it(as_key, owner, team):
    key, raw = make_key(owner, team, ["admin"])
    token = stream_token(as_key(raw, team))
    assert open_with(None, token).status_code == 200
    opened = AuditEvent.objects.filter(action=Action.API_REQUEST, path=STREAM_URL).get()
    assert (opened.api_key_id, opened.status_code, opened.method) == (key.pk, 200, "GET")
    token = stream_token(as_key(raw, team))
    revoke_key(key=key, actor=owner)
    problem(open_with(None, token), 401, "key_revoked")
    refused = AuditEvent.objects.filter(action=Action.API_REQUEST, path=STREAM_URL, status_code=401).get()
    assert refused.api_key_id == key.pk and refused.data["code"] == "key_revoked"


def test_an_integration_with_admin_may_watch_and_one_without_may_not(client, owner, team):
    from integrations.tokens import sign

    for permissions, expected in ((["admin"], 200), (["read"], 403)):
        issued = make_integration(owner, team, permissions=permissions)
        client.credentials(HTTP_AUTHORIZATION=f"Ghost {sign(issued.admin_key)}", HTTP_X_TEAM_ID=str(team.pk))
        response = client.post(TOKEN_URL)
        assert response.status_code == expected, response.content
        if expected == 200:
            assert open_with(None, response.json()["token"]).status_code == 200


@reads_the_replay  # the same rules under ASGI: test_audit_stream_live.py, test_audit_stream_caps.py
def test_a_held_or_spent_token_stays_so_when_the_cache_is_lost(as_user, admin, team):
    """What a token was used for is in the database: a cache flushed, restarted empty or restored
    from an old snapshot neither frees a held token nor revives a spent one."""
    from django.core.cache import cache

    held, spent = stream_token(as_user(admin, team)), stream_token(as_user(admin, team))
    first = open_with(None, held)
    b"".join(open_with(None, spent).streaming_content)
    cache.clear()
    assert in_use(open_with(None, held))
    with time_machine.travel(timezone.now() + timedelta(seconds=tokens.RECONNECT_SECONDS + 1), tick=False):
        cache.clear()
        problem(open_with(None, spent), 401, "token_reused")
    b"".join(first.streaming_content)


# --- the header path ------------------------------------------------------------------------------


def test_the_stream_takes_the_usual_headers_and_needs_admin(as_user, as_key, owner, admin, member, team):
    assert as_user(admin, team).get(STREAM_URL).status_code == 200
    problem(as_user(member, team).get(STREAM_URL), 403, "insufficient_scope")
    problem(as_user(admin).get(STREAM_URL), 400, "team_required")
    _, raw = make_key(owner, team, ["admin"])
    assert as_key(raw, team).get(STREAM_URL).status_code == 200
    _, raw = make_key(owner, team, ["read"])
    problem(as_key(raw, team).get(STREAM_URL), 403, "insufficient_scope")


def test_eventsource_accept_header_is_fine_and_errors_stay_problem_documents(as_user, admin, member, team):
    assert as_user(admin, team).get(STREAM_URL, HTTP_ACCEPT="text/event-stream").status_code == 200
    problem(as_user(member, team).get(STREAM_URL, HTTP_ACCEPT="text/event-stream"), 403, "insufficient_scope")


# --- filters and the replay (the WSGI answer) ---------------------------------------------------


def _event(team, **fields):
    # Ids are ordered by their millisecond (UUIDv7; random within one): one millisecond apart, the
    # events of a test are in the order they were made.
    time.sleep(0.002)
    return record_event(team_id=team.pk, **{"action": Action.API_REQUEST, "status_code": 200, **fields})


@reads_the_replay
def test_the_replay_is_every_event_after_last_event_id_in_order_like_the_listing(as_user, admin, team, other_team):
    first = _event(team)
    later = [_event(team, status_code=400 + i) for i in range(3)]
    _event(other_team)
    client = as_user(admin, team)
    replayed = events(client.get(STREAM_URL, HTTP_LAST_EVENT_ID=str(first.id)))
    assert [e["id"] for e in replayed] == [str(e.id) for e in later]
    listing = {item["id"]: item for item in client.get("/api/v1/audit-log").json()["results"]}
    assert all(event == listing[event["id"]] for event in replayed)  # serialized exactly alike
    # The query parameter does the same (EventSource cannot set the header on a new connection).
    replayed = events(client.get(f"{STREAM_URL}?last_event_id={later[0].id}"))
    assert [e["id"] for e in replayed] == [str(e.id) for e in later[1:]]
    # Without a starting point nothing is replayed: a stream starts now.
    assert events(client.get(STREAM_URL)) == []


@reads_the_replay
def test_each_message_carries_the_event_id(as_user, admin, team):
    first, second = _event(team), _event(team)
    found = messages(as_user(admin, team).get(STREAM_URL, HTTP_LAST_EVENT_ID=str(first.id)))
    assert [m["id"] for m in found if "id" in m] == [str(second.id)]
    assert found[-1] == {"event": "end", "data": '{"reason": "replay_only"}'}


@reads_the_replay
def test_filters_apply_to_the_replay(as_user, admin, owner, team):
    key, _ = make_key(owner, team, ["read"])
    start = _event(team)
    _event(team, status_code=200)
    denied = _event(team, status_code=403, api_key=key, actor_id=owner.pk)
    login = _event(team, action=Action.LOGIN_FAILED, status_code=401)
    client = as_user(admin, team)

    def ids(query):
        return [e["id"] for e in events(client.get(f"{STREAM_URL}?{query}", HTTP_LAST_EVENT_ID=str(start.id)))]

    assert ids("status=4xx") == [str(denied.id), str(login.id)]
    assert ids(f"key={key.pk}") == [str(denied.id)]
    assert ids(f"actor={owner.pk}") == [str(denied.id)]
    assert ids("action=login.failed") == [str(login.id)]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("action=nope", "invalid_filter"),
        ("status=6xx", "invalid_filter"),
        ("key=not-a-uuid", "invalid_filter"),
        ("integration=1", "invalid_filter"),
        ("last_event_id=not-a-uuid", "invalid_cursor"),
        ("last_event_id=ffffffff-ffff-ffff-ffff-ffffffffffff", "invalid_cursor"),  # year 10000 and beyond
    ],
)
def test_bad_filters_and_cursors_are_400(as_user, admin, team, query, code):
    problem(as_user(admin, team).get(f"{STREAM_URL}?{query}"), 400, code)


@reads_the_replay
def test_a_last_event_id_from_the_future_is_400_and_one_too_old_says_so(as_user, admin, team):
    client = as_user(admin, team)
    future = selectors.id_floor(timezone.now() + timedelta(hours=1))
    problem(client.get(STREAM_URL, HTTP_LAST_EVENT_ID=str(future)), 400, "invalid_cursor")
    recent = _event(team)
    old = selectors.id_floor(timezone.now() - timedelta(days=2))
    found = messages(client.get(STREAM_URL, HTTP_LAST_EVENT_ID=str(old)))
    assert found[0]["event"] == "gap"
    assert [m["id"] for m in found if "id" in m] == [str(recent.id)]


def test_the_live_filter_and_the_sql_filter_agree(owner, team):
    """A stream matches live events in Python and replays them in SQL: the same rule."""
    key, _ = make_key(owner, team, ["read"])
    integration = make_integration(owner, team).integration
    made = []
    for action, status, with_key, with_integration, actor in itertools.product(
        [Action.API_REQUEST, Action.LOGIN_FAILED],
        [None, 200, 302, 404, 503],
        [False, True],
        [False, True],
        [None, owner],
    ):
        made.append(
            record_event(
                action=action,
                team_id=team.pk,
                status_code=status,
                api_key=key if with_key else None,
                integration=integration if with_integration else None,
                actor_id=actor.pk if actor else None,
            )
        )
    events_ = list(AuditEvent.objects.filter(team_id=team.pk))
    queries = [
        {},
        {"action": "login.failed"},
        {"status": "2xx"},
        {"status": "3xx"},
        {"status": "5xx"},
        {"key": str(key.pk)},
        {"integration": str(integration.pk)},
        {"actor": str(owner.pk)},
        {"actor": str(owner.pk), "status": "4xx", "key": str(key.pk)},
    ]
    for query in queries:
        event_filter = selectors.parse_filters(query, selectors.STREAM_FILTERS)
        in_sql = set(event_filter.apply(AuditEvent.objects.filter(team_id=team.pk)).values_list("id", flat=True))
        in_python = {event.id for event in events_ if event_filter.matches(event)}
        assert in_sql == in_python, query
        assert in_sql or query.get("status") in ("3xx",), query


# --- announcements: after commit, never for a rollback ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_event_is_announced_once_its_transaction_commits_and_never_if_it_rolls_back(team, monkeypatch):
    heard: list[str] = []
    monkeypatch.setattr(fanout._publisher, "send", heard.append)
    monkeypatch.setattr(fanout._watched, "includes", lambda team_id: True)
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = _event(team)
        raise RuntimeError("rolled back")
    with transaction.atomic():
        committed = _event(team)
        assert heard == []  # not before the commit
    autocommitted = _event(team)
    record_event(action=Action.LOGIN_FAILED)  # no team: no stream can show it
    assert heard == [f"{team.pk} {committed.id}", f"{team.pk} {autocommitted.id}"]
    assert str(rolled_back.id) not in "".join(heard)


@pytest.mark.django_db(transaction=True)
def test_only_the_events_of_a_watched_team_are_announced(team, other_team, settings, tmp_path, monkeypatch):
    import redis

    url = servers.redis_url()
    if url is None:
        pytest.skip("Redis (TEST_REDIS_URL) is not running")
    settings.AUDIT_STREAM_BROKER = url
    heard: list[str] = []
    monkeypatch.setattr(fanout._publisher, "send", heard.append)
    client = redis.Redis.from_url(url)
    key = fanout.watched_key()
    # A stream server watches `team`; its claim on `other_team` has lapsed.
    client.zadd(key, {str(team.pk): time.time() + 10, str(other_team.pk): time.time() - 1})
    try:
        fanout._watched.forget()
        watched, unwatched = _event(team), _event(other_team)
        assert heard == [f"{team.pk} {watched.id}"]
        assert str(unwatched.id) not in "".join(heard)
    finally:
        client.delete(key)
        fanout._watched.forget()


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_never_fails_the_request(as_key, owner, team, settings, caplog):
    settings.AUDIT_STREAM_BROKER = "redis://127.0.0.1:9/0"  # nothing listens there
    _, raw = make_key(owner, team, ["read"])
    with caplog.at_level(logging.WARNING, logger="ghostflow.audit.stream"):
        for _ in range(3):
            assert as_key(raw, team).get("/api/v1/campaigns").status_code == 200
        deadline = time.monotonic() + 5
        while "catch up by polling" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "catch up by polling" in caplog.text
    assert raw not in caplog.text


# --- secrets -------------------------------------------------------------------------------------


def test_a_stream_token_never_reaches_the_audit_log_or_the_logs(as_key, owner, team, caplog):
    _, raw = make_key(owner, team, ["admin"])
    with caplog.at_level(logging.DEBUG):
        token = stream_token(as_key(raw, team))
        first = open_with(None, token)  # kept open (a response dropped unread lets go of its token)
        assert first.status_code == 200
        assert in_use(open_with(None, token))
        later = timezone.now() + timedelta(seconds=tokens.HOLD_SECONDS + tokens.RECONNECT_SECONDS + 1)
        with time_machine.travel(later, tick=False):  # its hold lapsed, and its window passed
            problem(open_with(None, token), 401, "token_reused")
    assert token not in caplog.text and token.split(".")[2] not in caplog.text
    rows = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert token.split(".")[1] not in rows and "token=" not in rows
    paths = set(AuditEvent.objects.filter(path__startswith=STREAM_URL).values_list("path", flat=True))
    assert paths == {STREAM_URL, TOKEN_URL}  # the path only, never the query string


def test_the_schema_documents_the_stream(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/audit-log/stream"]["get"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"token", "last_event_id", "Last-Event-ID", "action", "key", "integration", "actor", "status"} <= names
    assert "since" not in names
    token = schema["paths"]["/api/v1/audit-log/stream-token"]["post"]
    assert set(token["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1:]) == {
        "StreamToken"
    }


def test_holders_are_by_id_only():
    holder = Holder(kind="jwt", team_id=uuid.uuid4(), user_id=uuid.uuid4(), fingerprint="f" * 32)
    assert "password" not in repr(holder)
    token, _ = tokens.issue(holder=holder)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "iat", "exp", "jti", "team", "kind", "sub", "key", "int", "fp", "sid"}


def test_users_in_two_teams_get_tokens_for_each_separately(as_user):
    user = UserFactory()
    a, b = TeamFactory(), TeamFactory()
    MembershipFactory(team=a, user=user, role=Role.ADMIN)
    MembershipFactory(team=b, user=user, role=Role.VIEWER)
    assert as_user(user, a).post(TOKEN_URL).status_code == 200
    problem(as_user(user, b).post(TOKEN_URL), 403, "insufficient_scope")
