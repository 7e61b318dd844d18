"""A generation token shared by every process, for per-process caches of security state.

Each process may keep what it resolved for an API key (the key, its owner, the owner's role) for a
few seconds, stamped with the generation token it read *before* resolving it. Every change that
can narrow or end a credential (revoke, delete, regenerate, a member removed or demoted, a user
deactivated, a team deleted) replaces the token, once inside its transaction and once right
after the commit, before the call returns: from then on, no process accepts an entry made before
it. The token lives in the shared cache (Redis); a new random value each time, so a Redis restart
(which forgets it) can never bring an old token back.

Without a shared cache the processes could not agree, so the principal cache is off (`enabled`),
unless PRINCIPAL_CACHE=on says there is only one process.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from .ratelimit import CACHE_ERRORS, CacheUnavailable

logger = logging.getLogger("ghostflow.coherence")
KEY = "gf:access-generation"
# A change in flight marks the token "dirty" until this long after it began (longer than any
# transaction); while dirty, nothing is cached or served from cache. If the clean token that
# follows the commit cannot be written, the mark simply runs out: cache misses, never a stale hit.
DIRTY_SECONDS = 60


def _shared() -> bool:
    return settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


def enabled() -> bool:
    """Whether *this* process may keep entries (the read side)."""
    mode = settings.PRINCIPAL_CACHE
    if mode == "on":
        return True
    if mode == "off" or settings.PRINCIPAL_CACHE_SECONDS <= 0:
        return False
    return _shared()


def _must_announce() -> bool:
    # The write side does not depend on this process's own PRINCIPAL_CACHE: a worker, a shell or
    # an admin pod with the cache off must still tell the processes that have it on.
    return enabled() or _shared()


def current() -> str | None:
    """The token now, or None when it cannot be read or a change is in flight (then nothing may
    be cached or served from cache)."""
    try:
        token = cache.get(KEY)
        if token is None:
            cache.add(KEY, uuid.uuid4().hex, timeout=None)
            token = cache.get(KEY)
    except CACHE_ERRORS:
        return None
    if token is not None and token.startswith("dirty:") and float(token.split(":")[2]) > time.time():
        return None
    return token


def changing() -> None:
    """Call *before* writing a change that can narrow or end a credential. Marks the token dirty;
    fails (503, nothing written) when it cannot: a change other processes might not see must not
    happen."""
    if not _must_announce():
        return
    try:
        cache.set(KEY, f"dirty:{uuid.uuid4().hex}:{time.time() + DIRTY_SECONDS}", timeout=None)
    except CACHE_ERRORS as exc:
        raise CacheUnavailable("principal_cache") from exc


def changed() -> None:
    """Call right after the write: a clean token once the change is committed (at once outside a
    transaction)."""
    if not _must_announce():
        return
    transaction.on_commit(_replace_clean)  # runs at once in autocommit


def invalidate_around(write):
    """changing(), the write, changed(): for writes that send no model signal (queryset.update)."""
    changing()
    result = write()
    changed()
    return result


def _replace_clean() -> None:
    try:
        cache.set(KEY, uuid.uuid4().hex, timeout=None)
    except CACHE_ERRORS:
        logger.error("Could not write a clean access generation after a change; it clears by itself")


_caches: list[ProcessCache] = []


def clear_all() -> None:
    """Forget every process cache (tests; never needed for correctness)."""
    for process_cache in _caches:
        process_cache.clear()


class ProcessCache:
    """A per-process cache whose entries are valid only while the shared generation token is the
    one read before they were loaded (see above), and for at most PRINCIPAL_CACHE_SECONDS.
    Negative results (nothing found) are never kept."""

    def __init__(self, max_entries: int = 10_000):
        self.max_entries = max_entries
        self.entries: OrderedDict = OrderedDict()
        _caches.append(self)

    def get(self, key, load):
        if not enabled():
            return load()
        generation = current()  # read before loading
        if generation is not None:
            entry = self.entries.get(key)
            if entry is not None and entry[0] == generation and entry[1] > time.monotonic():
                self.entries.move_to_end(key)
                return entry[2]
        value = load()
        if value is not None and generation is not None:
            self.entries[key] = (generation, time.monotonic() + settings.PRINCIPAL_CACHE_SECONDS, value)
            self.entries.move_to_end(key)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self.entries.clear()
