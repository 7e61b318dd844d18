"""The live audit stream: Server-Sent Events of one team's audit log.

Each event is one SSE message: `id:` the event's id, `data:` the event serialised exactly like an
item of the listing (AuditEventSerializer). Comments (`: heartbeat`) keep idle connections open
every AUDIT_STREAM_HEARTBEAT_SECONDS. The server ends a stream with one named event and closes it:

- `event: revoked` (data `{"reason": ...}`): its holder may no longer watch (livestream/holders.py);
- `event: end` (data `{"reason": ...}`): anything else (the stream reached AUDIT_STREAM_MAX_SECONDS,
  the client fell too far behind, the database was away); reconnect with Last-Event-ID;
- `event: gap`, sent first, when Last-Event-ID is older than the replay window: the events before
  the window were not replayed (read them from the listing).

Order and resume. A stream starts after a point: Last-Event-ID (the header EventSource sends, or
`?last_event_id=`), or the moment it opens. It first replays from the database every event with an
id after that point, oldest first, then delivers events as their transactions commit (fanout.py),
never one with an id at or before its starting point, and never one twice. Ids are UUIDv7, stamped
by time when an event is written, so "after" is "later"; a reconnect with the last id received
therefore misses nothing and repeats nothing. The one thing that can escape it is an event stamped
*before* that last id whose transaction was still open when the client disconnected (a window of
one request's duration); it is delivered live to streams that are connected when it commits.

Under ASGI (production) the stream is an async iterator on the event loop: it holds no worker
thread and no database connection while it waits. Under WSGI (gunicorn sync workers, Django's test
client, `runserver`) it must not hold a worker, so the same request answers the replay only (what
was missed after Last-Event-ID, at most one page) and closes.
"""

from __future__ import annotations

import asyncio
import heapq
import threading
import time
import uuid
import weakref
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from audit import selectors
from infra.errors import APIError, BadRequest

from . import fanout, frames, tokens
from .frames import CONTENT_TYPE

REPLAY_PAGE = 500
# Events one connection replays at most before it ends with `event: end` (reason `replay_limit`);
# the client reconnects with Last-Event-ID and the replay goes on.
REPLAY_LIMIT = 10 * REPLAY_PAGE
SENT_MEMORY = 10_000
# Ids stamped up to this far in the future (clock differences between app servers) are accepted.
CLOCK_SLACK = timedelta(minutes=1)


class StreamsRefused(APIError):
    """No new stream on this process now: it holds as many as it may (503), or as many of this
    team's as the team may (429). Both say when to try again."""

    def __init__(self, detail: str, *, code: str, status_code: int, wait: int) -> None:
        super().__init__(detail, code=code, status_code=status_code, retry_after=wait)
        self.wait = wait


def starting_point(request) -> tuple[uuid.UUID, bool]:
    """Where the stream starts (exclusive) and whether a gap comes first. Last-Event-ID (header)
    or `?last_event_id=`: a UUID, not in the future (400 `invalid_cursor`); older than the replay
    window, it starts at the window's start. Without one: now."""
    raw = request.headers.get("Last-Event-ID") or request.query_params.get("last_event_id")
    now = timezone.now()
    if not raw:
        return selectors.id_floor(now), False
    try:
        after = uuid.UUID(raw.strip())
    except ValueError as exc:
        raise BadRequest("Last-Event-ID must be the id of an audit event.", code="invalid_cursor") from exc
    stamped = selectors.stamp_of(after)
    if stamped > now + CLOCK_SLACK:
        raise BadRequest("Last-Event-ID is not the id of an audit event.", code="invalid_cursor")
    window_start = now - timedelta(seconds=settings.AUDIT_STREAM_REPLAY_SECONDS)
    if stamped < window_start:
        return selectors.id_floor(window_start), True
    return after, False


