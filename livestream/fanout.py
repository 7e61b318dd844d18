"""Fan-out of committed audit events to the live streams held by every app server.

Writers (any process: sync or ASGI web workers, shells, background work) *announce* each team
event once its transaction has committed: `announce` registers an on-commit callback on the
connection the event was written on (at once in autocommit), and a rolled-back event is never
announced. The announcement is "<team id> <event id>", put on an in-process queue; a daemon thread
PUBLISHes what is queued to one Redis channel (several per message under load). The request
never waits on Redis and never fails because of it: while Redis is down the announcements are
dropped, with a warning in the log.

Readers (each ASGI process that holds streams) run one *hub* in their event loop. It subscribes to
the channel, fetches each announced event of a team it serves once (one query per batch),
serialises it once, and hands it to the streams of that team whose filters match. Because an
announcement can be lost (Redis restarting, a writer process killed after commit), the hub also
polls the database every AUDIT_STREAM_POLL_SECONDS for the recent events of the teams it serves
and delivers what it has not delivered yet, so a lost announcement costs latency, never an event.
Without Redis (the embedded default: SQLite, local-memory cache) announcements go straight to the
hubs of the writing process and the poll carries events between processes.

Why Redis pub/sub rather than PostgreSQL LISTEN/NOTIFY: Redis is already every app server's shared
state (cache, rate limits, the access generation), so this adds no dependency; a PUBLISH never
takes a lock in the database, whereas NOTIFY serialises the commits of all notifying transactions
on one global lock and, if a listener stalls until the notification queue fills, makes every
notifying transaction fail at COMMIT, i.e. the audit log would break the API; LISTEN needs a
connection per process that transaction-mode poolers (pgbouncer) cannot give; and NOTIFY does not
exist on SQLite, so the poll would be needed anyway. What NOTIFY gives for free (delivery only after
commit) is the on-commit callback here.

The hub also re-checks, every AUDIT_STREAM_RECHECK_SECONDS, that the holder of each stream may
still watch (livestream/holders.py), all holders in a handful of queries, and ends the streams of those
that no longer may with `event: revoked`.

Database work of the hub runs on two threads of its own, each keeping one connection: never on the
event loop, never on the threads that serve requests.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import logging
import os
import queue
import re
import threading
import time
import uuid
import weakref
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.signals import setting_changed
from django.db import InterfaceError, OperationalError, connections, transaction
from django.dispatch import receiver
from django.utils import timezone
from redis.exceptions import RedisError

from audit import selectors

from . import frames
from . import holders as holder_rules
from . import tokens as stream_tokens

logger = logging.getLogger("ghostflow.audit.stream")

CHANNEL = "gf:audit-events"
# The teams some stream server is streaming, in a sorted set scored by when the claim lapses: a
# writer announces only their events, so a key request of a team nobody watches pays nothing
# (a PUBLISH and its thread cost about as much CPU as the audit INSERT itself). Stream servers
# renew their teams every WATCH_RENEW_SECONDS (at once for a team's first stream) for
# WATCH_TTL_SECONDS; writers re-read the set at most every WATCHED_READ_SECONDS. A team whose
# first stream just opened may so miss announcements for that long: the poll delivers them.
WATCHED = "gf:audit-watched-teams"
WATCH_TTL_SECONDS = 10
WATCH_RENEW_SECONDS = 3
WATCHED_READ_SECONDS = 1.0
# The poll looks back this far from its previous run: longer than any gap between an event being
# stamped and its transaction committing, plus the poll interval and clock differences.
POLL_LOOKBACK = timedelta(seconds=15)
# Announcements waiting for the publisher thread; beyond this they are dropped (the poll delivers).
MAX_PENDING_ANNOUNCEMENTS = 50_000
# Frames waiting for one slow client; beyond this its stream ends with `event: end` (reason
# "lagging") and the client resumes from the database with Last-Event-ID.
MAX_QUEUED_FRAMES = 1_000
# Ids already handed to streams, remembered this long so the poll does not hand them out again.
DISPATCHED_MEMORY = POLL_LOOKBACK * 3
FETCH_BATCH = 500
DB_THREADS = 2
BROKER_TIMEOUT = 2.0


@functools.cache
def _broker_url() -> str | None:
    """Redis for the announcements: AUDIT_STREAM_BROKER, or the cache's Redis when it is `auto`.
    Read once (it is read on every announcement); tests that change the settings clear it."""
    configured = settings.AUDIT_STREAM_BROKER
    if configured == "off":
        return None
    if configured != "auto":
        return configured
    cache = settings.CACHES["default"]
    if cache["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    location = cache["LOCATION"]
    servers = location if isinstance(location, list | tuple) else re.split("[;,]", location)
    return servers[0]  # the primary: Django's RedisCache writes there too


@receiver(setting_changed)
def _settings_changed(*, setting, **kwargs) -> None:
    if setting in ("AUDIT_STREAM_BROKER", "CACHES"):
        _broker_url.cache_clear()
        _watched.forget()


def _prefixed(name: str) -> str:
    """Under the cache's key prefix: deployments (and parallel test runs) sharing a Redis do not
    hear each other."""
    cache = settings.CACHES["default"]
    prefix = cache.get("KEY_PREFIX") or cache.get("key_prefix") or ""
    return f"{prefix}:{name}" if prefix else name


def channel() -> str:
    return _prefixed(CHANNEL)


def watched_key() -> str:
    return _prefixed(WATCHED)


# --- the writer side ------------------------------------------------------------------------------


def announce(event, *, using: str) -> None:
    """Announce an event of a watched team once the transaction that wrote it commits (at once in
    autocommit; never if it rolls back). Costs the request a set lookup, and for a watched team
    one queue put after commit."""
    if event.team_id is None or not _watched.includes(event.team_id):
        return
    transaction.on_commit(functools.partial(_publisher.send, f"{event.team_id} {event.id}"), using=using)


class _Watched:
    """This process's copy of the watched teams, re-read from the broker at most once per
    WATCHED_READ_SECONDS (by whichever request thread finds it stale)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._teams: frozenset[str] = frozenset()
        self._read_at = -WATCHED_READ_SECONDS
        self._client = None
        self._client_for: tuple[int, str] | None = None

    def includes(self, team_id) -> bool:
        url = _broker_url()
        if url is None:
            # No broker: only this process's own hubs can hear an announcement.
            return any(team_id in found.subscriptions for found in live_hubs())
        if time.monotonic() - self._read_at >= WATCHED_READ_SECONDS:
            self._read(url)
        return str(team_id) in self._teams

    def _read(self, url: str) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is reading it: use the copy we have
        try:
            if self._client_for != (os.getpid(), url):
                import redis

                self._client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
                self._client_for = (os.getpid(), url)
            teams = self._client.zrangebyscore(watched_key(), time.time(), "+inf")
            self._teams = frozenset(team.decode() for team in teams)
        except (RedisError, OSError) as exc:
            # Announce nothing rather than wait on a broker that does not answer: the poll delivers.
            self._teams = frozenset()
            _publisher._warn(f"watched teams not read ({type(exc).__name__}); streams catch up by polling")
        finally:
            self._read_at = time.monotonic()
            self._lock.release()

    def forget(self) -> None:
        """Read afresh on the next announcement (tests, a settings change)."""
        self._read_at = -WATCHED_READ_SECONDS


