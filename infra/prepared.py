"""Prepared statements and a migration that changes a table under load.

With prepared statements on (DATABASE_PREPARED_STATEMENTS, config/settings.py), PostgreSQL keeps
each connection's plans; a migration that changes what a statement returns (a column widened,
added or dropped) makes the next execution of that plan fail with "cached plan must not change
result type" (SQLSTATE 0A000) on every connection that prepared it. That is no fault of the
client's, so it must never be a 500:

- outside a transaction (reads, the read's audit INSERT) the connection's prepared statements are
  dropped (`DEALLOCATE ALL`, which psycopg also sees and forgets its own) and the statement is
  run once more, now planned afresh: the client never notices;
- inside a transaction the transaction is already aborted, so nothing can be retried: the error
  becomes an OperationalError, which every layer already answers with 503 + Retry-After (and the
  request's audit event is written on a new connection); the rollback makes psycopg drop its
  prepared statements, so the client's retry succeeds.

Installed on each new connection through Django's documented hooks (the `connection_created`
signal and execute wrappers), on PostgreSQL only.
"""

from __future__ import annotations

import logging

from django.db import NotSupportedError, OperationalError

logger = logging.getLogger("ghostflow.db")
STALE_PLAN_SQLSTATE = "0A000"  # feature_not_supported; only this message is a stale plan
STALE_PLAN_MESSAGE = "cached plan must not change result type"


def is_stale_plan(error: BaseException) -> bool:
    cause = error.__cause__
    return (
        isinstance(error, NotSupportedError)
        and getattr(cause, "sqlstate", None) == STALE_PLAN_SQLSTATE
        and STALE_PLAN_MESSAGE in str(cause)
    )


class StalePlanError(OperationalError):
    """A prepared plan went stale inside a transaction: answered 503, retried by the client."""


def replan_stale_statements(execute, sql, params, many, context):
    try:
        return execute(sql, params, many, context)
    except NotSupportedError as error:
        if not is_stale_plan(error):
            raise
        connection = context["connection"]
        if connection.in_atomic_block:
            logger.warning("A prepared plan went stale inside a transaction (a migration?): 503")
            raise StalePlanError(STALE_PLAN_MESSAGE) from error
        logger.warning("A prepared plan went stale (a migration?): replanned")
        connection.connection.execute("DEALLOCATE ALL")
        return execute(sql, params, many, context)


def install(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: every PostgreSQL connection gets the wrapper once."""
    if connection.vendor == "postgresql" and replan_stale_statements not in connection.execute_wrappers:
        connection.execute_wrappers.append(replan_stale_statements)
