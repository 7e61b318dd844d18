"""The live audit stream (``GET audit-log/stream``, Server-Sent Events) as an iterator of events.

The server sends each audit event as one message (``id:`` its id, ``data:`` the event as the
listing shows it), ``: heartbeat`` comments while idle, and ends a stream with one named event:
``end`` (the stream reached its maximum duration, the client fell behind, the database was away:
reconnect) or ``revoked`` (the holder may no longer watch: do not). ``gap`` comes first when the
resume point is older than the server's replay window.

Resume. A reconnect sends ``Last-Event-ID`` with the id of the last message received; the server
replays what was written after it, then goes live, so nothing is lost and nothing repeated. Before
any event has arrived, the resume point is the moment the first connection opened, by the
server's clock (see ``_Resume``): a reconnect then replays what was written since, which the
client has not seen either. The iterator reconnects after a
server-initiated ``end``, a connection that drops, and a connection silent for longer than the read
timeout (the server sends a heartbeat every 15 s by default), at once after a connection that was
useful and with a growing, jittered wait after one that ended at once with nothing; a connection
that cannot be opened is retried with the stream's RetryPolicy, then raised.

The SSE grammar is read by httpx-sse (a maintained parser: line endings, multi-line data, the
last-event-id buffer); this module decides what each message means, and is shared by the sync
and async iterators.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, cast

import httpx
from httpx_sse import EventSource, ServerSentEvent

from ._concurrency import ASYNC_GENERATOR_RUNNING, GENERATOR_RUNNING, async_sleep, sleep
from ._core import Id, query, segment
from .errors import NetworkError, StreamRevoked
from .models import AuditEvent
from .retry import RetryPolicy

__all__ = ["STREAM_RETRY", "AsyncAuditStream", "AuditStream"]

STREAM_PATH = "audit-log/stream"
TOKEN_PATH = "audit-log/stream-token"
CONTENT_TYPE = "text/event-stream"
# Opening (or re-opening) a stream: up to 8 attempts in a row, waits growing to 30 s (about two
# minutes in all, the time a server restarts in), Retry-After honoured (a full process or team).
STREAM_RETRY = RetryPolicy(max_retries=8, backoff=0.5, max_backoff=30.0)
# No byte for this long (not even a heartbeat, every 15 s by default): the connection is dead.
DEFAULT_READ_TIMEOUT = 60.0
# A connection that ends sooner than this without an event was of no use: wait before the next.
QUICK_END_SECONDS = 5.0
MAX_QUICK_ENDS = 16  # the wait stops growing there (RetryPolicy's ceiling caps it anyway)
# How far before a `max_duration` end the resume point may move on a quiet stream: more than the
# server holds an event to settle (0.5 s) and than it takes to find an event whose announcement
# was lost (its poll, 2 s), so that nothing sent late is skipped.
END_MARGIN_SECONDS = 10.0

logger = logging.getLogger("ghostflow_client")

GapHandler = Callable[[str], None]
# How an iterator opens a connection: the client's request, with the resume headers.
AsyncConnect = Callable[[Mapping[str, str]], Awaitable[httpx.Response]]
Connect = Callable[[Mapping[str, str]], httpx.Response]


def stream_params(
    *,
    action: str | None,
    key: Id | None,
    integration: Id | None,
    actor: Id | None,
    status: str | None,
) -> dict[str, object | None]:
    """The stream's filters (the listing's, less `since` and `until`)."""
    return {
        "action": action,
        "key": segment(key) if key is not None else None,
        "integration": segment(integration) if integration is not None else None,
        "actor": segment(actor) if actor is not None else None,
        "status": status,
    }


def browser_url(base_url: str, token: str, params: Mapping[str, object | None], last_event_id: str | None) -> str:
    """The stream's URL with a stream token in it, for a browser's ``EventSource`` (which cannot
    send headers); never with the userinfo of the base URL."""
    resume = {"last_event_id": str(uuid.UUID(last_event_id))} if last_event_id else {}
    url = httpx.URL(base_url + STREAM_PATH, params={"token": token, **resume, **query(params)})
    return str(url.copy_with(username=None, password=None))


def _log_gap(detail: str) -> None:
    logger.warning("Audit stream: %s", detail)


def _floor_id(moment: float) -> str:
    """The smallest event id (UUIDv7) stamped at `moment` (Unix seconds): resuming after it gets
    every event stamped at that millisecond or later."""
    return str(uuid.UUID(int=int(moment * 1000) << 80))


def _later(a: str | None, b: str) -> str:
    """The later of two resume points (event ids are time-ordered: the larger is the later)."""
    return b if a is None or uuid.UUID(b).int > uuid.UUID(a).int else a


class _Resume:
    """The resume point, what each message means and how long to wait before reconnecting: the
    decisions of the sync and async iterators, made in one place.

    The resume point (sent as ``Last-Event-ID``) is the later of the last event received and a
    point in time up to which the server has delivered everything:

    - the opening of the first connection, when it was opened without a resume point (it starts
      "now": nothing before it was asked for);
    - a little before a server-initiated end for ``max_duration`` (a healthy connection that was
      live to its end), so that a quiet stream does not resume from an event older than the
      server's replay window (which would report a gap that lost nothing). Not after the other
      ends (``replay_limit``: the replay stopped midway; ``lagging``, ``unavailable``: events may
      not have been sent), nor after a drop (the connection may have been dead for a while).

    Both times are the server's: its ``Date`` at opening (less a second, for the rounding) plus the
    time the connection lasted.
    """

    def __init__(self, last_event_id: str | None, on_gap: GapHandler | None, retry: RetryPolicy) -> None:
        self.last_event_id = str(uuid.UUID(last_event_id)) if last_event_id else None
        self._point = self.last_event_id
        self._on_gap = on_gap or _log_gap
        self._retry = retry
        self._server_opened = 0.0  # the server's clock when the current connection opened
        self._opened_at = 0.0  # ours (monotonic)
        self._received = 0  # events on the current connection
        self._quick_ends = 0  # connections in a row that ended at once with nothing

    def headers(self) -> dict[str, str]:
        headers = {"Accept": CONTENT_TYPE, "Cache-Control": "no-store"}
        if self._point is not None:
            headers["Last-Event-ID"] = self._point
        return headers

    def opened(self, response: httpx.Response) -> None:
        content_type = response.headers.get("Content-Type", "").partition(";")[0].strip()
        if content_type != CONTENT_TYPE:
            raise NetworkError(
                f"The audit stream answered {content_type or 'no content type'}, not {CONTENT_TYPE} "
                "(a proxy in the way?)."
            )
        self._opened_at = time.monotonic()
        self._received = 0
        try:
            self._server_opened = parsedate_to_datetime(response.headers["Date"]).timestamp() - 1.0
        except (KeyError, TypeError, ValueError):
            self._server_opened = time.time() - 1.0
        if self._point is None:
            self._point = _floor_id(self._server_opened)

    def message(self, sse: ServerSentEvent) -> AuditEvent | None:
        """The event a message carries, or None (a named event handled here); raises
        StreamRevoked when the server says the holder may no longer watch."""
        if sse.event in ("", "message"):
            if not sse.data:
                return None
            event = cast(AuditEvent, json.loads(sse.data))
            # The message's `id:`: the server's resume point (it never moves back).
            self.last_event_id = sse.id or event["id"]
            self._point = _later(self._point, self.last_event_id)
            self._received += 1
            return event
        data = _json_object(sse.data)
        if sse.event == "revoked":
            raise StreamRevoked(str(data.get("reason") or "revoked"), self.last_event_id)
        if sse.event == "gap":
            self._on_gap(str(data.get("detail") or "events older than the replay window were not replayed"))
        if sse.event == "end" and data.get("reason") == "max_duration":
            lasted = time.monotonic() - self._opened_at
            self._point = _later(self._point, _floor_id(self._server_opened + lasted - END_MARGIN_SECONDS))
        return None  # after `end` the server closes the connection; names added later are ignored

    def reconnect_delay(self) -> float:
        """Seconds to wait before reconnecting: none after a useful connection, a growing
        jittered wait after connections that ended at once with nothing (a server that can only
        replay, one that keeps ending streams)."""
        useful = self._received > 0 or time.monotonic() - self._opened_at >= QUICK_END_SECONDS
        if useful:
            self._quick_ends = 0
            return 0.0
        delay = self._retry.delay(self._quick_ends) or 0.0
        self._quick_ends = min(self._quick_ends + 1, MAX_QUICK_ENDS)
        return delay


def _json_object(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# The source of AuditStream below, generated from it by clients/python/scripts/generate_sync.py:
# edit here, then run `make sdk-sync`.
class AsyncAuditStream:
    """The team's audit events as they are written: an iterator that never ends by itself (it
    resumes after every drop or server-initiated end); stop with ``break`` or ``aclose()``, or
    when the server revokes it (:class:`ghostflow_client.StreamRevoked`).

        async with gf.audit_log.stream(action="api_request") as events:
            async for event in events:
                print(event["created_at"], event["path"], event["status_code"])

    ``last_event_id`` is the id of the last event received: keep it to resume later with
    ``stream(last_event_id=...)``.
    """

    def __init__(self, connect: AsyncConnect, resume: _Resume) -> None:
        self._connect = connect
        self._resume = resume
        self._response: httpx.Response | None = None
        self._closed = False
        self._events = self._run()

    @property
    def last_event_id(self) -> str | None:
        return self._resume.last_event_id

    def __aiter__(self) -> AsyncAuditStream:
        return self

    async def __anext__(self) -> AuditEvent:
        return await anext(self._events)

    async def _run(self) -> AsyncGenerator[AuditEvent, None]:
        while not self._closed:
            response = await self._connect(self._resume.headers())
            self._response = response
            try:
                self._resume.opened(response)
                async for sse in EventSource(response).aiter_sse():
                    event = self._resume.message(sse)
                    if event is not None:
                        yield event
            except httpx.TransportError:
                pass  # dropped, or silent past the read timeout: resume below
            finally:
                await response.aclose()
                self._response = None
            if not self._closed:
                await async_sleep(self._resume.reconnect_delay())

    async def aclose(self) -> None:
        """Stop: close the connection; the iteration ends (from another task too: its read
        stops when the connection closes)."""
        self._closed = True
        if self._response is not None:
            await self._response.aclose()
        with contextlib.suppress(ASYNC_GENERATOR_RUNNING):  # another task is reading
            await self._events.aclose()

    async def __aenter__(self) -> AsyncAuditStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


# --- generated from AsyncAuditStream by clients/python/scripts/generate_sync.py: do not edit ---
class AuditStream:
    """The team's audit events as they are written: an iterator that never ends by itself (it
    resumes after every drop or server-initiated end); stop with ``break`` or ``close()``, or
    when the server revokes it (:class:`ghostflow_client.StreamRevoked`).

        with gf.audit_log.stream(action="api_request") as events:
            for event in events:
                print(event["created_at"], event["path"], event["status_code"])

    ``last_event_id`` is the id of the last event received: keep it to resume later with
    ``stream(last_event_id=...)``.
    """

    def __init__(self, connect: Connect, resume: _Resume) -> None:
        self._connect = connect
        self._resume = resume
        self._response: httpx.Response | None = None
        self._closed = False
        self._events = self._run()

    @property
    def last_event_id(self) -> str | None:
        return self._resume.last_event_id

    def __iter__(self) -> AuditStream:
        return self

    def __next__(self) -> AuditEvent:
        return next(self._events)

    def _run(self) -> Generator[AuditEvent, None]:
        while not self._closed:
            response = self._connect(self._resume.headers())
            self._response = response
            try:
                self._resume.opened(response)
                for sse in EventSource(response).iter_sse():
                    event = self._resume.message(sse)
                    if event is not None:
                        yield event
            except httpx.TransportError:
                pass  # dropped, or silent past the read timeout: resume below
            finally:
                response.close()
                self._response = None
            if not self._closed:
                sleep(self._resume.reconnect_delay())

    def close(self) -> None:
        """Stop: close the connection; the iteration ends (from another thread too: its read
        stops when the connection closes)."""
        self._closed = True
        if self._response is not None:
            self._response.close()
        with contextlib.suppress(GENERATOR_RUNNING):  # another thread is reading
            self._events.close()

    def __enter__(self) -> AuditStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --- end of the generated AuditStream ---


def stream_timeout(client_timeout: httpx.Timeout, read_timeout: float) -> httpx.Timeout:
    """The client's timeouts, with a read timeout that fits a stream (heartbeats, not answers)."""
    return httpx.Timeout(
        connect=client_timeout.connect, read=read_timeout, write=client_timeout.write, pool=client_timeout.pool
    )
