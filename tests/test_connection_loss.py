"""A database connection that dies mid-request: the change is rolled back, the client gets a 503
problem document, and the request is still in the audit log (written on a new connection).

On PostgreSQL the connection is really killed (pg_terminate_backend from a second connection)
right before the event's INSERT; SQLite has no server to kill, so there the INSERT fails with the
error a dead connection raises.
"""

import pytest
from django.db import OperationalError, connection

from audit.models import Action, AuditEvent
from tracking.models import Campaign

pytestmark = pytest.mark.django_db(transaction=True)


def _kill_connection_before(statement_start: str):
    state = {"done": False}

    def wrapper(execute, sql, params, many, context):
        if not state["done"] and sql.startswith(statement_start):
            state["done"] = True
            if connection.vendor == "postgresql":
                import psycopg

                pid = connection.connection.info.backend_pid
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
            else:
                raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return wrapper


def test_a_write_whose_audit_insert_loses_the_connection_is_a_503_and_still_audited(as_key, key_for, owner, team):
    key, raw = key_for(owner, team, permissions=["write:campaigns", "read:campaigns"])
    client = as_key(raw, team)
    with connection.execute_wrapper(_kill_connection_before('INSERT INTO "audit_auditevent"')):
        response = client.post("/api/v1/campaigns", {"name": "Spring"}, format="json")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0
    assert not Campaign.objects.exists()
    event = AuditEvent.objects.get(action=Action.API_REQUEST)
    assert event.status_code == 503 and event.api_key_id == key.pk and event.method == "POST"


def test_a_view_that_loses_the_connection_answers_503_and_is_audited(as_key, key_for, owner, team):
    _, raw = key_for(owner, team, permissions=["write:campaigns", "read:campaigns"])
    client = as_key(raw, team)
    with connection.execute_wrapper(_kill_connection_before('INSERT INTO "tracking_campaign"')):
        response = client.post("/api/v1/campaigns", {"name": "Spring"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert not Campaign.objects.exists()
    assert AuditEvent.objects.get(action=Action.API_REQUEST).status_code == 503


def test_a_read_whose_audit_insert_loses_the_connection_is_recorded_on_a_new_one(as_key, key_for, owner, team):
    _, raw = key_for(owner, team, permissions=["read:campaigns"])
    with connection.execute_wrapper(_kill_connection_before('INSERT INTO "audit_auditevent"')):
        response = as_key(raw, team).get("/api/v1/campaigns")
    assert response.status_code == 200
    assert AuditEvent.objects.get(action=Action.API_REQUEST).status_code == 200


def _delete_key_before(statement_start: str, key_pk):
    state = {"done": False}

    def wrapper(execute, sql, params, many, context):
        if not state["done"] and sql.startswith(statement_start):
            state["done"] = True
            with connection.cursor() as cursor:  # re-enters the wrapper; `done` lets it through
                cursor.execute(
                    "DELETE FROM apikeys_apikey WHERE id = %s",
                    [key_pk.hex if connection.vendor == "sqlite" else key_pk],
                )
        return execute(sql, params, many, context)

    return wrapper


def test_a_key_deleted_while_its_request_runs_is_still_audited(as_key, key_for, owner, team):
    key, raw = key_for(owner, team, permissions=["read:campaigns"])
    with connection.execute_wrapper(_delete_key_before('INSERT INTO "audit_auditevent"', key.pk)):
        response = as_key(raw, team).get("/api/v1/campaigns")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=Action.API_REQUEST)
    assert event.api_key_id is None and event.key_prefix == key.prefix and event.status_code == 200


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_key_request_whose_key_lookup_loses_the_connection_is_a_503_audited_against_the_key(
    as_key, key_for, owner, team, method
):
    key, raw = key_for(owner, team, permissions=["write:campaigns", "read:campaigns"])
    client = as_key(raw, team)
    with connection.execute_wrapper(_kill_connection_before('SELECT "apikeys_apikey"')):
        response = getattr(client, method)("/api/v1/campaigns", {"name": "Spring"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert not Campaign.objects.exists()
    event = AuditEvent.objects.get(action=Action.API_REQUEST)
    assert (event.status_code, event.api_key_id, event.method) == (503, key.pk, method.upper())
