"""Writing audit events: one INSERT each, never a read."""

from __future__ import annotations

from typing import Any

from infra import request_context

from .models import Action, AuditEvent


def record_event(
    *,
    action: str,
    team_id=None,
    actor_id=None,
    api_key=None,
    status_code: int | None = None,
    data: dict[str, Any] | None = None,
    using: str = "default",
) -> AuditEvent:
    """Insert one event. Callers pass ids, not objects, so recording never triggers a lookup.
    Method, path, IP, user agent and request id come from the current request's context
    (infra.request_context), when there is one.

    Raises on failure: a caller inside a transaction then rolls its change back with it.

    An event recorded during a request made with an API key names that key (unless the caller
    names the key the event is about): whoever holds a key acts through it, and the log must say
    so rather than name only the key's owner.
    """
    context = request_context.current()
    if api_key is None and context is not None:
        api_key = context.key
    event = AuditEvent(
        action=action,
        team_id=team_id,
        actor_id=actor_id,
        status_code=status_code,
        data=data or {},
    )
    if api_key is not None:
        event.api_key_id = api_key.pk
        event.key_prefix = api_key.prefix
        event.key_name = api_key.name[:100]
    if context is not None:
        event.method = context.method
        event.path = context.path
        event.ip = context.ip
        event.user_agent = context.user_agent
        event.request_id = context.request_id
    event.save(force_insert=True, using=using)
    return event


__all__ = ["Action", "record_event"]
