"""Brute-force and abuse limits, counted in the Django cache so every app server shares them
(Redis in production). Fixed windows; a limit is "N/<seconds|m|h>" per IP or per account.

Limits are named in settings.RATE_LIMITS: {scope: {"ip": "20/5m", "account": "10/15m"}}. The
client IP comes from config.net.client_ip, so a spoofed X-Forwarded-For is ignored unless a
trusted proxy is configured. Account keys are hashed, so the cache never holds an address.
"""

from __future__ import annotations

import hashlib
import math
import re
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled

from audit.services import Action, record_event

from .net import client_ip

_RATE = re.compile(r"^(\d+)/(\d*)([smh])$")
_UNIT = {"s": 1, "m": 60, "h": 3600}


def parse_rate(rate: str) -> tuple[int, int]:
    match = _RATE.match(rate)
    if not match:
        raise ValueError(f"Bad rate {rate!r}; use e.g. 10/5m")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _UNIT[unit]


class RateLimited(Throttled):
    default_detail = "Too many attempts; try again later."

    def __init__(self, wait: float, scope: str):
        super().__init__(wait=wait, detail=f"Too many attempts; try again in {math.ceil(wait)} seconds.")
        self.code = "rate_limited"
        self.scope = scope
        self.extra = {"retry_after": math.ceil(wait)}


def _account_key(account: str) -> str:
    return hashlib.sha256(account.strip().lower().encode()).hexdigest()[:32]


def _bucket(scope: str, kind: str, ident: str, window: int) -> tuple[str, float]:
    now = time.time()
    window_start = int(now // window) * window
    return f"rl:{scope}:{kind}:{ident}:{window_start}", window_start + window - now


def _hit(key: str, ttl: float, cost: int = 1) -> int:
    timeout = math.ceil(ttl) + 1
    cache.add(key, 0, timeout)
    try:
        return cache.incr(key, cost)
    except ValueError:  # expired between add and incr
        cache.add(key, cost, timeout)
        return cost


def _limits(scope: str):
    if not settings.RATE_LIMITS_ENABLED:
        return {}
    return {kind: parse_rate(rate) for kind, rate in settings.RATE_LIMITS.get(scope, {}).items()}


def check(request, scope: str, *, account: str | None = None) -> None:
    """Count this attempt against the IP (and the account, if given); 429 when over a limit."""
    identities = {"ip": client_ip(request) or "unknown"}
    if account:
        identities["account"] = _account_key(account)
    for kind, (limit, window) in _limits(scope).items():
        if kind in identities:
            key, ttl = _bucket(scope, kind, identities[kind], window)
            if _hit(key, ttl) > limit:
                _refuse(request, scope, kind, ttl)


def _account_bucket(scope: str, account: str) -> tuple[int, str, float] | None:
    limits = _limits(scope)
    if "account" not in limits:
        return None
    limit, window = limits["account"]
    return (limit, *_bucket(scope, "account", _account_key(account), window))


def check_failures(request, scope: str, *, account: str) -> None:
    """429 when the account already has its limit of *failed* attempts (counted by
    count_failure); successes never count, so the owner is not locked out by their own use."""
    bucket = _account_bucket(scope, account)
    if bucket is not None and cache.get(bucket[1], 0) >= bucket[0]:
        _refuse(request, scope, "account", bucket[2])


def count_failure(scope: str, *, account: str) -> None:
    """Count a failed attempt against the account (e.g. a wrong password)."""
    bucket = _account_bucket(scope, account)
    if bucket is not None:
        _hit(bucket[1], bucket[2])


def allow(scope: str, *, account: str) -> bool:
    """A silent per-account budget (e.g. mails sent): True while under it, never a 429."""
    bucket = _account_bucket(scope, account)
    return bucket is None or _hit(bucket[1], bucket[2]) <= bucket[0]


def _refuse(request, scope: str, kind: str, ttl: float):
    user = getattr(request, "user", None)
    record_event(
        action=Action.RATE_LIMITED,
        request=request,
        actor_id=user.pk if getattr(user, "is_authenticated", False) else None,
        status_code=429,
        data={"scope": scope, "limit": kind},
    )
    raise RateLimited(wait=ttl, scope=scope)