class _Publisher:
    """One daemon thread per process that PUBLISHes queued announcements."""

    def __init__(self) -> None:
        self._queue: queue.Queue[str] = queue.Queue(maxsize=MAX_PENDING_ANNOUNCEMENTS)
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._url: str | None = None
        self._dropped_at = 0.0

    def send(self, message: str) -> None:
        url = _broker_url()
        if url is None:
            # No broker: the hubs of this process hear it now, the others at their next poll.
            for hub in live_hubs():
                hub.heard_threadsafe([message])
            return
        if self._pid != os.getpid() or self._url != url:
            self._start(url)
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self._warn("the publisher is behind; announcements dropped (streams catch up by polling)")

    def _start(self, url: str) -> None:
        with self._lock:
            if self._pid == os.getpid() and self._url == url:
                return
            # After a fork the parent's thread is gone: start this process's own.
            self._queue = queue.Queue(maxsize=MAX_PENDING_ANNOUNCEMENTS)
            self._pid, self._url = os.getpid(), url
            threading.Thread(
                target=self._run, args=(self._queue, url, channel()), name="audit-stream-publisher", daemon=True
            ).start()
            atexit.register(self._flush, self._queue)

    @staticmethod
    def _flush(messages: queue.Queue[str], timeout: float = 2.0) -> None:
        """At exit (a management command, a worker restart): give what is queued a moment to go out;
        the poll delivers whatever does not."""
        deadline = time.monotonic() + timeout
        while messages.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self, messages: queue.Queue[str], url: str, name: str) -> None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=BROKER_TIMEOUT, socket_timeout=BROKER_TIMEOUT)
        while True:
            batch = [messages.get()]
            while len(batch) < FETCH_BATCH:
                try:
                    batch.append(messages.get_nowait())
                except queue.Empty:
                    break
            try:
                client.publish(name, "\n".join(batch))
            except (RedisError, OSError) as exc:
                self._warn(f"announcements not published ({type(exc).__name__}); streams catch up by polling")
            finally:
                for _ in batch:
                    messages.task_done()

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._dropped_at > 10:  # once per 10 s, not once per event
            self._dropped_at = now
            logger.warning("Audit stream: %s", message)


