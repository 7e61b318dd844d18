"""Per-key rate limits and monthly quotas, shared by every process and node through the cache.

A key may carry its own limits (`APIKey.rate_limits`: several windows, e.g. 10 per second and
1000 per hour; `APIKey.monthly_quota`: requests per calendar month, UTC); a key without its own
takes its team's defaults (teams.Team.default_key_rate_limits / default_key_monthly_quota). A key
with neither costs nothing here: no cache round trip.

Counting is one round trip and atomic: with Redis, one Lua script INCRements every window's
counter (and, when no window is over, the month's) and sets each new counter's expiry, so
concurrent requests each get their own count and a window never admits more than its limit (fixed
windows: at most `limit` per window). A request refused by a window is not counted against the
quota. Without Redis (a single process: the local memory cache) the cache API does the same, one
counter at a time.

Every answer to a request with such a key carries the IETF headers
(draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy`, each policy as `"name";q=<limit>;w=<seconds>`,
and `RateLimit`, the policy closest to its limit as `"name";r=<remaining>;t=<seconds to reset>`.
A refusal is 429 `key_rate_limited` or `key_quota_exhausted` with `Retry-After`.

With the cache unreachable the team decides (teams.Team.key_limits_on_cache_failure): "closed"
(the default) answers 503 with Retry-After; "open" lets the request through uncounted (logged).
"""

from __future__ import annotations

import calendar
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled

from infra.ratelimit import CACHE_ERRORS, CacheUnavailable

logger = logging.getLogger("ghostflow.ratelimit")

MAX_WINDOWS = 5
MONTH_POLICY = "month"

# One round trip for every counter of a request. KEYS: the windows' counters, then the month's
# (if any). ARGV: the number of windows, then each window's limit and seconds-to-reset (its
# counter's lifetime), then the month counter's lifetime. Returns each count; the month's is -1
# when a window was over (a refused request is not counted against the quota).
_SCRIPT = """
local windows = tonumber(ARGV[1])
local counts = {}
local over = false
for i = 1, windows do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[1 + 2 * i])) end
  counts[i] = count
  if count > tonumber(ARGV[2 * i]) then over = true end
end
if #KEYS > windows then
  if over then
    counts[windows + 1] = -1
  else
    local count = redis.call('INCR', KEYS[windows + 1])
    if count == 1 then redis.call('EXPIRE', KEYS[windows + 1], tonumber(ARGV[2 + 2 * windows])) end
    counts[windows + 1] = count
  end
end
return counts
"""


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: int

    @property
    def name(self) -> str:
        return f"per-{self.seconds}s"


class KeyLimited(Throttled):
    """429 with Retry-After (DRF's Throttled), and our code."""

    def __init__(self, *, code: str, detail: str, wait: int):
        super().__init__(wait=wait, detail=detail)
        self.code = code
        self.extra = {"retry_after": wait}


def windows_of(key) -> list[Window]:
    raw = key.rate_limits or key.team.default_key_rate_limits or []
    windows = [Window(limit=int(item["limit"]), seconds=int(item["seconds"])) for item in raw]
    return sorted(windows, key=lambda window: window.seconds)


def quota_of(key) -> int | None:
    return key.monthly_quota if key.monthly_quota is not None else key.team.default_key_monthly_quota


def _month_end(now: float) -> tuple[str, int]:
    moment = datetime.fromtimestamp(now, tz=UTC)
    days = calendar.monthrange(moment.year, moment.month)[1]
    end = datetime(moment.year, moment.month, days, tzinfo=UTC).timestamp() + 86400
    return f"{moment.year:04d}{moment.month:02d}", max(1, math.ceil(end - now))


_clients: dict[str, tuple] = {}


def _redis_client():
    """A client for the counters when the cache is Redis (the same server as the cache), and the
    registered script; None for another cache."""
    config = settings.CACHES["default"]
    if not config["BACKEND"].endswith("RedisCache"):
        return None
    location = config["LOCATION"]
    url = location[0] if isinstance(location, list | tuple) else location
    if url not in _clients:
        import redis  # only with a Redis cache

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        _clients[url] = (client, client.register_script(_SCRIPT))
    return _clients[url]


