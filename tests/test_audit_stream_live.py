"""The live audit stream against a real ASGI server (uvicorn, in a thread of this process, on the
test database): delivery as events commit, revocation, resume across a reconnect, heartbeats,
many streams at once, and what the server's access log keeps."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from django.db import transaction

from apikeys.services import revoke_key
from audit.models import Action
from audit.services import record_event

from .factories import access_token, make_key
from .test_audit_stream import take_the_right

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = "/api/v1/audit-log/stream"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ASGIServer:
    """uvicorn serving config.asgi in a thread: same settings, database and cache as the test."""

    def __init__(self, access_log: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            "config.asgi:application",
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="info" if access_log else "warning",
            access_log=access_log,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def stream_settings(settings):
    """Short intervals, so revocation, heartbeats and the poll show within a test."""
    settings.AUDIT_STREAM_RECHECK_SECONDS = 0.3
    settings.AUDIT_STREAM_HEARTBEAT_SECONDS = 0.5
    settings.AUDIT_STREAM_POLL_SECONDS = 0.5
    return settings


@pytest.fixture
def asgi_server(transactional_db, stream_settings):
    with ASGIServer() as server:
        yield server


class SSE:
    """An SSE client on a thread of its own: `next()` waits for the next message (None once the
    stream has closed), comments are collected apart."""

    def __init__(self, url: str, headers: dict | None = None):
        self.url, self.headers = url, headers or {}
        self.messages: queue.Queue = queue.Queue()
        self.comments: list[str] = []
        self.status: int | None = None
        self.body = b""
        self.response = None
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.opened.wait(15), "the stream did not answer"

    def _run(self):
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(10, read=60)) as client,
                client.stream("GET", self.url, headers={"Accept": "text/event-stream", **self.headers}) as response,
            ):
                self.status, self.response = response.status_code, response
                if response.status_code != 200:
                    self.body = response.read()
                    return
                self.opened.set()
                message: dict = {}
                for line in response.iter_lines():
                    if not line:
                        if message:
                            self.messages.put(message)
                        message = {}
                    elif line.startswith(":"):
                        self.comments.append(line)
                        if self.comments == [line]:
                            self.messages.put({"comment": line})  # the stream is live from here
                    else:
                        name, _, value = line.partition(":")
                        message[name] = value.removeprefix(" ")
        except (httpx.HTTPError, RuntimeError, ValueError):
            pass
        finally:
            self.opened.set()
            self.messages.put(None)

    def ready(self) -> SSE:
        """Wait for the first comment: the stream has subscribed and replayed by then."""
        first = self.next()
        assert first is not None and "comment" in first, (self.status, self.body, first)
        return self

    def next(self, timeout: float = 5):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return "timeout"

    def events(self, count: int, timeout: float = 5) -> list[dict]:
        found, deadline = [], time.monotonic() + timeout
        while len(found) < count:
            message = self.next(max(deadline - time.monotonic(), 0.01))
            assert message not in (None, "timeout"), (found, message)
            if "comment" not in message:
                found.append(message)
        return found

    def silent(self, seconds: float) -> bool:
        """Nothing but comments for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            message = self.next(left)
            if message == "timeout":
                return True
            if message is None or "comment" not in message:
                return False
        return True

    def close(self):
        """Leave, as a browser closing the page does: the connection is gone at once. Called from
        another thread than the reader's, httpx's response.close() waits for that thread's read to
        end (seen taking over 15 s on a loaded machine, which made the server look slow to notice);
        shutting the socket down ends the read now and tells the server."""
        if self.response is not None:
            stream = self.response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.response.close()
        self.thread.join(5)


