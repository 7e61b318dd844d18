"""Per-key rate limits and monthly quotas (apikeys.limits): the IETF RateLimit headers on every
request of a key that has limits, 429 with Retry-After past one, several windows, team defaults,
concurrent requests never admitted past a window's limit (in Redis, through the one-round-trip
script), the cache's outage as the team decides, and refusals audited per minute, not per request."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from apikeys import limits
from apikeys.models import APIKey
from apikeys.services import govern_key
from audit.middleware import flush_key_refusals
from audit.models import Action, AuditEvent

from . import servers
from .factories import make_key

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/campaigns"


def test_a_key_without_limits_has_no_headers_and_costs_no_round_trip(as_key, owner, team, monkeypatch):
    _, raw = make_key(owner, team, ["read"])
    monkeypatch.setattr(limits, "_count", lambda *a, **k: pytest.fail("counted a key without limits"))
    response = as_key(raw, team).get(CAMPAIGNS)
    assert response.status_code == 200 and "RateLimit" not in response and "RateLimit-Policy" not in response


def test_every_request_carries_the_headers_and_the_limit_refuses_with_retry_after(as_key, owner, team):
    _, raw = make_key(owner, team, ["read"], rate_limits=[{"limit": 3, "seconds": 3600}])
    client = as_key(raw, team)
    answers = [client.get(CAMPAIGNS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0]["RateLimit-Policy"] == '"per-3600s";q=3;w=3600'
    assert [a["RateLimit"].split(";")[1] for a in answers] == ["r=2", "r=1", "r=0", "r=0"]
    refused = answers[3]
    assert refused.json()["code"] == "key_rate_limited" and int(refused["Retry-After"]) > 0
    assert refused["RateLimit-Policy"] == answers[0]["RateLimit-Policy"]  # on the refusal too


def test_several_windows_the_tightest_is_reported_and_refuses(as_key, owner, team):
    _, raw = make_key(owner, team, ["read"], rate_limits=[{"limit": 100, "seconds": 3600}, {"limit": 2, "seconds": 60}])
    client = as_key(raw, team)
    first = client.get(CAMPAIGNS)
    assert first["RateLimit-Policy"] == '"per-60s";q=2;w=60, "per-3600s";q=100;w=3600'
    assert first["RateLimit"].startswith('"per-60s";r=1;')
    client.get(CAMPAIGNS)
    third = client.get(CAMPAIGNS)
    assert third.status_code == 429 and third["RateLimit"].startswith('"per-60s";r=0')


def test_a_monthly_quota_refuses_as_exhausted_and_refused_requests_do_not_spend_it(as_key, owner, team):
    key, raw = make_key(owner, team, ["read"], monthly_quota=2, rate_limits=[{"limit": 1, "seconds": 3600}])
    client = as_key(raw, team)
    assert client.get(CAMPAIGNS).status_code == 200
    assert client.get(CAMPAIGNS).json()["code"] == "key_rate_limited"  # not counted against the month
    govern_key(key=APIKey.objects.get(pk=key.pk), actor=owner, rate_limits=[])  # the quota alone now
    assert client.get(CAMPAIGNS).status_code == 200
    exhausted = client.get(CAMPAIGNS)
    assert exhausted.status_code == 429 and exhausted.json()["code"] == "key_quota_exhausted"
    assert '"month";q=2;' in exhausted["RateLimit-Policy"]


def test_a_team_default_applies_to_keys_without_their_own(as_key, as_user, owner, team):
    body = {
        "expiry_required": False,
        "max_lifetime_days": None,
        "unused_days": None,
        "unused_action": "flag",
        "default_rate_limits": [{"limit": 1, "seconds": 3600}],
    }
    assert as_user(owner, team).put("/api/v1/team/key-policy", body, format="json").status_code == 200
    _, plain = make_key(owner, team, ["read"], name="plain")
    _, own = make_key(owner, team, ["read"], name="own", rate_limits=[{"limit": 5, "seconds": 3600}])
    assert [as_key(plain, team).get(CAMPAIGNS).status_code for _ in range(2)] == [200, 429]
    assert [as_key(own, team).get(CAMPAIGNS).status_code for _ in range(2)] == [200, 200]


@pytest.mark.parametrize(
    "rate_limits",
    [[{"limit": 0, "seconds": 1}], [{"limit": 1, "seconds": 0}], [{"limit": 1, "seconds": 1}] * 2, [{}], "x"],
    ids=["zero-limit", "zero-window", "same-window", "empty", "not-a-list"],
)
def test_bad_limits_are_a_clear_400(as_user, owner, team, rate_limits):
    response = as_user(owner, team).post(
        "/api/v1/auth/api-keys", {"name": "k", "permissions": ["read"], "rate_limits": rate_limits}, format="json"
    )
    assert response.status_code == 400 and "rate_limits" in response.json()["errors"]


def test_limits_set_on_a_live_key_apply_from_the_next_request(as_key, as_user, owner, team):
    key, raw = make_key(owner, team, ["read"])
    assert as_key(raw, team).get(CAMPAIGNS).status_code == 200  # cached now
    patched = as_user(owner, team).patch(
        f"/api/v1/auth/api-keys/{key.pk}", {"rate_limits": [{"limit": 1, "seconds": 3600}]}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["rate_limits"] == [{"limit": 1, "seconds": 3600}]
    assert [as_key(raw, team).get(CAMPAIGNS).status_code for _ in range(2)] == [200, 429]


def test_refusals_are_audited_per_minute_not_per_request(as_key, owner, team):
    key, raw = make_key(owner, team, ["read"], rate_limits=[{"limit": 1, "seconds": 3600}])
    client = as_key(raw, team)
    for _ in range(25):
        client.get(CAMPAIGNS)
    assert AuditEvent.objects.filter(api_key_id=key.pk, action=Action.API_REQUEST).count() == 1  # the 200
    flush_key_refusals(APIKey.objects.get(pk=key.pk))
    event = AuditEvent.objects.get(action=Action.KEY_RATE_LIMITED)
    assert event.data["refused"] == 24 and event.data["key_rate_limited"] == 24
    assert datetime.fromisoformat(event.data["minute"]).tzinfo == UTC


def _consume_concurrently(key, threads: int) -> int:
    admitted = []
    barrier = threading.Barrier(threads)

    def one():
        barrier.wait()
        if limits.consume(key).refusal is None:
            admitted.append(1)

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    return len(admitted)


def test_concurrent_requests_never_pass_a_window_in_one_process(owner, team):
    key, _ = make_key(owner, team, ["read"], rate_limits=[{"limit": 7, "seconds": 3600}])
    assert _consume_concurrently(APIKey.objects.select_related("team").get(pk=key.pk), 40) == 7


@pytest.fixture
def redis_cache(settings, tmp_path):
    url = servers.redis_url()
    if url is None:
        pytest.skip("Redis (TEST_REDIS_URL) is not running")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": tmp_path.name,
        }
    }
    return url


def test_concurrent_requests_never_pass_a_window_through_redis(redis_cache, owner, team):
    key, _ = make_key(owner, team, ["read"], rate_limits=[{"limit": 7, "seconds": 3600}], monthly_quota=1000)
    loaded = APIKey.objects.select_related("team").get(pk=key.pk)
    assert _consume_concurrently(loaded, 40) == 7
    client, _ = limits._redis_client()
    months = [name for name in client.scan_iter(f"gf:kq:{key.pk}:*")]
    assert [int(client.get(name)) for name in months] == [7]  # refused requests spent no quota


def test_a_cache_outage_fails_closed_by_default_and_open_where_the_team_says(settings, owner, team, as_key):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    key, _ = make_key(owner, team, ["read"], rate_limits=[{"limit": 5, "seconds": 60}])
    loaded = APIKey.objects.select_related("team").get(pk=key.pk)
    from infra.ratelimit import CacheUnavailable

    with pytest.raises(CacheUnavailable):
        limits.consume(loaded)
    loaded.team.key_limits_on_cache_failure = "open"
    assert limits.consume(loaded) == limits.NO_LIMITS
