"""What the audit log needs to know about the current request, filled once per request.

`RequestIdMiddleware` opens it (method, path without query string, client IP, user agent,
request id); the key authentication class adds the key it found (even one it then refuses) and
which of its secrets was used; the rate limiter notes a refusal. `audit.services.record_event`
reads it, so services take domain arguments and never the request. Work that runs later, in a
worker process, takes the context with it (`snapshot`, then `from_snapshot` and `use`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

USER_AGENT_MAX = 255
NOT_READ = object()


@dataclass
class RequestContext:
    method: str = ""
    path: str = ""
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""
    # The API key presented (found by its digest), and "current" or "previous" (its old secret).
    key: Any = None
    key_secret: str = "current"
    # Finds the presented key again on a given database alias (apikeys sets it before its lookup):
    # when the lookup itself fails (the connection died), the audit log still records the 503
    # against the key, found on a fresh connection.
    find_key: Callable[[str], Any] | None = None
    # The integration presented (integrations/), and which of its keys: "admin" or "content".
    integration: Any = None
    integration_key: str = ""
    # Set when a rate limit refused the request: {"scope": ..., "limit": "ip" | "account"}.
    rate_limited: dict | None = None
    # Headers for the response, whatever it is (e.g. a key's RateLimit headers, apikeys.limits),
    # set on it by infra.middleware.RequestIdMiddleware.
    response_headers: dict[str, str] = field(default_factory=dict)
    # Run, with the final response, by the transaction middleware once the transaction has ended.
    after_transaction: list[Callable[[Any], None]] = field(default_factory=list)
    # The shared access generation as this request read it (infra.coherence), read at most once.
    generation: Any = NOT_READ


_current: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def current() -> RequestContext | None:
    return _current.get()


@contextmanager
def use(context: RequestContext | None) -> Iterator[RequestContext | None]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def from_request(request, *, request_id: str, ip: str | None) -> RequestContext:
    return RequestContext(
        method=request.method or "",
        # The path only: a query string may carry a secret (`?key=gf_...`), so it is never kept.
        path=request.path[:255],
        ip=ip,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        request_id=request_id[:64],
    )


# What work queued for later (infra/background.py) takes along, as JSON: the request's metadata,
# not its key, callbacks or cached state.
SNAPSHOT_FIELDS = ("method", "path", "ip", "user_agent", "request_id")


def snapshot() -> dict | None:
    """The current request's metadata, for work that runs after the request, elsewhere."""
    context = current()
    if context is None:
        return None
    return {name: getattr(context, name) for name in SNAPSHOT_FIELDS}


def from_snapshot(data: dict | None) -> RequestContext | None:
    if data is None:
        return None
    return RequestContext(**{name: data[name] for name in SNAPSHOT_FIELDS})
