"""The stream caps (AUDIT_STREAM_MAX_PER_TEAM, AUDIT_STREAM_MAX_PER_PROCESS) hold for streams
opened at the same moment: a slot is taken before the answer starts, and given back exactly once
however the stream ends, with its stream token's hold."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import httpx
import pytest

from access.scopes import Role
from config.asgi import application
from livestream import fanout
from livestream.models import StreamTokenUse
from teams.models import Membership

from .test_audit_stream_live import SSE, STREAM, ASGIServer, login_headers, token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(transactional_db, settings):
    settings.AUDIT_STREAM_HEARTBEAT_SECONDS = 0.5  # the client's reader notices it was closed
    settings.AUDIT_STREAM_RECHECK_SECONDS = 0.3
    settings.AUDIT_STREAM_POLL_SECONDS = 0.5
    with ASGIServer() as running:
        yield running
    assert wait_for(lambda: fanout.open_streams == 0), "a slot outlived the server"


def wait_for(condition, seconds: float = 10) -> bool:
    # The slots counted here are the whole process's: a slot left by an earlier test's unread
    # answer (the ASGI test client) once made these fail; conftest gives those back when a test ends.
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(condition())


def open_at_once(server, headers: dict, count: int) -> list[tuple[int, str | None, SSE | None]]:
    """`count` streams asked for at the same moment: (status, Retry-After, the open stream)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    clients: list[httpx.Client] = []

    def one(index: int):
        client = httpx.Client(timeout=httpx.Timeout(10, read=30))
        clients.append(client)
        barrier.wait()
        request = client.build_request(
            "GET", f"{server.url}{STREAM}", headers={"Accept": "text/event-stream", **headers}
        )
        response = client.send(request, stream=True)
        results[index] = (response.status_code, response.headers.get("Retry-After"), response)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    yield_results = [(status, retry, response) for status, retry, response in results]
    return yield_results, clients


def close_all(results, clients):
    for _, _, response in results:
        response.close()
    for client in clients:
        client.close()


def test_streams_opened_at_the_same_moment_never_pass_the_teams_cap(server, settings, owner, team):
    settings.AUDIT_STREAM_MAX_PER_TEAM = 3
    results, clients = open_at_once(server, login_headers(owner, team), 12)
    statuses = sorted(status for status, _, _ in results)
    retry_afters = {retry for status, retry, _ in results if status == 429}
    assert fanout.streams_of_team(team.pk) == 3
    close_all(results, clients)
    assert statuses == [200] * 3 + [429] * 9 and retry_afters == {"30"}
    assert wait_for(lambda: fanout.open_streams == 0), "a slot was not given back when its client left"


def test_streams_opened_at_the_same_moment_never_pass_the_process_cap(server, settings, owner, team):
    settings.AUDIT_STREAM_MAX_PER_PROCESS = 2
    results, clients = open_at_once(server, login_headers(owner, team), 8)
    statuses = sorted(status for status, _, _ in results)
    retry_afters = {retry for status, retry, _ in results if status == 503}
    close_all(results, clients)
    assert statuses == [200] * 2 + [503] * 6 and retry_afters == {"5"}


def held(token_count: int = 1) -> bool:
    return StreamTokenUse.objects.filter(held_by__isnull=False).count() == token_count


def test_a_stream_gives_its_slot_and_its_tokens_hold_back_when_the_client_leaves(server, owner, team):
    stream = SSE(f"{server.url}{STREAM}?token={token_for(server, login_headers(owner, team))}").ready()
    assert fanout.open_streams == 1 and held(1)
    stream.close()
    assert wait_for(lambda: fanout.open_streams == 0 and held(0))


def test_a_stream_gives_its_slot_and_hold_back_when_the_server_ends_it(server, settings, owner, team):
    settings.AUDIT_STREAM_MAX_SECONDS = 1
    stream = SSE(f"{server.url}{STREAM}?token={token_for(server, login_headers(owner, team))}").ready()
    assert stream.events(1, timeout=3) == [{"event": "end", "data": '{"reason": "max_duration"}'}]
    assert wait_for(lambda: fanout.open_streams == 0 and held(0))
    stream.close()


