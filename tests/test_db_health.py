"""The health check of persistent PostgreSQL connections (infra/db_health.py, on request_started):
a connection the server ended while idle is replaced before the next request uses it, and a
healthy one is checked without a query."""

import time

import pytest
from django.db import connection

from infra.db_health import close_connections_the_server_ended

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's own check")

CAMPAIGNS = "/api/v1/campaigns"


def _terminate(pid: int) -> None:
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    ) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):
            if not killer.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                return
            time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_the_next_request(as_key, key_for, owner, team):
    _, raw = key_for(owner, team, permissions=["read:campaigns"])
    client = as_key(raw, team)
    assert client.get(CAMPAIGNS).status_code == 200
    pid = connection.connection.info.backend_pid
    _terminate(pid)
    # The test client sends request_started, as the WSGI and ASGI handlers do.
    assert client.get(CAMPAIGNS).status_code == 200
    assert connection.connection.info.backend_pid != pid


@pytest.mark.django_db(transaction=True)
def test_a_healthy_idle_connection_is_checked_without_a_query(monkeypatch):
    connection.ensure_connection()

    def no_query(*args, **kwargs):
        raise AssertionError("the health check ran a query")

    raw = connection.connection
    monkeypatch.setattr(raw, "cursor", no_query)
    monkeypatch.setattr(raw, "execute", no_query)
    close_connections_the_server_ended()
    assert connection.connection is raw


@pytest.mark.django_db(transaction=True)
def test_a_closed_connection_is_not_usable():
    connection.ensure_connection()
    connection.connection.close()
    close_connections_the_server_ended()
    assert connection.connection is None
