"""A cheaper health check of persistent PostgreSQL connections, run when each request starts.

A persistent connection (CONN_MAX_AGE) may have been ended by the server while it sat idle
between requests (restart, failover, pg_terminate_backend, an idle timeout). Django's own check
(CONN_HEALTH_CHECKS) finds out with a `SELECT 1` before the first query of every request, on
every connection: one more round trip per request, two on a key request with the audit
connection, which is more than the audit INSERT costs.

An idle connection receives nothing unless the server is ending it: a termination notice, or the
socket reaching end-of-file. So the check here is a zero-timeout poll of the socket, connected
to Django's documented `request_started` signal (after Django's own `close_old_connections`):
something to read, or a socket already closed, and the connection is closed, so Django opens a
new one on first use. Rarely what is waiting is harmless (a notice); closing then costs one
reconnect, never a wrong answer. What the poll cannot see (a peer that vanished without a word)
fails the first query instead; the request middleware answers that with a 503
(infra.middleware.RequestTransactionMiddleware) and Django drops the connection when the request
ends (its errors_occurred check). CONN_HEALTH_CHECKS stays off (config/settings.py).
"""

import select

from django.db import connections


def server_ended(raw_connection) -> bool:
    """True when the server has ended (or is ending) this idle psycopg connection."""
    if raw_connection.closed or raw_connection.broken:
        return True
    try:
        readable, _, _ = select.select([raw_connection.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def close_connections_the_server_ended(**kwargs) -> None:
    for connection in connections.all(initialized_only=True):
        if connection.vendor != "postgresql" or connection.connection is None or connection.in_atomic_block:
            continue
        if server_ended(connection.connection):
            connection.close()
