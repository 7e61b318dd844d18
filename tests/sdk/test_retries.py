"""Retries, backoff and timeouts, against a scripted stub server (503 then 200, ...)."""

import time
import uuid

import pytest
from ghostflow_client import (
    AsyncGhostFlow,
    GhostFlow,
    NetworkError,
    RateLimitedError,
    RequestTimeout,
    RetryPolicy,
    ServerError,
)

from .conftest import run_async
from .stub import DROP, Answer, StubServer, problem

KEY = "gf_" + "a" * 38
TEAM = str(uuid.uuid4())
FAST = RetryPolicy(backoff=0.01)  # the shape of the real policy, with waits of milliseconds
PAGE = {"next": None, "previous": None, "results": [{"id": str(uuid.uuid4()), "name": "Spring sale"}]}
UNAVAILABLE = Answer(503, problem(503, "service_unavailable"))


def client(stub, **kwargs):
    return GhostFlow(stub.url, api_key=KEY, team_id=TEAM, retry=kwargs.pop("retry", FAST), **kwargs)


def test_a_get_answered_503_then_200_is_retried_with_the_same_credential_and_team():
    with StubServer([UNAVAILABLE, Answer(200, PAGE)]) as stub, client(stub) as gf:
        campaigns = list(gf.campaigns.list())

    assert [c["name"] for c in campaigns] == ["Spring sale"]
    assert [(seen.method, seen.path) for seen in stub.seen] == [("GET", "/api/v1/campaigns")] * 2
    for seen in stub.seen:
        assert seen.headers["Authorization"] == f"Bearer {KEY}"
        assert seen.headers["X-Team-Id"] == TEAM
        assert seen.headers["User-Agent"].startswith("ghostflow-python/")


def test_a_post_is_never_retried():
    with StubServer([UNAVAILABLE, Answer(201, {})]) as stub, client(stub) as gf, pytest.raises(ServerError) as raised:
        gf.campaigns.create(name="Once")

    assert raised.value.status == 503 and raised.value.code == "service_unavailable"
    assert len(stub.seen) == 1


def test_retries_stop_after_max_retries_and_raise_the_last_answer():
    with (
        StubServer([UNAVAILABLE] * 5) as stub,
        client(stub, retry=RetryPolicy(max_retries=2, backoff=0.01)) as gf,
        pytest.raises(ServerError),
    ):
        gf.me()
    assert len(stub.seen) == 3


def test_retry_after_is_honoured():
    limited = Answer(429, problem(429, "rate_limited"), headers={"Retry-After": "1"})
    with StubServer([limited, Answer(200, PAGE)]) as stub, client(stub) as gf:
        started = time.monotonic()
        gf.campaigns.list().first_page()
        waited = time.monotonic() - started

    assert len(stub.seen) == 2
    assert waited >= 1.0


def test_a_retry_after_longer_than_the_policy_allows_is_raised_at_once():
    limited = Answer(429, problem(429, "rate_limited", "Slow down."), headers={"Retry-After": "120"})
    with (
        StubServer([limited, Answer(200, PAGE)]) as stub,
        client(stub) as gf,
        pytest.raises(RateLimitedError) as raised,
    ):
        gf.campaigns.list().first_page()

    assert raised.value.retry_after == 120
    assert raised.value.detail == "Slow down."
    assert len(stub.seen) == 1


def test_a_broken_connection_is_retried_for_a_get_only():
    with StubServer([DROP, Answer(200, PAGE)]) as stub, client(stub) as gf:
        assert len(list(gf.campaigns.list())) == 1
    assert len(stub.seen) == 2

    with StubServer([DROP, Answer(201, {})]) as stub, client(stub) as gf, pytest.raises(NetworkError):
        gf.campaigns.create(name="Once")
    assert len(stub.seen) == 1


def test_a_server_that_does_not_answer_in_time_is_a_timeout():
    with (
        StubServer([Answer(200, PAGE, delay=1.0)]) as stub,
        client(stub, timeout=0.2, retry=RetryPolicy(max_retries=0)) as gf,
        pytest.raises(RequestTimeout),
    ):
        gf.me()


def test_a_non_json_error_page_still_gives_a_problem():
    with (
        StubServer([Answer(502, "<html>Bad gateway</html>")] * 3) as stub,
        client(stub) as gf,
        pytest.raises(ServerError) as raised,
    ):
        gf.me()
    assert raised.value.status == 502 and raised.value.code == "server_error"
    assert len(stub.seen) == 3


def test_the_async_client_retries_the_same_way():
    async def run(url):
        async with AsyncGhostFlow(url, api_key=KEY, team_id=TEAM, retry=FAST) as gf:
            names = [c["name"] async for c in gf.campaigns.list()]
            with pytest.raises(ServerError):
                await gf.campaigns.create(name="Once")
            return names

    with StubServer([UNAVAILABLE, Answer(200, PAGE), UNAVAILABLE, Answer(201, {})]) as stub:
        assert run_async(run(stub.url)) == ["Spring sale"]
    assert [seen.method for seen in stub.seen] == ["GET", "GET", "POST"]