_publisher = _Publisher()
_watched = _Watched()


# --- the reader side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ending:
    """The last frame of a stream the server ends."""

    frame: bytes


@dataclass(eq=False)
class Subscription:
    """One stream's place in the hub: what it wants, and the frames waiting for it."""

    team_id: uuid.UUID
    holder: holder_rules.Holder
    event_filter: selectors.EventFilter
    after: uuid.UUID
    # The stream token's hold when the stream was opened with one (the hub renews it).
    hold: stream_tokens.Hold | None = None
    frames: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED_FRAMES))
    ended: bool = False

    def deliver(self, event, frame: bytes) -> None:
        # A stream carries the events with an id after its starting point, each once: older ones
        # were delivered before the client reconnected, or happened before it opened.
        if self.ended or event.id <= self.after or not self.event_filter.matches(event):
            return
        try:
            self.frames.put_nowait((event.id, frame))
        except asyncio.QueueFull:
            self.end(frames.end_frame("lagging"))

    def end(self, frame: bytes) -> None:
        if self.ended:
            return
        self.ended = True
        while not self.frames.empty():
            self.frames.get_nowait()
        self.frames.put_nowait(Ending(frame))


# How many streams this process holds, across its event loops, and of each team. A slot is taken
# by the view *before* it answers (reserve), under a lock, so that streams opened at the same
# moment cannot all pass the check; it is given back once, on whichever way the stream ends
# (stream.Slot).
open_streams = 0
_open_by_team: defaultdict[uuid.UUID, int] = defaultdict(int)
_slots_lock = threading.Lock()


def streams_of_team(team_id: uuid.UUID) -> int:
    """How many streams of this team this process holds."""
    return _open_by_team.get(team_id, 0)


def reserve(team_id: uuid.UUID) -> str | None:
    """Take a stream slot for `team_id`: None when taken, else which cap refuses ("process",
    AUDIT_STREAM_MAX_PER_PROCESS, or "team", AUDIT_STREAM_MAX_PER_TEAM)."""
    global open_streams
    with _slots_lock:
        if open_streams >= settings.AUDIT_STREAM_MAX_PER_PROCESS:
            return "process"
        if _open_by_team.get(team_id, 0) >= settings.AUDIT_STREAM_MAX_PER_TEAM:
            return "team"
        open_streams += 1
        _open_by_team[team_id] += 1
        return None


def give_back(team_id: uuid.UUID) -> None:
    """Return a slot taken by `reserve` (once per slot: stream.Slot sees to it)."""
    global open_streams
    with _slots_lock:
        open_streams -= 1
        _open_by_team[team_id] -= 1
        if _open_by_team[team_id] <= 0:
            del _open_by_team[team_id]


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()
_hubs_lock = threading.Lock()


def hub() -> Hub:
    """The hub of the running event loop (one per ASGI worker process)."""
    loop = asyncio.get_running_loop()
    with _hubs_lock:
        found = _hubs.get(loop)
        if found is None or found.closed:
            found = _hubs[loop] = Hub(loop)
    return found


def live_hubs() -> list[Hub]:
    with _hubs_lock:
        return [found for found in _hubs.values() if not found.closed and not found.loop.is_closed()]


