"""A generation token shared by every process, for per-process caches of security state.

Each process may keep what it resolved for an API key (the key, its owner, the owner's role) for a
few seconds, stamped with the generation token it read *before* resolving it. Every change that
can narrow or end a credential (revoke, delete, regenerate, a member removed or demoted, a user
deactivated, a team deleted) replaces the token, once inside its transaction and once right
after the commit, before the call returns: from then on, no process accepts an entry made before
it. The token lives in the shared cache (Redis); a new random value each time, so a Redis restart
(which forgets it) can never bring an old token back.

A Redis that comes back *with older data* (restarted from a snapshot taken before a change, or a
failover to a replica that had not received it) would bring an old token back, and with it the
entries stamped with it. So an entry is also stamped with the identity of the Redis server life
the token was read from: its `run_id`, which Redis draws at random each time it starts and which
differs between a primary and its replicas. A restarted or failed-over Redis has a new one, so
entries stamped before are never served again; a reading connection learns it once, when it
opens (after a restart or a failover every connection is dropped: a restart ends them, Sentinel
kills them). Within one server life the token only moves forward. Where INFO is not allowed, each
connection counts as a life of its own (a new connection, a cold cache). (A proxy that moved a live
connection to another server without dropping it would defeat this; run Redis behind none that does.)
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from redis.exceptions import ResponseError

from . import request_context
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


# The token is read on every request that uses a process cache, so on Redis it is stored as a
# plain string and read over a connection of its own per thread, with the GET packed once: Django's
# cache API builds a new client object and unpickles the value on each call (~220 µs), and even
# redis-py's client spends most of its ~115 µs of CPU per GET taking a connection from its pool and
# giving it back; the connection's own send and read cost ~35 µs (bench/, README Performance).
# Other backends (tests, PRINCIPAL_CACHE=on without Redis) go through the cache API.


def _redis():
    """(client, key) on Redis (the key with the cache's KEY_PREFIX), else None."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    found = getattr(backend, "_ghostflow_generation", None)
    if found is None:
        # The primary (write=True): the token must never be read from a lagging replica.
        found = (backend._cache.get_client(KEY, write=True), backend.make_key(KEY))
        backend._ghostflow_generation = found
    return found


class _Reader(threading.local):
    """This thread's connection for reading the token: (connection, packed GET), made on first
    use and again after a fork or a change of cache settings."""

    owner: tuple | None = None
    connection = None
    life: str | None = None  # the server's run_id (see above)
    packed: list[bytes] | None = None

    def get(self, redis) -> bytes | None:
        client, key = redis
        owner = self.owner
        if owner is None or owner[0] != os.getpid() or owner[1] is not client or owner[2] != key:
            self.close()
            pool = client.connection_pool
            self.connection = pool.connection_class(**pool.connection_kwargs)
            self.packed = self.connection.pack_command("GET", key)
            self.life = self._server_life()
            self.owner = (os.getpid(), client, key)
        try:
            self.connection.send_packed_command(self.packed, check_health=False)
            return self.connection.read_response()
        except BaseException:
            # A reply half read would answer the next GET: drop the connection, reconnect next time.
            self.close()
            raise

    def _server_life(self) -> str:
        """The run_id of the Redis server this connection reached (see above), read once."""
        try:
            self.connection.send_command("INFO", "server")
            info = self.connection.read_response()
        except ResponseError:  # INFO not allowed: this connection is a life of its own
            return uuid.uuid4().hex
        except BaseException:
            self.close()
            raise
        for line in (info.decode() if isinstance(info, bytes) else str(info)).splitlines():
            if line.startswith("run_id:"):
                return line.partition(":")[2].strip()
        return uuid.uuid4().hex

    def close(self) -> None:
        if self.connection is not None and self.owner is not None and self.owner[0] == os.getpid():
            self.connection.disconnect()
        self.connection = self.owner = self.packed = self.life = None


_reader = _Reader()


def _read_token() -> str | None:
    redis = _redis()
    if redis is None:
        return cache.get(KEY)
    value = _reader.get(redis)
    if value is None:
        return None
    if value.startswith(b"\x80"):  # pickled by Django's cache API (versions before the raw format)
        return caches["default"]._cache._serializer.loads(value)
    return value.decode()


def _write_token(value: str, *, only_if_missing: bool = False) -> None:
    redis = _redis()
    if redis is None:
        (cache.add if only_if_missing else cache.set)(KEY, value, timeout=None)
    else:
        redis[0].set(redis[1], value, nx=only_if_missing)


def current() -> str | None:
    """The generation now (the Redis server's life and the token), or None when it cannot be read
    or a change is in flight (then nothing may be cached or served from cache). Read once per
    request: every entry a request loads is stamped with a generation read before its first load."""
    context = request_context.current()
    if context is not None and context.generation is not request_context.NOT_READ:
        return context.generation
    token = _fresh()
    # The life of the server the token was just read from (this thread's reading connection).
    life = _reader.life if _redis() is not None else "local"
    generation = None if token is None or life is None else f"{life}:{token}"
    if context is not None:
        context.generation = generation
    return generation


def _fresh() -> str | None:
    try:
        token = _read_token()
        if token is None:
            _write_token(uuid.uuid4().hex, only_if_missing=True)
            token = _read_token()
    except CACHE_ERRORS:
        return None
    if token is not None and token.startswith("dirty:") and float(token.split(":")[2]) > time.time():
        return None
    return token


def _forget_read() -> None:
    # After a change, this request must not go on using the token it read before it.
    context = request_context.current()
    if context is not None:
        context.generation = request_context.NOT_READ


def changing() -> None:
    """Call *before* writing a change that can narrow or end a credential. Marks the token dirty;
    fails (503, nothing written) when it cannot: a change other processes might not see must not
    happen."""
    _forget_read()
    if not _must_announce():
        return
    try:
        _write_token(f"dirty:{uuid.uuid4().hex}:{time.time() + DIRTY_SECONDS}")
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
    _forget_read()
    try:
        _write_token(uuid.uuid4().hex)
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
