"""The SDK's live audit stream and `gf audit --follow`, against a real ASGI server (uvicorn in a
thread of this process, on the test database), reached through a TCP relay the test can cut or
stall: every event arrives once, in order, across server-initiated ends and dropped connections."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid

import httpx
import pytest
from ghostflow_client import AsyncGhostFlow, GhostFlow, StreamRevoked
from ghostflow_client.cli import Exit

from apikeys.services import revoke_key
from audit.models import Action, AuditEvent
from tests.factories import make_key
from tests.test_audit_stream_live import ASGIServer

from .conftest import run_async
from .relay import Relay
from .test_cli import GF, popen_as_from_a_shell

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(transactional_db, settings):
    """Streams end by themselves every 2 s (`event: end`, max_duration), heartbeats every 0.3 s."""
    settings.AUDIT_STREAM_MAX_SECONDS = 2
    settings.AUDIT_STREAM_HEARTBEAT_SECONDS = 0.3
    settings.AUDIT_STREAM_RECHECK_SECONDS = 0.3
    settings.AUDIT_STREAM_POLL_SECONDS = 0.5
    with ASGIServer() as asgi:
        yield asgi


@pytest.fixture
def relay(server):
    with Relay(server.port) as relay:
        yield relay


@pytest.fixture
def keys(owner, team):
    """The stream's reader (an `admin` key) and a writer whose requests are the events watched."""
    _, reader = make_key(owner, team, ["admin"], name="reader")
    writer, writer_raw = make_key(owner, team, ["read:campaigns"], name="writer")
    return reader, writer, writer_raw


def write(server, raw, team, count, pause=0.0):
    for _ in range(count):
        response = httpx.get(
            f"{server.url}/api/v1/campaigns",
            headers={"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)},
            timeout=10,
        )
        assert response.status_code == 200
        time.sleep(pause)


def written(writer) -> list[str]:
    """The writer's requests, as the database has them, in id order."""
    events = AuditEvent.objects.filter(api_key=writer, action=Action.API_REQUEST).order_by("id")
    return [str(event_id) for event_id in events.values_list("id", flat=True)]


def opened_streams() -> int:
    return AuditEvent.objects.filter(path="/api/v1/audit-log/stream", status_code=200).count()


def id_floor(seconds_ago: float = 0.0) -> str:
    """The smallest event id stamped `seconds_ago`: a resume point before what the test writes."""
    return str(uuid.UUID(int=int((time.time() - seconds_ago) * 1000) << 80))


class Consumer:
    """Iterates a sync stream on a thread, keeping every event's id, until `count` arrived."""

    def __init__(self, stream, count: int) -> None:
        self.stream, self.count = stream, count
        self.ids: list[str] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            with self.stream as events:
                for event in events:
                    self.ids.append(event["id"])
                    if len(self.ids) >= self.count:
                        return
        except BaseException as error:  # handed to the test
            self.error = error

    def wait_for(self, count: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ids) < count and self.error is None:
            assert time.monotonic() < deadline, (len(self.ids), count)
            time.sleep(0.02)

    def finish(self, timeout: float = 20) -> list[str]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), (len(self.ids), self.count)
        if self.error is not None:
            raise self.error
        return self.ids


def test_the_stream_resumes_after_server_ends_and_dropped_connections_and_misses_and_repeats_nothing(
    server, relay, keys, team
):
    reader, writer, writer_raw = keys
    client = GhostFlow(relay.url, api_key=reader, team_id=team.pk)
    stream = client.audit_log.stream(action="api_request", key=writer.pk, last_event_id=id_floor(1))
    consumer = Consumer(stream, count=40)

    write(server, writer_raw, team, 10)
    consumer.wait_for(10)
    relay.cut()  # the network drops: these are written while nobody listens
    write(server, writer_raw, team, 10)
    consumer.wait_for(20)
    relay.cut()
    # Twenty more over about three seconds: the server ends each stream after two (max_duration).
    write(server, writer_raw, team, 20, pause=0.15)
    ids = consumer.finish()

    assert ids == written(writer)  # every event, in order, once
    assert len(set(ids)) == 40
    # Opened five times or more: two cuts and at least one server-initiated end (after which the
    # connection itself may be kept alive for the next request).
    assert relay.connections >= 3 and opened_streams() >= 4
    client.close()


