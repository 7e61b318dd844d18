"""Audit of Content API use, in aggregate: one `content_api.requests` event per integration per
active minute, with the number of requests by status class.

A Content key is public and made for pages that anyone loads, so one row per request would let a
scraper grow the audit table as fast as it can send requests. Counters live in the cache (one
INCR per request); the first request of a new minute writes the event of the integration's
previous active minute. Under a race at the turn of a minute a few requests may be missed; the
counts are for seeing use and abuse, not for billing. With the cache down nothing is counted and
the request still succeeds (the data is public, read-only and cacheable).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from django.core.cache import cache

from audit.models import Action
from audit.services import record_event
from infra import request_context
from infra.ratelimit import CACHE_ERRORS

from .models import Integration

logger = logging.getLogger("ghostflow.integrations")
COUNTER_SECONDS = 2 * 24 * 3600
CLASSES = ("2xx", "3xx", "4xx", "5xx")


def _counter(integration_id, minute: int, status_class: str) -> str:
    return f"gf:content-use:{integration_id}:{minute}:{status_class}"


def count(integration: Integration, status_code: int) -> None:
    minute = int(time.time() // 60)
    status_class = f"{status_code // 100}xx"
    try:
        key = _counter(integration.pk, minute, status_class)
        cache.add(key, 0, COUNTER_SECONDS)
        cache.incr(key)
        last_key = f"gf:content-use:{integration.pk}:last-minute"
        if cache.add(f"gf:content-use:{integration.pk}:{minute}:opened", 1, COUNTER_SECONDS):
            previous = cache.get(last_key)
            cache.set(last_key, minute, COUNTER_SECONDS)
            if previous is not None and previous != minute:
                _flush(integration, previous)
    except CACHE_ERRORS:
        logger.warning("Content API use of integration %s not counted: cache unavailable", integration.pk)


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