def _count(keys: list[str], windows: list[Window], resets: list[int], month_ttl: int | None) -> list[int]:
    found = _redis_client()
    if found is not None:
        _, script = found
        args = [len(windows)]
        for window, reset in zip(windows, resets, strict=True):
            args += [window.limit, reset]
        if month_ttl is not None:
            args.append(month_ttl)
        return [int(count) for count in script(keys=keys, args=args)]
    # The cache API (one process): the same counts, one counter at a time.
    counts, over = [], False
    for key, window, reset in zip(keys, windows, resets, strict=False):
        cache.add(key, 0, reset + 1)
        count = cache.incr(key)
        counts.append(count)
        over = over or count > window.limit
    if month_ttl is not None:
        if over:
            counts.append(-1)
        else:
            cache.add(keys[-1], 0, month_ttl)
            counts.append(cache.incr(keys[-1]))
    return counts


@dataclass(frozen=True)
class Decision:
    headers: dict[str, str]  # for the answer, whatever it is
    refusal: KeyLimited | None = None


NO_LIMITS = Decision(headers={})


def consume(key, *, now: float | None = None) -> Decision:
    """Count one request of `key` against its limits: the RateLimit headers for the answer, and
    the 429 to raise when over one. CacheUnavailable (503) for a team failing closed while the cache
    is down. No headers for a key without limits (and no round trip)."""
    windows, quota = windows_of(key), quota_of(key)
    if not windows and quota is None:
        return NO_LIMITS
    now = time.time() if now is None else now
    keys, resets = [], []
    for window in windows:
        start = int(now // window.seconds) * window.seconds
        keys.append(f"gf:kr:{key.pk}:{window.seconds}:{start}")
        resets.append(max(1, math.ceil(start + window.seconds - now)))
    month_ttl = None
    if quota is not None:
        month, month_ttl = _month_end(now)
        keys.append(f"gf:kq:{key.pk}:{month}")
    try:
        counts = _count(keys, windows, resets, month_ttl)
    except CACHE_ERRORS as exc:
        if key.team.key_limits_on_cache_failure == "open":
            logger.warning(
                "Key limits of %s not applied: cache unavailable (%s); failing open", key.pk, type(exc).__name__
            )
            return NO_LIMITS
        raise CacheUnavailable("key_limits") from exc
    # (name, limit, seconds of the policy, count, seconds to reset) of each policy.
    states = [(w.name, w.limit, w.seconds, c, r) for w, c, r in zip(windows, counts, resets, strict=False)]
    if quota is not None:
        states.append((MONTH_POLICY, quota, month_ttl, counts[-1], month_ttl))
    headers = {
        "RateLimit-Policy": ", ".join(f'"{name}";q={limit};w={seconds}' for name, limit, seconds, _, _ in states),
    }
    over = [(reset, name) for name, limit, _, count, reset in states if count > limit]
    counted = [(max(0, limit - count), reset, name) for name, limit, _, count, reset in states if count >= 0]
    remaining, reset, name = min(counted, key=lambda state: (state[0], -state[1]))
    headers["RateLimit"] = f'"{name}";r={remaining};t={reset}'
    if not over:
        return Decision(headers=headers)
    wait, name = max(over)
    headers["RateLimit"] = f'"{name}";r=0;t={wait}'
    if name == MONTH_POLICY:
        refusal = KeyLimited(
            code="key_quota_exhausted",
            detail=f"This key has used its {quota} requests of this month; it works again next month.",
            wait=wait,
        )
    else:
        refusal = KeyLimited(
            code="key_rate_limited",
            detail=f"This key is over its limit ({name}); try again in {wait} seconds.",
            wait=wait,
        )
    return Decision(headers=headers, refusal=refusal)