def test_a_silent_connection_is_taken_for_dead_after_the_read_timeout_and_resumed(server, relay, keys, team):
    reader, writer, writer_raw = keys
    client = GhostFlow(relay.url, api_key=reader, team_id=team.pk)
    stream = client.audit_log.stream(action="api_request", key=writer.pk, last_event_id=id_floor(1), read_timeout=1.0)
    consumer = Consumer(stream, count=6)
    write(server, writer_raw, team, 3)
    consumer.wait_for(3)
    relay.stall()  # open, but nothing gets through any more (no heartbeat either)
    write(server, writer_raw, team, 3)
    assert consumer.finish() == written(writer)
    client.close()


def test_before_any_event_a_reconnect_resumes_from_when_the_stream_opened(server, relay, keys, team):
    """No Last-Event-ID given and none received yet: what is written while the connection is down
    still arrives (the resume point is the opening, by the server's clock)."""
    reader, writer, writer_raw = keys
    client = GhostFlow(relay.url, api_key=reader, team_id=team.pk)
    consumer = Consumer(client.audit_log.stream(action="api_request", key=writer.pk), count=3)
    deadline = time.monotonic() + 10
    while relay.connections < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.5)  # the stream is open (its response started)
    relay.cut()
    write(server, writer_raw, team, 3)  # while it reconnects
    assert consumer.finish() == written(writer)
    client.close()


def test_a_quiet_stream_resumes_after_each_server_end_without_reporting_a_false_gap(
    server, keys, team, settings, monkeypatch
):
    """Nothing written for longer than the replay window: each `max_duration` end moves the resume
    point up to (a little before) the end, so the reconnect is inside the window."""
    import ghostflow_client.stream

    settings.AUDIT_STREAM_REPLAY_SECONDS = 4
    settings.AUDIT_STREAM_MAX_SECONDS = 1
    # The SDK's times, scaled down as the server's are (margin 10 s, a quick end under 5 s).
    monkeypatch.setattr(ghostflow_client.stream, "END_MARGIN_SECONDS", 0.5)
    monkeypatch.setattr(ghostflow_client.stream, "QUICK_END_SECONDS", 0.5)
    reader, writer, writer_raw = keys
    gaps = []
    client = GhostFlow(server.url, api_key=reader, team_id=team.pk)
    consumer = Consumer(client.audit_log.stream(action="api_request", key=writer.pk, on_gap=gaps.append), count=1)
    time.sleep(6)  # about five server-initiated ends, nothing written
    write(server, writer_raw, team, 1)
    assert consumer.finish() == written(writer)
    assert gaps == [] and opened_streams() >= 4
    client.close()


def test_the_async_stream_resumes_the_same_way(server, relay, keys, team):
    reader, writer, writer_raw = keys

    async def consume():
        ids = []
        client = AsyncGhostFlow(relay.url, api_key=reader, team_id=team.pk)
        stream = client.audit_log.stream(action="api_request", key=writer.pk, last_event_id=id_floor(1))
        async with client, stream as events:
            async for event in events:
                ids.append(event["id"])
                if len(ids) == 5:
                    relay.cut()
                if len(ids) == 20:
                    return ids, events.last_event_id
        return ids, None

    writing = threading.Thread(target=write, args=(server, writer_raw, team, 20), kwargs={"pause": 0.15})
    writing.start()
    ids, last = run_async(consume())
    writing.join()
    assert ids == written(writer) and last == ids[-1]


def test_a_revoked_holder_ends_the_stream_with_stream_revoked(server, owner, team):
    key, raw = make_key(owner, team, ["admin"])
    client = GhostFlow(server.url, api_key=raw, team_id=team.pk)
    consumer = Consumer(client.audit_log.stream(action="key.created", last_event_id=id_floor(1)), count=10)
    consumer.wait_for(1)  # its own key.created: the stream is open
    revoke_key(key=key, actor=owner)
    with pytest.raises(StreamRevoked) as raised:
        consumer.finish()
    assert raised.value.reason == "key_revoked" and not raised.value.forbidden
    assert raised.value.last_event_id == consumer.ids[-1]


