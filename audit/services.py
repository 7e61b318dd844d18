"""Writing audit events: one INSERT each, never a read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections

from infra import request_context

from .models import Action, AuditEvent

# What must hear of each recorded event, as `hear(event, using=...)`: the live stream's fan-out
# (livestream.fanout.announce, which announces it once its transaction commits). livestream sits
# above every app that records events, hence the registration, in its AppConfig.ready.
RECORDED: list[Callable[..., None]] = []


def record_event(
    *,
    action: str,
    team_id=None,
    actor_id=None,
    api_key=None,
    integration=None,
    status_code: int | None = None,
    data: dict[str, Any] | None = None,
    using: str = "default",
    synchronous_commit: bool = True,
) -> AuditEvent:
    """Insert one event. Callers pass ids, not objects, so recording never triggers a lookup.
    Method, path, IP, user agent and request id come from the current request's context
    (infra.request_context), when there is one.

    Raises on failure: a caller inside a transaction then rolls its change back with it.

    An event recorded during a request made with an API key names that key (unless the caller
    names the key the event is about): whoever holds a key acts through it, and the log must say
    so rather than name only the key's owner.

    `synchronous_commit=False` (a read's event, AUDIT_READS_ASYNC_COMMIT) lets an event written in
    autocommit commit without waiting for the WAL flush: see `_insert`. Inside a transaction it
    changes nothing: the transaction's other writes commit synchronously, and the event with them.
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
    if integration is None and context is not None:
        integration = context.integration
    if integration is not None:
        event.integration_id = integration.pk
        if context is not None and context.integration is integration and context.integration_key:
            event.data = {**event.data, "integration_key": context.integration_key}
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
    _insert(event, using, synchronous_commit=synchronous_commit)
    for hear in RECORDED:
        hear(event, using=using)
    return event


def _insert(event: AuditEvent, using: str, *, synchronous_commit: bool = True) -> None:
    """One INSERT, without Model.save()'s machinery (signals, parent models, update checks),
    which cost as much as the statement on a key request (bench/inprocess.py). The statement is
    built from the model's own fields, and each value is prepared by its field exactly as save()
    would; tests/test_audit.py reads every recorded event back through the ORM.

    An asynchronous commit on PostgreSQL: read events go through a connection of their own
    (AUDIT_READS_DATABASE) started with synchronous_commit=off. Behind a pooler
    (DATABASE_POOLER) no connection option reaches the server, so the INSERT itself turns it off
    for its own transaction, which in autocommit is this statement alone: set_config(..., true)
    lasts until that transaction's commit, which it governs, and is gone when the pooler hands
    the server connection to its next client (tests/test_audit_commit.py)."""
    connection = connections[using]
    fields = AuditEvent._meta.concrete_fields
    statement = _INSERTS.get(connection.vendor)
    if statement is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        statement = _INSERTS[connection.vendor] = (
            f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
        )
    params = [field.get_db_prep_save(field.pre_save(event, add=True), connection) for field in fields]
    pooled = settings.DATABASE_POOLER and connection.vendor == "postgresql"
    if pooled and not synchronous_commit and connection.get_autocommit():
        statement += ASYNCHRONOUS_COMMIT
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


ASYNCHRONOUS_COMMIT = " RETURNING set_config('synchronous_commit', 'off', true)"
_INSERTS: dict[str, str] = {}


__all__ = ["Action", "record_event"]
