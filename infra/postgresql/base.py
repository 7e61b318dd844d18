"""Django's PostgreSQL backend with a health check that costs no round trip, and SELECTs of a
plain shape compiled once per shape (infra/postgresql/compiler.py).

A persistent connection (CONN_MAX_AGE) is checked before its first use in each request
(CONN_HEALTH_CHECKS), so that a connection the server dropped while idle (restart, failover,
pg_terminate_backend, idle timeout) is replaced instead of failing the request. Django checks with
`SELECT 1`: one more round trip on every request and every connection (two on a key request, with
the audit connection), more than the audit INSERT costs in bench/.

A connection that is idle between requests receives nothing unless the server is ending it: the
server sends its termination notice, or the socket reaches end-of-file. So the check here is a
zero-timeout poll of the socket: nothing to read means usable; anything to read (rarely a
notification) falls back to Django's `SELECT 1`, which reads it and decides. What the poll cannot
see (a peer that vanished without a word) fails the first query instead, and the request
middleware answers that with a 503 (infra.middleware.RequestTransactionMiddleware).
"""

import select

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    # SELECTs of a plain shape are compiled once per shape (infra/postgresql/compiler.py).
    compiler_module = "infra.postgresql.compiler"


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def is_usable(self):
        if self.connection is None or self.connection.closed or self.connection.broken:
            return False
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        if not readable:
            return True
        return super().is_usable()
