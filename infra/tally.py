"""Counting many events as one audit row per minute (Content API use, keys' rate-limit refusals):
a counter per minute in the cache (one INCR per event); the first event of a new minute hands the
previous active minute to `flush`, which records it. Under a race at the turn of a minute a few
events may be missed: the counts are for seeing use and abuse, not for billing. Callers catch
infra.ratelimit.CACHE_ERRORS (nothing is counted while the cache is down)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.core.cache import cache

COUNTER_SECONDS = 2 * 24 * 3600


def add(prefix: str, counter: str, flush: Callable[[int], None]) -> int:
    """Add one to `{prefix}:{minute}:{counter}`; the first tally of a new minute flushes the
    previous active minute of `prefix`. Returns the minute."""
    minute = int(time.time() // 60)
    key = f"{prefix}:{minute}:{counter}"
    cache.add(key, 0, COUNTER_SECONDS)
    cache.incr(key)
    if cache.add(f"{prefix}:{minute}:opened", 1, COUNTER_SECONDS):
        last_key = f"{prefix}:last-minute"
        previous = cache.get(last_key)
        cache.set(last_key, minute, COUNTER_SECONDS)
        if previous is not None and previous != minute:
            flush(previous)
    return minute
