"""Audit of Content API use, in aggregate: one `content_api.requests` event per integration per
active minute, with the number of requests by status class (its per-key 429s included); and one
per active minute, with no team and no integration, counting the per-IP 429s (`data.limit =
"content_api"`), which are refused before the key is read and so belong to no integration.

A Content key is public and made for pages that anyone loads, so one row per request would let a
scraper grow the audit table as fast as it can send requests. Counters live in the cache (one
INCR per request); the first request of a new minute writes the event of the integration's
previous active minute. Under a race at the turn of a minute a few requests may be missed; the
counts are for seeing use and abuse, not for billing (infra.tally). With the cache down nothing is
counted and the request still succeeds (the data is public, read-only and cacheable).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from django.core.cache import cache

from audit.models import Action
from audit.services import record_event
from infra import request_context, tally
from infra.net import client_ip
from infra.ratelimit import CACHE_ERRORS

from .models import Integration

logger = logging.getLogger("ghostflow.integrations")
COUNTER_SECONDS = tally.COUNTER_SECONDS
CLASSES = ("2xx", "3xx", "4xx", "5xx")


PER_IP = "gf:content-refused-per-ip"


def _counter(integration_id, minute: int, status_class: str) -> str:
    return f"gf:content-use:{integration_id}:{minute}:{status_class}"


def count(integration: Integration, status_code: int) -> None:
    status_class = f"{status_code // 100}xx"
    try:
        tally.add(f"gf:content-use:{integration.pk}", status_class, lambda minute: _flush(integration, minute))
    except CACHE_ERRORS:
        logger.warning("Content API use of integration %s not counted: cache unavailable", integration.pk)


def count_refused_per_ip(request) -> None:
    """One request refused by the per-IP limit (`content_api`), and whether its address is new
    this minute (so the event says how many addresses were refused, never which)."""
    try:
        minute = tally.add(PER_IP, "refused", _flush_refused_per_ip)
        address = hashlib.sha256((client_ip(request) or "unknown").encode()).hexdigest()[:32]
        if cache.add(f"{PER_IP}:{minute}:address:{address}", 1, COUNTER_SECONDS):
            addresses = f"{PER_IP}:{minute}:addresses"
            cache.add(addresses, 0, COUNTER_SECONDS)
            cache.incr(addresses)
    except CACHE_ERRORS:
        logger.warning("Content API per-IP refusal not counted: cache unavailable")


def _flush_refused_per_ip(minute: int) -> None:
    keys = [f"{PER_IP}:{minute}:refused", f"{PER_IP}:{minute}:addresses"]
    found = cache.get_many(keys)
    refused = found.get(keys[0])
    if not refused:
        return
    with request_context.use(None):  # a summary of many requests: not this one's IP or path
        record_event(
            action=Action.CONTENT_API_REQUESTS,
            data={
                "limit": "content_api",
                "minute": datetime.fromtimestamp(minute * 60, tz=UTC).isoformat(),
                "requests": refused,
                "by_status": {"4xx": refused},
                "rate_limited": refused,
                "addresses": found.get(keys[1]) or 0,
            },
        )
    cache.delete_many(keys)


def _flush(integration: Integration, minute: int) -> None:
    keys = {status_class: _counter(integration.pk, minute, status_class) for status_class in CLASSES}
    found = cache.get_many(list(keys.values()))
    counts = {status_class: found[key] for status_class, key in keys.items() if found.get(key)}
    if not counts:
        return
    with request_context.use(None):  # a summary of many requests: not this one's IP or path
        _record(integration, minute, counts)
    cache.delete_many(list(keys.values()))


def _record(integration: Integration, minute: int, counts: dict[str, int]) -> None:
    record_event(
        action=Action.CONTENT_API_REQUESTS,
        team_id=integration.team_id,
        integration=integration,
        data={
            "integration_key": "content",
            "minute": datetime.fromtimestamp(minute * 60, tz=UTC).isoformat(),
            "requests": sum(counts.values()),
            "by_status": counts,
        },
    )
