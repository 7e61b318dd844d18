"""The principal cache: what a key request resolves (the key, its owner, the owner's current
role in the key's team) kept per process for PRINCIPAL_CACHE_SECONDS, so a warm key request
costs no query for authentication, team or scopes.

Coherent across processes through infra.coherence: an entry is used only while the shared
generation token is the one read before the entry was resolved. Time-based states (expiry, the
end of a regeneration grace period) are checked on every use (APIKey.refusal), not cached.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from django.conf import settings

from infra import coherence

from .models import APIKey

MAX_ENTRIES = 10_000
_entries: OrderedDict[tuple[str, ...], tuple[str, float, APIKey]] = OrderedDict()


def lookup(digests: list[str]) -> APIKey | None:
    """The key with one of these digests, with owner, team and the owner's membership."""
    if not coherence.enabled():
        return APIKey.objects.for_authentication(digests).first()
    generation = coherence.current()  # read before resolving: see infra.coherence
    cache_key = tuple(digests)
    if generation is not None:
        entry = _entries.get(cache_key)
        if entry is not None and entry[0] == generation and entry[1] > time.monotonic():
            _entries.move_to_end(cache_key)
            return entry[2]
    key = APIKey.objects.for_authentication(digests).first()
    if key is not None and generation is not None:
        _entries[cache_key] = (generation, time.monotonic() + settings.PRINCIPAL_CACHE_SECONDS, key)
        _entries.move_to_end(cache_key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return key


def clear() -> None:
    _entries.clear()