def response(request, *, team_id, holder, event_filter, after, gap: bool, ticket=None) -> HttpResponseBase:
    """The stream's answer. Its slot (the caps; the stream token's hold, for `ticket`) is taken
    here, before anything is answered, and given back however the stream ends (Slot)."""
    if request.method == "HEAD":  # the headers a GET would have, and no stream to hold open
        answer = HttpResponse(content_type=CONTENT_TYPE)
        answer["Cache-Control"] = "no-cache, no-store"
        return answer
    under_asgi = isinstance(request._request, ASGIRequest)
    slot = Slot(team_id=team_id, on_loop=under_asgi)
    if under_asgi:
        slot.reserve()  # 503 / 429 past a cap
    try:
        if ticket is not None and not slot.hold_token(ticket):
            # Another connection holds the token (or the server has not yet seen it close).
            slot.release()
            return _token_in_use()
        if under_asgi:
            content = live(team_id=team_id, holder=holder, event_filter=event_filter, after=after, gap=gap, slot=slot)
        else:
            content = catch_up(team_id=team_id, event_filter=event_filter, after=after, gap=gap)
    except BaseException:
        slot.release()
        raise
    answer = StreamingHttpResponse(
        (_LiveContent if under_asgi else _ReplayContent)(content, slot), content_type=CONTENT_TYPE
    )
    answer["Cache-Control"] = "no-cache, no-store"
    answer["X-Accel-Buffering"] = "no"  # nginx: pass each message on as it comes
    return answer


# How long a client whose token another connection holds waits before it tries again (ms).
IN_USE_RETRY_MS = 2000


def _token_in_use() -> HttpResponse:
    """No stream: this token's stream is open on another connection. A 200 that ends at once, so
    that EventSource tries again after `retry:` (it gives up for good on any other status) and gets
    the stream once the previous connection is seen to close; a second client never streams."""
    answer = HttpResponse(
        f"retry: {IN_USE_RETRY_MS}\n\n".encode() + frames.end_frame("token_in_use"), content_type=CONTENT_TYPE
    )
    answer["Cache-Control"] = "no-cache, no-store"
    return answer


class Slot:
    """What one stream takes before it is answered, given back exactly once whichever way it ends
    (the client leaves, the server ends it, an error, a cancellation, an answer never sent): its
    place under AUDIT_STREAM_MAX_PER_PROCESS / _PER_TEAM (live streams only) and its stream
    token's hold. `on_loop`: given back from the event loop, so the hold's database write goes to
    a thread of its own."""

    def __init__(self, *, team_id, on_loop: bool) -> None:
        self.team_id = team_id
        self.on_loop = on_loop
        self.counted = False
        self.hold: tokens.Hold | None = None
        self._lock = threading.Lock()
        self._released = False
        self._taken_at = time.monotonic()

    def reserve(self) -> None:
        _give_back_unsent()
        refused = fanout.reserve(self.team_id)
        if refused == "process":
            raise StreamsRefused(
                "This server holds as many live streams as it may; try again shortly.",
                code="service_unavailable",
                status_code=503,
                wait=5,
            )
        if refused == "team":
            # One team cannot take a process's every stream.
            raise StreamsRefused(
                "This team has as many live streams open on this server as it may; close one or try again later.",
                code="rate_limited",
                status_code=429,
                wait=30,
            )
        self.counted = True
        with _unsent_lock:
            _unsent.add(self)

    def started(self) -> None:
        """The answer is being sent: from here the stream gives its slot back itself."""
        with _unsent_lock:
            _unsent.discard(self)

    def hold_token(self, ticket) -> bool:
        self.hold = tokens.hold(ticket)
        return self.hold is not None

    def release(self, *, revoked: bool = False) -> None:
        """Idempotent. `revoked`: the holder may no longer watch, so the token never reopens."""
        with self._lock:
            if self._released:
                return
            self._released = True
        self.started()
        if self.counted:
            fanout.give_back(self.team_id)
        if self.hold is not None:
            if self.on_loop:
                tokens.release_soon(self.hold, reconnect=not revoked)
            else:
                tokens.release(self.hold, reconnect=not revoked)