def test_a_revoked_stream_gives_its_slot_back_and_its_token_never_reopens(server, owner, admin, team):
    token = token_for(server, login_headers(admin, team))
    stream = SSE(f"{server.url}{STREAM}?token={token}").ready()
    Membership.objects.filter(team=team, user=admin).update(role=Role.ADMIN)  # still admin: nothing
    Membership.objects.filter(team=team, user=admin).update(role=Role.MEMBER)
    assert stream.events(1, timeout=3)[0]["event"] == "revoked"
    assert wait_for(lambda: fanout.open_streams == 0 and held(0))
    Membership.objects.filter(team=team, user=admin).update(role=Role.ADMIN)  # the right comes back...
    again = httpx.get(f"{server.url}{STREAM}?token={token}", timeout=5)
    assert again.status_code == 401 and again.json()["code"] == "token_reused"  # ...not the token
    stream.close()


def test_a_stream_that_fails_gives_its_slot_back(server, owner, team, monkeypatch):
    from livestream import sse as stream_module

    def broken(*args, **kwargs):
        raise RuntimeError("the replay failed")

    monkeypatch.setattr(stream_module, "_replay_page", broken)
    stream = SSE(f"{server.url}{STREAM}?token={token_for(server, login_headers(owner, team))}")
    stream.close()
    assert wait_for(lambda: fanout.open_streams == 0 and held(0))


def test_streams_give_their_slots_back_when_the_server_stops(transactional_db, settings, owner, team):
    settings.AUDIT_STREAM_RECHECK_SECONDS = 0.3
    with ASGIServer() as server:
        streams = [SSE(f"{server.url}{STREAM}?token={token_for(server, login_headers(owner, team))}").ready()]
        streams.append(SSE(f"{server.url}{STREAM}", login_headers(owner, team)).ready())
        assert fanout.open_streams == 2
    assert wait_for(lambda: fanout.open_streams == 0 and held(0))
    for stream in streams:
        stream.close()


def test_an_answer_never_sent_gives_its_slot_and_hold_back(transactional_db, settings, owner, team, monkeypatch):
    """The client leaves while the view runs: Django cancels the request and the answer is never
    sent (nor closed). The slot and the hold the view took are given back all the same: when the
    answer is garbage collected, at the latest when a stream is next asked for."""
    from livestream import sse as stream_module

    monkeypatch.setattr(stream_module, "UNSENT_SECONDS", 0.2)
    settings.AUDIT_STREAM_RECHECK_SECONDS = 0.3
    gc.disable()  # not the garbage collector's doing, then
    try:
        answer_never_sent(owner, team, monkeypatch)
    finally:
        gc.enable()


def answer_never_sent(owner, team, monkeypatch):
    with ASGIServer() as server:
        token = token_for(server, login_headers(owner, team))
    sent = []
    reserved, left = threading.Event(), threading.Event()
    reserve = fanout.reserve

    def reserve_and_tell(team_id):
        refused = reserve(team_id)
        reserved.set()
        left.wait(5)  # the view goes on once the client has left
        time.sleep(0.2)
        return refused

    monkeypatch.setattr(fanout, "reserve", reserve_and_tell)

    async def call():
        delivered = []

        async def receive():
            if not delivered:
                delivered.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            while not reserved.is_set():  # the client leaves while the view runs
                await asyncio.sleep(0.005)
            left.set()
            return {"type": "http.disconnect"}

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": STREAM,
            "raw_path": STREAM.encode(),
            "query_string": f"token={token}".encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"accept", b"text/event-stream")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }

        async def send(message):
            sent.append(message)

        await application(scope, receive, send)

    # On a thread of its own: the browser tests' Playwright may run an event loop on this one.
    caller = threading.Thread(target=asyncio.run, args=(call(),))
    caller.start()
    caller.join(15)
    assert reserved.is_set() and left.is_set() and sent == []
    time.sleep(0.3)
    with ASGIServer() as server:
        SSE(f"{server.url}{STREAM}", login_headers(owner, team)).ready().close()
    assert wait_for(lambda: fanout.open_streams == 0 and held(0))


def test_the_garbage_collector_never_writes_a_slot_back_itself_the_next_open_does(db, team):
    """The collector runs at any moment, on any thread, maybe inside another request's transaction:
    collecting an unsent answer writes nothing then; the next stream asked for gives its slot back."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from livestream import sse as stream_module

    before = fanout.open_streams
    slot = stream_module.Slot(team_id=team.pk, on_loop=False)
    slot.reserve()
    content = stream_module._ReplayContent(iter(()), slot)
    assert fanout.open_streams == before + 1
    with CaptureQueriesContext(connection) as queries:
        del content
        gc.collect()
    assert queries.captured_queries == []
    assert fanout.open_streams == before + 1  # not yet
    stream_module._give_back_unsent()  # what the next open does first
    assert fanout.open_streams == before