def test_stream_url_mints_a_token_url_a_browser_opens_once(server, owner, team, keys):
    reader, writer, writer_raw = keys
    client = GhostFlow(server.url, api_key=reader, team_id=team.pk)
    resume = id_floor(5)
    url = client.audit_log.stream_url(action="api_request", key=writer.pk, status="2xx", last_event_id=resume)
    parsed = httpx.URL(url)
    assert url.startswith(server.url + "/api/v1/audit-log/stream?")
    assert parsed.params["key"] == str(writer.pk) and parsed.params["status"] == "2xx"
    assert parsed.params["action"] == "api_request"
    assert parsed.params["last_event_id"] == resume and parsed.params["token"]
    write(server, writer_raw, team, 1)
    # What EventSource does with it: a GET with no header but Accept.
    with httpx.stream("GET", url, headers={"Accept": "text/event-stream"}, timeout=10) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines) == ": live"
        data = next(line for line in lines if line.startswith("data: "))
    assert json.loads(data.removeprefix("data: "))["id"] == written(writer)[0]
    client.close()


# --- gf audit --follow -------------------------------------------------------------------------


class Follow:
    """`gf audit --follow` in a process of its own (a real Ctrl-C is a signal to a process), its
    stdout read line by line on a thread."""

    def __init__(self, server, key, team, *args):
        env = {**os.environ, "GF_API_KEY": key, "GF_TEAM_ID": str(team.pk), "GF_KEYRING": "0"}
        self.process = popen_as_from_a_shell(
            [str(GF), "--base-url", server.url, "audit", "--follow", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)

    def line(self, timeout=10) -> str:
        return self.lines.get(timeout=timeout)

    def end(self, timeout=15) -> str:
        try:
            return self.process.stderr.read() if self.process.wait(timeout) is not None else ""
        finally:
            self.process.kill()


def test_gf_audit_follow_prints_events_as_they_come_and_stops_on_ctrl_c_with_130(server, keys, team):
    reader, writer, writer_raw = keys
    follow = Follow(server, reader, team, "--json", "--action", "api_request", "--key", str(writer.pk))
    time.sleep(1.5)  # opened
    write(server, writer_raw, team, 3)
    events = [json.loads(follow.line()) for _ in range(3)]  # one JSON object per line, as they come
    follow.process.send_signal(signal.SIGINT)
    stderr = follow.end()
    assert follow.process.returncode == 130
    assert "Traceback" not in stderr and f"Stopped after event {events[-1]['id']}" in stderr
    assert [event["id"] for event in events] == written(writer)


def test_gf_audit_follow_prints_one_line_per_event_for_people(server, keys, team):
    reader, writer, writer_raw = keys
    follow = Follow(server, reader, team, "--action", "api_request", "--key", str(writer.pk), "--limit", "2")
    time.sleep(1.5)
    write(server, writer_raw, team, 2)
    lines = [follow.line(), follow.line()]
    stderr = follow.end()
    assert follow.process.returncode == 0, stderr  # --limit 2: stops after two events
    for line in lines:
        assert "api_request" in line and writer.prefix in line and "/api/v1/campaigns" in line and "200" in line


def test_gf_audit_follow_ends_with_the_auth_exit_code_when_its_key_is_revoked(server, owner, team):
    key, raw = make_key(owner, team, ["admin"])
    follow = Follow(server, raw, team)
    time.sleep(1.5)  # opened
    revoke_key(key=key, actor=owner)
    stderr = follow.end()
    assert follow.process.returncode == Exit.AUTH, stderr
    assert stderr.splitlines()[-1] == "Error: The server ended the audit stream: key_revoked."
    assert raw not in stderr


def test_gf_audit_follow_refuses_since_and_until(config_dir):
    from .test_cli import refused

    refused(Exit.USAGE, "--team", str(uuid.uuid4()), "audit", "--follow", "--since", "2026-01-01")


def test_record_event_reaches_the_sdk_stream_as_the_listing_shows_it(server, owner, team):
    _, raw = make_key(owner, team, ["admin"])
    client = GhostFlow(server.url, api_key=raw, team_id=team.pk)
    consumer = Consumer(client.audit_log.stream(action="team.updated", last_event_id=id_floor(1)), count=1)
    from audit.services import record_event

    event = record_event(action=Action.TEAM_UPDATED, team_id=team.pk)
    (received,) = consumer.finish()
    assert received == str(event.id)
    listed = next(item for item in client.audit_log.list(action="team.updated") if item["id"] == received)
    assert listed["action"] == "team.updated"
    client.close()