def token_for(server, headers: dict) -> str:
    response = httpx.post(f"{server.url}/api/v1/audit-log/stream-token", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def login_headers(user, team) -> dict:
    return {"Authorization": f"Bearer {access_token(user)}", "X-Team-Id": str(team.pk)}


def open_stream(server, user, team, query: str = "", headers: dict | None = None) -> SSE:
    token = token_for(server, login_headers(user, team))
    return SSE(f"{server.url}{STREAM}?token={token}{query}", headers).ready()


def key_call(server, raw, team, path="/api/v1/campaigns", method="GET", **kwargs):
    return httpx.request(
        method,
        server.url + path,
        headers={"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)},
        timeout=10,
        **kwargs,
    )


# --- delivery ---------------------------------------------------------------------------------


def test_a_key_request_reaches_an_open_stream_as_the_listing_shows_it(asgi_server, owner, team):
    stream = open_stream(asgi_server, owner, team)
    _, raw = make_key(owner, team, ["read:campaigns"])
    stream.events(1)  # key.created
    started = time.monotonic()
    assert key_call(asgi_server, raw, team).status_code == 200
    (message,) = stream.events(1, timeout=2)
    assert time.monotonic() - started < 2
    event = json.loads(message["data"])
    assert message["id"] == event["id"] and event["action"] == "api_request" and event["status_code"] == 200
    listing = httpx.get(f"{asgi_server.url}/api/v1/audit-log", headers=login_headers(owner, team)).json()
    assert event == next(item for item in listing["results"] if item["id"] == event["id"])
    stream.close()


def test_each_stream_sees_its_own_team_and_filters(asgi_server, owner, outsider, team, other_team):
    mine = open_stream(asgi_server, owner, team)
    denials = open_stream(asgi_server, owner, team, "&status=4xx")
    theirs = open_stream(asgi_server, outsider, other_team)
    allowed = record_event(action=Action.API_REQUEST, team_id=team.pk, status_code=200)
    denied = record_event(action=Action.API_REQUEST, team_id=team.pk, status_code=403)
    assert {m["id"] for m in mine.events(2)} == {str(allowed.id), str(denied.id)}
    assert [m["id"] for m in denials.events(1)] == [str(denied.id)]
    assert theirs.silent(1)
    assert denials.silent(0.5)
    for stream in (mine, denials, theirs):
        stream.close()


def test_a_rolled_back_event_is_never_streamed(asgi_server, owner, team):
    stream = open_stream(asgi_server, owner, team)
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = record_event(action=Action.TEAM_UPDATED, team_id=team.pk)
        raise RuntimeError("roll back")
    committed = record_event(action=Action.TEAM_UPDATED, team_id=team.pk)
    (message,) = stream.events(1)
    assert message["id"] == str(committed.id)
    # Not by the announcement, and not by the poll either (it runs every 0.5 s here).
    assert stream.silent(1.5)
    assert str(rolled_back.id) not in "".join(stream.comments)
    stream.close()


def test_an_event_written_in_another_process_arrives_by_the_poll(asgi_server, owner, team, monkeypatch):
    """What another process writes reaches this one without Redis (the embedded default): the
    announcement here is dropped, as it would be by a writer that cannot reach the broker."""
    from livestream import fanout

    stream = open_stream(asgi_server, owner, team)
    monkeypatch.setattr(fanout._publisher, "send", lambda message: None)
    event = record_event(action=Action.TEAM_UPDATED, team_id=team.pk)
    (message,) = stream.events(1, timeout=3)
    assert message["id"] == str(event.id)
    stream.close()


# --- revocation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["demote", "remove", "deactivate", "delete_team", "password", "sign_out"])
def test_the_stream_ends_when_its_holder_loses_the_right(asgi_server, owner, admin, team, change):
    stream = open_stream(asgi_server, admin, team)
    started = time.monotonic()
    take_the_right(change, admin=admin, owner=owner, team=team)
    reasons = {
        "demote": "not_admin",
        "remove": "not_member",
        "deactivate": "user_inactive",
        "delete_team": "team_deleted",
        "password": "password_changed",
        "sign_out": "session_revoked",
    }
    while True:
        message = stream.next(5)
        assert message not in (None, "timeout"), message
        if message.get("event") == "revoked":
            break
    assert json.loads(message["data"]) == {"reason": reasons[change]}
    assert time.monotonic() - started < 3
    assert stream.next(3) is None  # and the connection closes
    stream.close()


def test_a_key_holders_stream_ends_when_the_key_is_revoked(asgi_server, owner, team):
    key, raw = make_key(owner, team, ["admin"])
    stream = SSE(f"{asgi_server.url}{STREAM}", {"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}).ready()
    revoke_key(key=key, actor=owner)
    while (message := stream.next(5)) not in (None, "timeout") and message.get("event") != "revoked":
        pass  # the stream's own opening (an API-key request, audited), key.revoked
    assert json.loads(message["data"]) == {"reason": "key_revoked"}
    stream.close()


# --- resume -------------------------------------------------------------------------------------


def test_a_reconnect_with_last_event_id_misses_nothing_and_repeats_nothing(asgi_server, owner, team):
    _, raw = make_key(owner, team, ["read:campaigns"])
    first = open_stream(asgi_server, owner, team)
    for _ in range(3):
        assert key_call(asgi_server, raw, team).status_code == 200
    seen = [m["id"] for m in first.events(3)]
    first.close()
    missed = []
    for _ in range(4):  # while nobody listens
        assert key_call(asgi_server, raw, team).status_code == 200
    missed = [str(e) for e in _ids_after(team, seen[-1])]
    assert len(missed) == 4
    token = token_for(asgi_server, login_headers(owner, team))
    second = SSE(f"{asgi_server.url}{STREAM}?token={token}", {"Last-Event-ID": seen[-1]})
    replayed = [m["id"] for m in second.events(4)]
    assert replayed == missed
    assert key_call(asgi_server, raw, team).status_code == 200
    (live,) = second.events(1)
    assert live["id"] not in seen + replayed
    assert second.silent(1)
    second.close()
    # The query parameter works the same (what the dashboard sends, EventSource cannot set headers).
    third = open_stream(asgi_server, owner, team, f"&last_event_id={seen[0]}")
    assert [m["id"] for m in third.events(len(seen) - 1 + 4 + 1)] == [*seen[1:], *replayed, live["id"]]
    third.close()


def _ids_after(team, event_id):
    from audit.models import AuditEvent

    return list(AuditEvent.objects.filter(team_id=team.pk, id__gt=event_id).order_by("id").values_list("id", flat=True))


# --- the connection itself ------------------------------------------------------------------


def test_an_idle_stream_gets_heartbeats_and_ends_at_its_maximum_duration(
    transactional_db, stream_settings, owner, team
):
    stream_settings.AUDIT_STREAM_MAX_SECONDS = 1.6
    with ASGIServer() as server:
        stream = open_stream(server, owner, team)
        message = stream.next(3)
        while message and "comment" in message:
            message = stream.next(3)
        assert message == {"event": "end", "data": '{"reason": "max_duration"}'}
        assert stream.comments.count(": heartbeat") >= 2
        stream.close()


def test_a_token_streams_on_one_connection_at_a_time_and_resumes_once_it_closes(asgi_server, owner, team):
    token = token_for(asgi_server, login_headers(owner, team))
    first = SSE(f"{asgi_server.url}{STREAM}?token={token}").ready()
    second = SSE(f"{asgi_server.url}{STREAM}?token={token}")
    assert second.status == 200 and second.next() == {"retry": "2000"}
    assert second.next() == {"event": "end", "data": '{"reason": "token_in_use"}'} and second.next() is None
    first.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the server sees the first connection close, and lets go
        third = SSE(f"{asgi_server.url}{STREAM}?token={token}")
        if third.next() == {"comment": ": live"}:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the token did not reopen the stream once its connection closed")
    third.close()


def test_a_held_token_stays_held_when_the_cache_is_lost(asgi_server, owner, team):
    """The hold is in the database: flushing the cache (Redis restarted empty) frees nothing."""
    from django.core.cache import cache

    token = token_for(asgi_server, login_headers(owner, team))
    first = SSE(f"{asgi_server.url}{STREAM}?token={token}").ready()
    cache.clear()
    second = SSE(f"{asgi_server.url}{STREAM}?token={token}")
    assert second.next() == {"retry": "2000"} and second.next()["data"] == '{"reason": "token_in_use"}'
    first.close()


def test_twenty_streams_at_once_and_the_api_still_answers(asgi_server, owner, team):
    _, raw = make_key(owner, team, ["read:campaigns"])
    streams = [open_stream(asgi_server, owner, team) for _ in range(20)]
    started = time.monotonic()
    for _ in range(5):
        assert key_call(asgi_server, raw, team).status_code == 200
    assert httpx.get(f"{asgi_server.url}/healthz").status_code == 200
    ids = {tuple(m["id"] for m in stream.events(5)) for stream in streams}
    assert len(ids) == 1 and len(next(iter(ids))) == 5  # every stream, every event, same order
    assert time.monotonic() - started < 5
    for stream in streams:
        stream.close()


def test_the_access_log_never_holds_the_token(transactional_db, stream_settings, owner, team):
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Collect()
    with ASGIServer(access_log=True) as server:
        # (uvicorn configures its loggers when it starts: the handler goes in after that)
        logging.getLogger("uvicorn.access").addHandler(handler)
        try:
            token = token_for(server, login_headers(owner, team))
            SSE(f"{server.url}{STREAM}?token={token}&status=4xx").ready().close()
            SSE(f"{server.url}{STREAM}?token={token}")  # refused: reused
        finally:
            logging.getLogger("uvicorn.access").removeHandler(handler)
    lines = [line for line in records if STREAM in line]
    assert len(lines) >= 2, records
    assert not any("token=" in line or "?" in line or token[-20:] in line for line in lines), lines


def test_the_asgi_server_refuses_an_oversized_body_without_reading_it_all(asgi_server, owner, team, settings):
    """Django's ASGI handler would spool any body to disk before the view; config/asgi.py stops at
    DATA_UPLOAD_MAX_MEMORY_SIZE (413), as the WSGI path does when the body is parsed."""
    headers = {**login_headers(owner, team), "Content-Type": "application/json"}
    body = b'{"name": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    response = httpx.post(f"{asgi_server.url}/api/v1/campaigns", content=body, headers=headers, timeout=10)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    small = httpx.post(f"{asgi_server.url}/api/v1/campaigns", json={"name": "fits"}, headers=headers, timeout=10)
    assert small.status_code == 201


def test_head_answers_the_headers_and_holds_nothing(asgi_server, owner, team):
    from livestream import fanout

    before = fanout.open_streams
    response = httpx.head(f"{asgi_server.url}{STREAM}", headers=login_headers(owner, team), timeout=5)
    assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
    assert fanout.open_streams == before