# Slots of live answers not yet being sent. An answer whose request was cancelled while the view
# ran (the client left) is never sent nor closed: its slot goes back when a stream is next asked
# for, at once if the answer was garbage collected (_Content), else UNSENT_SECONDS on.
UNSENT_SECONDS = 10.0
_unsent: set[Slot] = set()
_unsent_lock = threading.Lock()


# Slots whose answer the garbage collector found unsent and unclosed. The collector runs at any
# moment, on any thread, maybe inside another request's transaction or on the event loop, so it
# writes nothing to the database: it leaves the slot here, and the next open gives it back (a
# token's hold also lapses by itself when its stream server stops renewing it).
_collected: list[Slot] = []


def _collected_unsent(slot: Slot) -> None:
    with _unsent_lock:
        _collected.append(slot)


def _give_back_unsent() -> None:
    cutoff = time.monotonic() - UNSENT_SECONDS
    with _unsent_lock:
        stale = [slot for slot in _unsent if slot._taken_at < cutoff] + _collected
        _collected.clear()
    for slot in stale:
        slot.release()


class _Content:
    """The streaming content of a stream's answer. Django calls `close` when it closes the response;
    what holds the response holds this object, and an answer never sent gives its slot back at the
    next open once it is garbage collected. Under ASGI, when the client leaves mid-stream, Django cancels the stream
    without closing the response: the generator's `finally` gives the slot back then."""

    def __init__(self, frames, slot: Slot) -> None:
        self.frames = frames
        self.slot = slot
        weakref.finalize(self, _collected_unsent, slot)

    def close(self) -> None:
        self.slot.release()


class _ReplayContent(_Content):
    def __iter__(self):
        return iter(self.frames)


class _LiveContent(_Content):
    def __aiter__(self):
        return aiter(self.frames)


def catch_up(*, team_id, event_filter, after, gap: bool):
    """Under WSGI: what was missed after `after` (one page), then the end."""
    yield b": replay only; live streaming needs the ASGI server\n\n"
    if gap:
        yield frames.gap_frame()
    for event in selectors.events_after(team_id=team_id, after=after, event_filter=event_filter, limit=REPLAY_PAGE):
        yield frames.event_frame(event)
    yield frames.end_frame("replay_only")


