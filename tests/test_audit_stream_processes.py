"""Two ASGI app servers (uvicorn processes) on the test database, as two nodes would be: an event
written through one reaches a stream held by the other, through Redis pub/sub, and without Redis
through the database poll; a demotion made through one ends a stream held by the other."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from access.scopes import Role

from . import servers
from .factories import access_token, make_key
from .test_audit_stream_live import SSE, STREAM

pytestmark = pytest.mark.django_db(transaction=True)


def _serve(settings, tmp_path, **extra):
    env = servers.environment(settings, AUDIT_STREAM_RECHECK_SECONDS="0.5", AUDIT_STREAM_POLL_SECONDS="0.5", **extra)
    return servers.start(env, servers.uvicorn_command)


@pytest.fixture
def with_redis(settings, tmp_path):
    redis_url = servers.redis_url()
    if redis_url is None:
        pytest.skip("Redis (TEST_REDIS_URL) is not running: the pub/sub variant needs it")
    running = _serve(settings, tmp_path, CACHE_URL=f"{redis_url}?key_prefix={tmp_path.name}")
    yield [url for _, url in running]
    servers.stop(running)


@pytest.fixture
def without_redis(settings, tmp_path):
    running = _serve(settings, tmp_path, AUDIT_STREAM_BROKER="off")
    yield [url for _, url in running]
    servers.stop(running)


def _stream_on(url, user, team) -> SSE:
    headers = {"Authorization": f"Bearer {access_token(user)}", "X-Team-Id": str(team.pk)}
    token = httpx.post(f"{url}/api/v1/audit-log/stream-token", headers=headers, timeout=10).json()["token"]
    return SSE(f"{url}{STREAM}?token={token}").ready()


def _key_call(url, raw, team) -> str:
    response = httpx.get(
        f"{url}/api/v1/campaigns", headers={"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}, timeout=10
    )
    assert response.status_code == 200
    return response.headers["X-Request-Id"]


def _delivered(stream, request_id, timeout):
    started = time.monotonic()
    while True:
        (message,) = stream.events(1, timeout=timeout)
        if json.loads(message["data"])["request_id"] == request_id:
            return time.monotonic() - started


def test_an_event_written_through_one_process_reaches_a_stream_held_by_the_other(with_redis, owner, admin, team):
    a, b = with_redis
    _, raw = make_key(owner, team, ["read:campaigns"])
    stream = _stream_on(b, admin, team)
    for _ in range(3):
        assert _delivered(stream, _key_call(a, raw, team), timeout=2) < 1  # announced, not polled
    # A demotion made through A ends the stream held by B.
    owner_headers = {"Authorization": f"Bearer {access_token(owner)}", "X-Team-Id": str(team.pk)}
    response = httpx.patch(f"{a}/api/v1/team/members/{admin.pk}", json={"role": Role.MEMBER}, headers=owner_headers)
    assert response.status_code == 200
    while (message := stream.next(5)) not in (None, "timeout") and message.get("event") != "revoked":
        pass
    assert message["event"] == "revoked" and json.loads(message["data"]) == {"reason": "not_admin"}
    stream.close()


def test_without_redis_the_poll_carries_events_between_processes(without_redis, owner, admin, team):
    a, b = without_redis
    _, raw = make_key(owner, team, ["read:campaigns"])
    stream = _stream_on(b, admin, team)
    assert _delivered(stream, _key_call(a, raw, team), timeout=5) < 3
    stream.close()
