"""Writing audit events: one INSERT each, never a read."""

from __future__ import annotations

from typing import Any

from config.net import client_ip

from .models import Action, AuditEvent

USER_AGENT_MAX = 255


def record_event(
    *,
    action: str,
    request=None,
    team_id=None,
    actor_id=None,
    api_key=None,
    status_code: int | None = None,
    data: dict[str, Any] | None = None,
    using: str = "default",
) -> AuditEvent:
    """Insert one event. Callers pass ids, not objects, so recording never triggers a lookup.

    Raises on failure: a caller inside a transaction then rolls its change back with it.

    An event recorded during a request made with an API key names that key (unless the caller
    names the key the event is about): whoever holds a key acts through it, and the log must say
    so rather than name only the key's owner.
    """
    if api_key is None and request is not None:
        api_key = getattr(request, "api_key", None)
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
    if request is not None:
        event.method = request.method or ""
        # path only: a query string may carry a secret (`?key=gf_...`), so it is never stored.
        event.path = request.path[:255]
        event.ip = client_ip(request)
        event.user_agent = request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX]
        event.request_id = getattr(request, "request_id", "")[:64]
    event.save(force_insert=True, using=using)
    return event


__all__ = ["Action", "record_event"]