async def live(*, team_id, holder, event_filter, after, gap: bool, slot: Slot):
    """The stream under ASGI. Subscribes first, then replays: an event committed meanwhile is in
    both, and is sent once.

    Events are sent in id order, each once it is AUDIT_STREAM_SETTLE_SECONDS old: ids are stamped
    when an event is written and a transaction commits a moment later, so two requests can commit
    out of id order; holding each event that long lets an older one committed just after it go
    first, so that a client resuming after the last id it received neither misses the older one
    nor gets the newer one again. An event that commits later still is sent all the same, under
    the `id:` of the newest event sent (the resume point never moves back, so nothing repeats)."""
    slot.started()
    hub = fanout.hub()
    subscription = hub.subscribe(team_id=team_id, holder=holder, event_filter=event_filter, after=after, hold=slot.hold)

    def stop(_task=None) -> None:
        hub.unsubscribe(subscription)
        slot.release()

    # The stream ends with the request's task, whichever way: when the client leaves while Django
    # is sending a message, the task is cancelled outside this generator, whose `finally` then
    # waits for the garbage collector.
    if (task := asyncio.current_task()) is not None:
        task.add_done_callback(stop)
    try:
        # The request's middleware and view are done: let its database connections go now, as the
        # end of a request would (only those DATABASE_CONN_MAX_AGE says to close), not when the
        # stream ends.
        await sync_to_async(_release_connections)()
    except BaseException:
        stop()
        raise
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.AUDIT_STREAM_MAX_SECONDS
    settle = timedelta(seconds=settings.AUDIT_STREAM_SETTLE_SECONDS)
    order = _Order(after)
    try:
        await hub.until_watched(team_id)
        yield b": live\n\n"
        if gap:
            yield frames.gap_frame()
        cursor, replayed = after, 0
        while True:
            # Between pages: a holder revoked meanwhile, or the time up, ends the replay too.
            if subscription.ended or loop.time() >= deadline:
                break
            page = await hub.db(_replay_page, team_id, cursor, event_filter)
            for event_id, frame in page:
                order.add(event_id, frame)
            for frame in order.settled(timezone.now() - settle):
                yield frame
            replayed += len(page)
            if len(page) < REPLAY_PAGE:
                break
            if replayed >= REPLAY_LIMIT:
                # More to replay than one stream carries: the client reconnects with the last id
                # it received (its right checked afresh) and the replay goes on from there.
                for frame in order.settled(timezone.now()):
                    yield frame
                yield frames.end_frame("replay_limit")
                return
            cursor = page[-1][0]
        heartbeat = settings.AUDIT_STREAM_HEARTBEAT_SECONDS
        while True:
            now = loop.time()
            if now >= deadline and not subscription.ended:
                yield frames.end_frame("max_duration")
                return
            wait = min(heartbeat, deadline - now)
            if (due := order.next_due(settle)) is not None:
                wait = min(wait, max(due, 0.0))
            try:
                async with asyncio.timeout(wait):
                    item = await subscription.frames.get()
            except TimeoutError:
                item = None
            if isinstance(item, fanout.Ending):
                # Only to a holder that may still watch: what is held back goes first.
                if item.frame.startswith(b"event: revoked"):
                    slot.release(revoked=True)  # its token never reopens the stream
                else:
                    for frame in order.settled(timezone.now()):
                        yield frame
                yield item.frame
                return
            if item is not None:
                order.add(*item)
            due = order.settled(timezone.now() - settle)
            for frame in due:
                yield frame
            if item is None and not due and order.next_due(settle) is None:
                yield b": heartbeat\n\n"
    finally:
        stop()


class _Order:
    """The events of one stream waiting to settle, sent in id order, each once."""

    def __init__(self, after: uuid.UUID) -> None:
        self.waiting: list[tuple[uuid.UUID, bytes]] = []
        self.sent: set[uuid.UUID] = set()
        self.newest = after  # the `id:` of the last message: the client's resume point

    def add(self, event_id: uuid.UUID, frame: bytes) -> None:
        if event_id not in self.sent:
            heapq.heappush(self.waiting, (event_id, frame))

    def next_due(self, settle: timedelta) -> float | None:
        """Seconds until the oldest waiting event settles, or None when none waits."""
        if not self.waiting:
            return None
        return (selectors.stamp_of(self.waiting[0][0]) + settle - timezone.now()).total_seconds()

    def settled(self, cutoff) -> list[bytes]:
        frames = []
        while self.waiting and selectors.stamp_of(self.waiting[0][0]) <= cutoff:
            event_id, frame = heapq.heappop(self.waiting)
            if event_id in self.sent:
                continue
            self.sent.add(event_id)
            if event_id > self.newest:
                self.newest = event_id
            else:
                frame = b"id: " + str(self.newest).encode() + frame[frame.index(b"\n") :]
            frames.append(frame)
        if len(self.sent) > SENT_MEMORY:
            # The hub hands an event out once (fanout.DISPATCHED_MEMORY); only the recent ones can
            # still come both ways (replay and live).
            recent = selectors.id_floor(timezone.now() - fanout.DISPATCHED_MEMORY)
            self.sent = {event_id for event_id in self.sent if event_id > recent}
        return frames


def _release_connections() -> None:
    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


def _replay_page(team_id, after, event_filter) -> list[tuple[uuid.UUID, bytes]]:
    events = selectors.events_after(team_id=team_id, after=after, event_filter=event_filter, limit=REPLAY_PAGE)
    return [(event.id, frames.event_frame(event)) for event in events]
