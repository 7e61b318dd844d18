"""Brute-force and abuse limits, counted in the Django cache so every app server shares them
(Redis in production). Fixed windows; a limit is "N/<seconds|m|h>" per IP or per account.

Limits are named in settings.RATE_LIMITS: {scope: {"ip": "20/5m", "account": "10/15m"}}. The
client is infra.net.client_source: its address from infra.net.client_ip (a spoofed
X-Forwarded-For is ignored unless a trusted proxy is configured), an IPv6 client by its /64.
Account keys are hashed, so the cache never holds an address.

When the cache is unreachable (Redis down or frozen), no limit turns into a 500: each scope
fails open or closed as settings.RATE_LIMITS_ON_CACHE_FAILURE says (closed unless listed).
Closed: 503 `service_unavailable` with Retry-After, nothing is checked or sent. Open: the attempt
goes through uncounted and a warning is logged (scope and error class only).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from infra import request_context
from infra.errors import APIError
from infra.net import client_source

logger = logging.getLogger("ghostflow.ratelimit")

# What a cache outage raises: redis-py's errors (its ConnectionError and TimeoutError included)
# and socket-level errors (OSError covers the built-in ConnectionError and TimeoutError).
# Anything else is a bug and stays a 500.
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)
# Seconds a client is told to wait when a fail-closed limit cannot be counted.
CACHE_OUTAGE_RETRY_AFTER = 5

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


class CacheUnavailable(APIError):
    """503 from a fail-closed limit whose counter cannot be reached; `wait` becomes Retry-After."""

    def __init__(self, scope: str):
        super().__init__(
            "The service is temporarily unavailable; try again shortly.",
            code="service_unavailable",
            status_code=503,
            retry_after=CACHE_OUTAGE_RETRY_AFTER,
        )
        self.wait = CACHE_OUTAGE_RETRY_AFTER
        self.scope = scope


def fails_open(scope: str) -> bool:
    policy = settings.RATE_LIMITS_ON_CACHE_FAILURE.get(scope, "closed")
    if policy not in ("open", "closed"):
        raise ValueError(f"RATE_LIMITS_ON_CACHE_FAILURE[{scope!r}] must be 'open' or 'closed', not {policy!r}")
    return policy == "open"


def _cache_failed(scope: str, exc: BaseException) -> None:
    """Called inside `except CACHE_ERRORS`: return to let the attempt through (fail open), or
    raise the 503 (fail closed). The log names the scope and the error class, never a key (keys
    hold the IP and the hashed account) nor the error text."""
    if fails_open(scope):
        logger.warning("Rate limit %r not applied: cache unavailable (%s); failing open", scope, type(exc).__name__)
        return
    logger.warning("Rate limit %r cannot be counted: cache unavailable (%s); answering 503", scope, type(exc).__name__)
    raise CacheUnavailable(scope) from exc


def _account_key(account: str) -> str:
    return hashlib.sha256(account.strip().casefold().encode()).hexdigest()[:32]


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
    identities = {"ip": client_source(request)}
    if account:
        identities["account"] = _account_key(account)
    for kind, (limit, window) in _limits(scope).items():
        if kind in identities:
            key, ttl = _bucket(scope, kind, identities[kind], window)
            try:
                count = _hit(key, ttl)
            except CACHE_ERRORS as exc:
                _cache_failed(scope, exc)
                return
            if count > limit:
                _refuse(request, scope, kind, ttl)


def _account_bucket(scope: str, account: str) -> tuple[int, str, float] | None:
    limits = _limits(scope)
    if "account" not in limits:
        return None
    limit, window = limits["account"]
    return (limit, *_bucket(scope, "account", _account_key(account), window))


class Attempt:
    """A guess at a secret, counted against every account bucket *before* it is checked, so that
    guesses sent in parallel cannot all pass the gate while the first ones are still being
    checked. A success gives the counts back (`succeeded`), so the owner's own use never locks
    them out; a failure keeps them."""

    def __init__(self, scope: str, buckets: list[tuple[str, float]]):
        self.scope = scope
        self.buckets = buckets

    def succeeded(self) -> None:
        for key, _ in self.buckets:
            try:
                cache.decr(key)
            except (ValueError, *CACHE_ERRORS):  # expired meanwhile, or the cache is gone
                pass


def attempt(request, scope: str, *, accounts: list[str], kind: str = "account") -> Attempt:
    """Count one failed-until-proven-otherwise attempt against each account (429 when any is
    over its limit), under the scope's `kind` limit ("account", or another per-account limit the
    scope declares, e.g. login's "account_per_ip"). The caller decides what an account is; it
    must never depend on whether a typed name exists (accounts.sessions.count_login_attempt)."""
    limits = _limits(scope)
    if kind not in limits:
        return Attempt(scope, [])
    limit, window = limits[kind]
    counted = []
    for account in dict.fromkeys(accounts):
        key, ttl = _bucket(scope, kind, _account_key(account), window)
        try:
            count = _hit(key, ttl)
        except CACHE_ERRORS as exc:
            _cache_failed(scope, exc)
            continue
        counted.append((key, ttl))
        if count > limit:
            _refuse(request, scope, kind, ttl)
    return Attempt(scope, counted)


def allow(scope: str, *, account: str) -> bool:
    """A silent per-account budget (e.g. mails sent): True while under it, never a 429. Without
    the cache: True when the scope fails open, else the 503 (no mail goes out uncounted)."""
    bucket = _account_bucket(scope, account)
    if bucket is None:
        return True
    try:
        return _hit(bucket[1], bucket[2]) <= bucket[0]
    except CACHE_ERRORS as exc:
        _cache_failed(scope, exc)
        return True


def _refuse(request, scope: str, kind: str, ttl: float):
    # The audit log records the refusal (audit.middleware reads the request context).
    context = request_context.current()
    if context is not None:
        context.rate_limited = {"scope": scope, "limit": kind}
    raise RateLimited(wait=ttl, scope=scope)


class DeclaredRateLimit(BaseThrottle):
    """The limits a view declares, applied at the same point of every view: after authentication
    and permissions, before the handler (DRF's throttle step).

        rate_limit = "verify_email"        # a scope of settings.RATE_LIMITS
        rate_limit_account = "email"       # optional: the body field naming the account
        def rate_limit_account_of(self, request): ...  # or: the account, from the request

    Counting only *failures* per account (login, change-password) and the silent per-account mail
    budget (forgot-password) belong to those flows: they call attempt / Attempt.succeeded /
    allow themselves, because only the flow knows what failed or what was sent.
    """

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "rate_limit", None)
        if scope is None:
            return True
        account = None
        field = getattr(view, "rate_limit_account", None)
        if (account_of := getattr(view, "rate_limit_account_of", None)) is not None:
            account = account_of(request)
        elif field is not None:
            data = request.data  # a malformed body is its own 400 here, as in the handler
            value = data.get(field) if isinstance(data, dict) else None
            account = value if isinstance(value, str) and value.strip() else None
        check(request, scope, account=account)
        return True
