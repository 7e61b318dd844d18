"""The principal cache: what a key request resolves (the key, its owner, the owner's current
role in the key's team) kept per process for PRINCIPAL_CACHE_SECONDS, so a warm key request
costs no query for authentication, team or scopes.

Coherent across processes through infra.coherence: an entry is used only while the shared
generation token is the one read before the entry was resolved. Time-based states (expiry, the
end of a regeneration grace period) are checked on every use (APIKey.refusal), not cached. The
cached key is shared by the requests of this process on purpose: last_used_at, written at most
once a minute, is the only thing a request changes on it.
"""

from __future__ import annotations

from infra.coherence import ProcessCache

from .models import APIKey

_keys = ProcessCache()


def lookup(digests: list[str]) -> APIKey | None:
    """The key with one of these digests, with owner, team and the owner's membership."""
    return _keys.get(tuple(digests), lambda: APIKey.objects.for_authentication(digests).first())


def clear() -> None:
    _keys.clear()
