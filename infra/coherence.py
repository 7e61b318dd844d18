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


def enabled() -> bool:
    mode = settings.PRINCIPAL_CACHE
    if mode == "on":
        return True
    if mode == "off" or settings.PRINCIPAL_CACHE_SECONDS <= 0:
        return False
    return settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


def current() -> str | None:
    """The token now, or None when it cannot be read (then nothing cached may be used)."""
    try:
        token = cache.get(KEY)
        if token is None:
            token = uuid.uuid4().hex
            cache.add(KEY, token, timeout=None)
            token = cache.get(KEY)
    except CACHE_ERRORS:
        return None
    return token


def _replace() -> None:
    cache.set(KEY, uuid.uuid4().hex, timeout=None)


def invalidate() -> None:
    """Call inside the transaction of any change that narrows or ends a credential. Fails (503,
    and the change rolls back) when the token cannot be replaced: a change that other processes
    might not see must not happen."""
    if not enabled():
        return
    try:
        _replace()
    except CACHE_ERRORS as exc:
        raise CacheUnavailable("principal_cache") from exc
    # Entries resolved between the replacement above and the commit saw the old rows: replace
    # the token again once the change is visible.
    transaction.on_commit(_replace_after_commit)


def _replace_after_commit() -> None:
    try:
        _replace()
    except CACHE_ERRORS:
        # Entries made in the few milliseconds before the commit may then live until they expire
        # (PRINCIPAL_CACHE_SECONDS); said, not hidden.
        logger.error("Could not replace the access generation after a commit")


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
