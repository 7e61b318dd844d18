"""A read's audit event commits without waiting for the WAL flush (AUDIT_READS_ASYNC_COMMIT); a
write's commits with its change, synchronously; and nothing of the first outlives its own
transaction, on a direct connection as behind a transaction-mode pooler (DATABASE_POOLER,
scripts/pgbouncer_suite.sh).

What the commit waited for is read where PostgreSQL decides it: a deferred constraint trigger on
the audit table notes, at each commit, the synchronous_commit that commit runs under."""

import httpx
import pytest
from django.db import connection, transaction

from audit.models import Action
from audit.services import record_event

from . import servers
from .factories import make_key

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's"),
]

CAMPAIGNS = "/api/v1/campaigns"


@pytest.fixture
def commits():
    """commits() -> [(method, synchronous_commit)] of the API-request events committed so far, in order."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE test_audit_commits (n serial, action text, method text, synchronous_commit text)")
        cursor.execute(
            "CREATE FUNCTION test_audit_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO test_audit_commits (action, method, synchronous_commit) "
            "VALUES (NEW.action, NEW.method, current_setting('synchronous_commit')); RETURN NULL; END $$"
        )
        cursor.execute(
            "CREATE CONSTRAINT TRIGGER test_audit_commit AFTER INSERT ON audit_auditevent "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_audit_commit()"
        )

    def read():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT method, synchronous_commit FROM test_audit_commits WHERE action = %s ORDER BY n",
                [Action.API_REQUEST],
            )
            return cursor.fetchall()

    yield read
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_audit_commit ON audit_auditevent")
        cursor.execute("DROP FUNCTION test_audit_commit()")
        cursor.execute("DROP TABLE test_audit_commits")


def test_an_app_server_commits_read_events_asynchronously_and_write_events_synchronously(
    settings, commits, owner, team
):
    _, raw = make_key(owner, team, ["read:campaigns", "write:campaigns"])
    # As production runs: ASGI workers, the read events' own commit mode on (its default).
    running = servers.start(
        servers.environment(settings, AUDIT_READS_ASYNC_COMMIT="1"), servers.asgi_gunicorn_command, count=1
    )
    try:
        ((_, url),) = running
        headers = {"Authorization": f"Bearer {raw}", "X-Team-Id": str(team.pk)}
        for name in ("a", "b"):
            assert httpx.get(url + CAMPAIGNS, headers=headers, timeout=10).status_code == 200
            assert httpx.post(url + CAMPAIGNS, json={"name": name}, headers=headers, timeout=10).status_code == 201
    finally:
        servers.stop(running)
    # Alternating: behind a pooler the write may get the very server connection the read had.
    assert commits() == [("GET", "off"), ("POST", "on"), ("GET", "off"), ("POST", "on")]


def test_behind_a_pooler_the_read_event_itself_turns_synchronous_commit_off_for_its_own_transaction(
    settings, commits, team
):
    settings.DATABASE_POOLER = "transaction"  # the statement's way, whatever this run connects through
    record_event(action=Action.API_REQUEST, team_id=team.pk, synchronous_commit=False)
    record_event(action=Action.API_REQUEST, team_id=team.pk)
    with transaction.atomic():  # a transaction's other writes commit synchronously: so does its event
        record_event(action=Action.API_REQUEST, team_id=team.pk, synchronous_commit=False)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)
    assert [mode for _, mode in commits()] == ["off", "on", "on"]