class Hub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.closed = False
        self.subscriptions: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self.dispatched: OrderedDict[uuid.UUID, float] = OrderedDict()
        self.pending: set[tuple[uuid.UUID, uuid.UUID]] = set()
        self.wakeup = asyncio.Event()
        self.executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="audit-stream-db")
        self.poll_since = timezone.now() - POLL_LOOKBACK
        self.last_recheck = time.monotonic()
        self.holds_renewed = time.monotonic()
        self.idle_since = time.monotonic()
        self.tasks = [
            loop.create_task(self._deliver()),
            loop.create_task(self._poll()),
            loop.create_task(self._recheck()),
            loop.create_task(self._renew_holds()),
        ]
        self.renew_now = asyncio.Event()
        self.watching: set[uuid.UUID] = set()  # the teams the last renewal put in the watched set
        self.watching_changed = asyncio.Condition()
        self.broker = _broker_url()
        if (url := _broker_url()) is not None:
            self.tasks.append(loop.create_task(self._listen(url)))
            self.tasks.append(loop.create_task(self._renew_watch(url)))

    # --- streams come and go

    def subscribe(self, *, team_id, holder, event_filter, after, hold=None) -> Subscription:
        subscription = Subscription(team_id=team_id, holder=holder, event_filter=event_filter, after=after, hold=hold)
        if team_id not in self.subscriptions:
            self.renew_now.set()  # writers should start announcing this team's events now
        self.subscriptions[team_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        streams = self.subscriptions.get(subscription.team_id)
        if streams is not None and subscription in streams:
            streams.discard(subscription)
            if not streams:
                del self.subscriptions[subscription.team_id]
        if not self.subscriptions:
            self.idle_since = time.monotonic()

    async def db(self, function, *args, **kwargs):
        """Run database work on the hub's own threads."""
        return await self.loop.run_in_executor(
            self.executor, functools.partial(_in_db_thread, function, *args, **kwargs)
        )

    # --- announcements

    def heard_threadsafe(self, messages: list[str]) -> None:
        if self.closed or self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.heard, messages)
        except RuntimeError:  # the loop closed meanwhile (its server stopped)
            self.closed = True

    def heard(self, messages: list[str]) -> None:
        for message in messages:
            for line in message.split("\n"):
                team, _, event = line.partition(" ")
                try:
                    team_id, event_id = uuid.UUID(team), uuid.UUID(event)
                except ValueError:
                    continue
                if team_id in self.subscriptions and event_id not in self.dispatched:
                    self.pending.add((team_id, event_id))
        if self.pending:
            self.wakeup.set()

    async def _deliver(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.pending:
                batch = list(self.pending)[:FETCH_BATCH]
                self.pending.difference_update(batch)
                batch = [(team, event) for team, event in batch if team in self.subscriptions]
                if not batch:
                    continue
                try:
                    rendered = await self.db(_fetch, list({team for team, _ in batch}), [event for _, event in batch])
                except Exception:
                    # The poll finds them again once the database answers (it does not move on
                    # while it fails).
                    logger.exception("Audit stream: could not fetch announced events")
                    await asyncio.sleep(1)
                    continue
                self.dispatch(rendered)

    def dispatch(self, rendered) -> None:
        now = time.monotonic()
        for event, frame in rendered:
            if event.id in self.dispatched:
                continue
            self.dispatched[event.id] = now + DISPATCHED_MEMORY.total_seconds()
            for subscription in tuple(self.subscriptions.get(event.team_id, ())):
                subscription.deliver(event, frame)
        while self.dispatched:
            oldest, expires = next(iter(self.dispatched.items()))
            if expires > now:
                break
            del self.dispatched[oldest]

    async def _poll(self) -> None:
        try:
            await self._poll_forever()
        except asyncio.CancelledError:
            self.close()  # the event loop is shutting down (the server stops)
            raise

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.AUDIT_STREAM_POLL_SECONDS)
            if not self.subscriptions:
                if time.monotonic() - self.idle_since > IDLE_SECONDS:
                    self.close()
                    return
                self.poll_since = timezone.now() - POLL_LOOKBACK
                continue
            started = timezone.now()
            try:
                found = await self.db(
                    selectors.recent_event_ids, team_ids=list(self.subscriptions), since=self.poll_since
                )
            except Exception:
                logger.exception("Audit stream: could not poll for events")
                if started - self.poll_since > timedelta(seconds=settings.AUDIT_STREAM_REPLAY_SECONDS):
                    self.end_all(frames.end_frame("unavailable"))
                continue
            # Only once a poll has succeeded does the window move on: nothing committed meanwhile
            # is skipped, however long the database was away.
            self.poll_since = started - POLL_LOOKBACK
            missed = [(team, event) for event, team in found if event not in self.dispatched]
            if missed:
                self.pending.update(missed)
                self.wakeup.set()

    async def _recheck(self) -> None:
        while True:
            await asyncio.sleep(settings.AUDIT_STREAM_RECHECK_SECONDS)
            subscriptions = [s for streams in self.subscriptions.values() for s in streams]
            if not subscriptions:
                self.last_recheck = time.monotonic()
                continue
            try:
                found = await self.db(holder_rules.standings, {s.holder for s in subscriptions})
            except Exception:
                logger.exception("Audit stream: could not re-check who may watch")
                # Fail closed: a right that cannot be checked for a while is not assumed.
                if time.monotonic() - self.last_recheck > max(10, 3 * settings.AUDIT_STREAM_RECHECK_SECONDS):
                    self.end_all(frames.end_frame("unavailable"))
                continue
            self.last_recheck = time.monotonic()
            for subscription in subscriptions:
                standing = found.get(subscription.holder)
                if standing is not None and standing.reason is not None:
                    subscription.end(frames.revoked_frame(standing.reason))

    async def _renew_holds(self) -> None:
        """Keep the stream tokens of open streams held (livestream/tokens.py): a hold not renewed lapses,
        and the token may then open another stream. A stream whose hold is gone, or cannot be
        renewed before it would lapse, ends (`end`): one token never streams twice at once."""
        while True:
            await asyncio.sleep(stream_tokens.HOLD_SECONDS / 3)
            held = [s for streams in self.subscriptions.values() for s in streams if s.hold and not s.ended]
            if not held:
                self.holds_renewed = time.monotonic()
                continue
            try:
                kept = await self.db(stream_tokens.renew, [s.hold for s in held])
            except Exception:
                logger.exception("Audit stream: could not renew the holds of stream tokens")
                if time.monotonic() - self.holds_renewed > stream_tokens.HOLD_SECONDS / 2:
                    for subscription in held:
                        subscription.end(frames.end_frame("unavailable"))
                continue
            self.holds_renewed = time.monotonic()
            for subscription in held:
                if subscription.hold not in kept:
                    subscription.end(frames.end_frame("token_in_use"))

    async def _listen(self, url: str) -> None:
        import redis.asyncio

        name, backoff = channel(), 0.5
        while True:
            client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=BROKER_TIMEOUT, health_check_interval=10)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(name)
                    backoff = 0.5
                    while True:
                        message = await pubsub.get_message(timeout=5.0)
                        if message is not None and message["type"] == "message":
                            self.heard([message["data"].decode()])
            except (RedisError, OSError) as exc:
                logger.warning("Audit stream: not subscribed to announcements (%s); polling", type(exc).__name__)
            finally:
                await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 15)

    async def _renew_watch(self, url: str) -> None:
        """Keep the teams this hub streams in the watched set (see WATCHED)."""
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=BROKER_TIMEOUT, socket_timeout=BROKER_TIMEOUT)
        key = watched_key()
        try:
            while True:
                self.renew_now.clear()
                teams = set(self.subscriptions)
                if teams:
                    now = time.time()
                    try:
                        await client.zadd(key, {str(team): now + WATCH_TTL_SECONDS for team in teams})
                        await client.zremrangebyscore(key, "-inf", now)
                    except (RedisError, OSError) as exc:
                        logger.warning("Audit stream: watched teams not renewed (%s); polling", type(exc).__name__)
                        teams = set()
                async with self.watching_changed:
                    self.watching = teams
                    self.watching_changed.notify_all()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(WATCH_RENEW_SECONDS):
                        await self.renew_now.wait()
        finally:
            await client.aclose()

    async def until_watched(self, team_id: uuid.UUID, timeout: float = 1.0) -> None:
        """Wait (a moment at most) until writers can see that `team_id` is watched, so that what
        they write after a stream has opened is announced rather than found by the poll."""
        if self.broker is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout), self.watching_changed:
                await self.watching_changed.wait_for(lambda: team_id in self.watching)

    def end_all(self, frame: bytes) -> None:
        for streams in self.subscriptions.values():
            for subscription in streams:
                subscription.end(frame)

    def close(self) -> None:
        """Stop: the tasks, then the threads, each closing its database connection first (a
        connection can only be closed by the thread that opened it)."""
        if self.closed:
            return
        self.closed = True
        for task in self.tasks:
            if task is not asyncio.current_task(self.loop):
                task.cancel()
        barrier = threading.Barrier(DB_THREADS)

        def close_here() -> None:
            connections.close_all()
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=0.5)  # so that each thread takes one

        for _ in range(DB_THREADS):
            self.executor.submit(close_here)
        self.executor.shutdown(wait=False)


# A hub without streams for this long stops (its tasks, its threads and their connections).
IDLE_SECONDS = 60


def _in_db_thread(function, *args, **kwargs):
    """On a hub thread: a connection dropped by the server (restart, failover, idle timeout) is
    replaced before use, and one that fails is closed so the next call starts afresh."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.is_usable():
            connection.close()
    try:
        return function(*args, **kwargs)
    except (OperationalError, InterfaceError):
        connections.close_all()
        raise


def _fetch(team_ids, event_ids) -> list:
    return [(event, frames.event_frame(event)) for event in selectors.events_by_id(team_ids=team_ids, ids=event_ids)]
