"""Monthly partitions of the audit table on PostgreSQL (audit.partitions, migration 0005) and the
retention that drops them (audit.retention, prune_audit); SQLite keeps one table and row deletes.

Events are recorded at a given moment by travelling there (time-machine), so they take the same
INSERT path as in production (audit.services), partition routing included.
"""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import time_machine
from django.core.management import call_command
from django.db import OperationalError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit import partitions, retention
from audit.models import Action, AuditEvent
from audit.services import record_event

from .factories import make_key

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions exist on PostgreSQL only")
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite path")

THIS_MONTH = partitions.month_start(timezone.now())


def day(month_offset: int, day_of_month: int, hour: int = 12) -> datetime:
    month = partitions.add_months(THIS_MONTH, month_offset)
    return datetime(month.year, month.month, day_of_month, hour, tzinfo=UTC)


def event_at(moment: datetime, **fields) -> AuditEvent:
    with time_machine.travel(moment, tick=False):
        return record_event(action=fields.pop("action", Action.LOGOUT), **fields)


def home_of(event: AuditEvent) -> str:
    """The partition holding the event. (Hand-written SQL: the ORM cannot read `tableoid`.)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM audit_auditevent WHERE id = %s", [event.pk])
        return cursor.fetchone()[0]


def settle_foreign_key_checks():
    """Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, and PostgreSQL refuses DDL on a
    table with checks still pending in the transaction. Production runs partition maintenance in
    its own transaction; a test runs it inside the test's, after inserting, so run the checks now."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def catalog(table: str) -> dict:
    """Index names, foreign-key names and primary-key columns of a table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [table])
        indexes = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        foreign_keys = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum",
            [table],
        )
        primary_key = [row[0] for row in cursor.fetchall()]
    return {"indexes": indexes, "foreign_keys": foreign_keys, "primary_key": primary_key}


# --- the partitioned table ----------------------------------------------------------------------


@postgresql_only
def test_the_table_is_partitioned_by_month_with_the_models_indexes_and_foreign_keys():
    assert partitions.is_partitioned()
    months = [partition.start for partition in partitions.month_partitions()]
    for ahead in range(partitions.MONTHS_AHEAD + 1):
        assert partitions.add_months(THIS_MONTH, ahead) in months
    assert partitions.default_partition() == partitions.DEFAULT_PARTITION
    parent = catalog("audit_auditevent")
    assert parent["primary_key"] == ["id", "created_at"]
    for name in ("audit_key_created_idx", "audit_team_created_idx", "audit_auditevent_pkey"):
        assert name in parent["indexes"]
    # A plain created_at index tempts the planner into walking it backwards for a team's or a
    # key's first page (48 ms at 10M rows instead of 2); retention no longer needs it (0007).
    assert "audit_created_idx" not in parent["indexes"]
    assert any(name.startswith("audit_auditevent_actor_id_") for name in parent["indexes"])
    assert any(name.startswith("audit_auditevent_actor_id_") for name in parent["foreign_keys"])
    assert any(name.startswith("audit_auditevent_api_key_id_") for name in parent["foreign_keys"])
    month = catalog(partitions.partition_name(THIS_MONTH))
    assert month["primary_key"] == ["id", "created_at"]
    assert len(month["indexes"]) == len(parent["indexes"])
    assert len(month["foreign_keys"]) == len(parent["foreign_keys"])


@postgresql_only
def test_an_event_of_any_date_is_stored_somewhere(team):
    now = event_at(timezone.now(), team_id=team.pk)
    far_past = event_at(datetime(2001, 1, 1, tzinfo=UTC), team_id=team.pk)
    beyond_the_ahead_window = event_at(day(partitions.MONTHS_AHEAD + 2, 10), team_id=team.pk)
    assert home_of(now) == partitions.partition_name(THIS_MONTH)
    assert home_of(far_past) == partitions.DEFAULT_PARTITION
    assert home_of(beyond_the_ahead_window) == partitions.DEFAULT_PARTITION
    assert AuditEvent.objects.filter(team=team).count() == 3


@postgresql_only
def test_ensure_partitions_creates_the_month_and_moves_its_rows_out_of_default(owner, team):
    later = day(partitions.MONTHS_AHEAD + 2, 10)  # the cron did not run for months
    stranded = event_at(later, team_id=team.pk, actor_id=owner.pk)
    older_stray = event_at(datetime(2001, 1, 1, tzinfo=UTC), team_id=team.pk)
    assert home_of(stranded) == partitions.DEFAULT_PARTITION
    settle_foreign_key_checks()

    with time_machine.travel(later, tick=False):
        created = partitions.ensure_partitions()
        assert partitions.ensure_partitions() == []  # idempotent
    month = partitions.partition_name(partitions.month_start(later))
    assert created[0] == month and len(created) == partitions.MONTHS_AHEAD + 1
    assert home_of(stranded) == month
    assert home_of(older_stray) == partitions.DEFAULT_PARTITION  # not in the window: stays
    assert AuditEvent.objects.get(pk=stranded.pk).actor_id == owner.pk
    attached, parent = catalog(month), catalog("audit_auditevent")
    assert attached["primary_key"] == ["id", "created_at"]
    assert len(attached["indexes"]) == len(parent["indexes"])
    assert len(attached["foreign_keys"]) == len(parent["foreign_keys"])


@postgresql_only
def test_ensure_partitions_puts_back_a_missing_default_partition():
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {partitions.DEFAULT_PARTITION}")
    assert partitions.default_partition() is None
    assert partitions.ensure_partitions() == [partitions.DEFAULT_PARTITION]
    assert partitions.default_partition() == partitions.DEFAULT_PARTITION


@postgresql_only
def test_ensure_partitions_can_create_past_months_for_loading_history():
    since = partitions.add_months(THIS_MONTH, -14)
    created = partitions.ensure_partitions(since=since)
    assert partitions.partition_name(since) in created
    months = {partition.start for partition in partitions.month_partitions()}
    assert {partitions.add_months(since, offset) for offset in range(15)} <= months


@postgresql_only
def test_a_lock_that_is_not_granted_in_time_is_retried_then_given_up(monkeypatch):
    """Partition DDL waits at most LOCK_TIMEOUT for its lock, then tries again after a pause, so a
    long query on the audit table delays the maintenance, not the requests queued behind it."""
    settings = connection.settings_dict
    blocker = psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )
    blocker.execute("SET lock_timeout = '5s'")  # never hang the suite
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "50ms")
    pauses = []
    try:
        # Held until the blocker rolls back; a failed attempt leaves no lock behind in ours.
        blocker.execute(f"SELECT count(*) FROM {partitions.DEFAULT_PARTITION}")
        monkeypatch.setattr(partitions.time, "sleep", pauses.append)
        with time_machine.travel(day(partitions.MONTHS_AHEAD + 2, 1), tick=False), pytest.raises(OperationalError):
            partitions.ensure_partitions()
        assert pauses == [1, 2, 3, 4]  # LOCK_ATTEMPTS tries, then the error

        def pause_then_release(seconds):
            pauses.append(seconds)
            blocker.rollback()

        monkeypatch.setattr(partitions.time, "sleep", pause_then_release)
        with time_machine.travel(day(partitions.MONTHS_AHEAD + 2, 1), tick=False):
            assert partitions.ensure_partitions()
        assert pauses == [1, 2, 3, 4, 1]  # one refusal, then a retry that succeeded
    finally:
        blocker.close()


@postgresql_only
def test_the_migration_reverses_and_reapplies_keeping_every_row(team):
    events = [event_at(day(offset, 5), team_id=team.pk) for offset in (-1, 0)]
    events.append(event_at(datetime(2001, 1, 1, tzinfo=UTC), team_id=team.pk))
    before = catalog("audit_auditevent")
    settle_foreign_key_checks()
    executor = MigrationExecutor(connection)
    executor.migrate([("audit", "0004_session_revoked_action")])  # and whatever came after 0005
    assert not partitions.is_partitioned()
    unpartitioned = catalog("audit_auditevent")
    assert unpartitioned["primary_key"] == ["id"]
    model_indexes = {"audit_key_created_idx", "audit_team_created_idx", "audit_auditevent_pkey"}
    assert model_indexes <= set(unpartitioned["indexes"]) and len(unpartitioned["foreign_keys"]) >= 2
    assert AuditEvent.objects.filter(team=team).count() == 3

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert partitions.is_partitioned()
    assert catalog("audit_auditevent") == before
    # Every month that held rows got its partition back, the rest waits in DEFAULT.
    assert home_of(events[0]) == partitions.partition_name(partitions.add_months(THIS_MONTH, -1))
    assert home_of(events[1]) == partitions.partition_name(THIS_MONTH)
    assert home_of(events[2]) == partitions.partition_name(datetime(2001, 1, 1).date())


# --- retention -------------------------------------------------------------------------------------


@pytest.fixture
def history(team):
    """Events over the last nine months, and the month partitions to hold them."""
    partitions.ensure_partitions(since=partitions.add_months(THIS_MONTH, -8))
    whole_months = [event_at(day(offset, 3), team_id=team.pk) for offset in (-8, -6, -4)]
    straddling_old = [event_at(day(-3, 2), team_id=team.pk), event_at(day(-3, 9), team_id=team.pk)]
    straddling_new = [event_at(day(-3, 20), team_id=team.pk), event_at(day(-3, 27), team_id=team.pk)]
    newer = [event_at(day(-1, 5), team_id=team.pk), event_at(timezone.now() - timedelta(minutes=1), team_id=team.pk)]
    stray = event_at(datetime(2001, 1, 1, tzinfo=UTC), team_id=team.pk)  # in DEFAULT
    settle_foreign_key_checks()
    return {
        "cutoff": day(-3, 15, 0),
        "dropped_months": [partitions.partition_name(partitions.add_months(THIS_MONTH, k)) for k in range(-8, -3)],
        "dropped": whole_months,
        "deleted": [*straddling_old, stray],
        "kept": [*straddling_new, *newer],
    }


def ids(events) -> set:
    return {event.pk for event in events}


@postgresql_only
def test_prune_drops_whole_months_and_deletes_only_the_older_rows_of_the_straddling_month(history):
    report = retention.prune_events(cutoff=history["cutoff"], batch_size=1)
    assert [partition.name for partition in report.partitions_dropped] == history["dropped_months"]
    assert report.rows_deleted == 3 and report.batches == 3  # the straddling month's 2 and the stray
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == ids(history["kept"])
    remaining = [partition.start for partition in partitions.month_partitions()]
    assert remaining[0] == partitions.add_months(THIS_MONTH, -3)


@postgresql_only
def test_prune_dry_run_says_exactly_what_it_would_do_and_does_nothing(history):
    plan = retention.plan_prune(cutoff=history["cutoff"])
    assert [partition.name for partition in plan.partitions_to_drop] == history["dropped_months"]
    assert plan.rows_to_delete == 3
    assert AuditEvent.objects.count() == len(history["dropped"] + history["deleted"] + history["kept"])
    assert len(partitions.month_partitions()) == 9 + partitions.MONTHS_AHEAD


@postgresql_only
def test_prune_audit_reports_partitions_dropped_and_rows_deleted(history, capsys):
    hours = int((timezone.now() - history["cutoff"]).total_seconds() // 3600)
    call_command("prune_audit", "--older-than", f"{hours}h", "--dry-run")
    out = capsys.readouterr().out
    assert "Would drop 5 audit partitions" in out and "Would delete 3 audit events" in out
    call_command("prune_audit", "--older-than", f"{hours}h", "--batch-size", "2")
    out = capsys.readouterr().out
    assert "Dropped 5 audit partitions" in out
    assert "Deleted 3 audit events" in out and "in 2 batches" in out
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == ids(history["kept"])


@sqlite_only
def test_on_sqlite_prune_deletes_rows_and_there_are_no_partitions(history, capsys):
    assert not partitions.is_partitioned() and partitions.month_partitions() == []
    report = retention.prune_events(cutoff=history["cutoff"], batch_size=2)
    assert report.partitions_dropped == [] and report.partitions_created == []
    assert report.rows_deleted == len(history["dropped"] + history["deleted"])
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == ids(history["kept"])
    call_command("audit_partitions")
    assert "not partitioned" in capsys.readouterr().out


# --- reading across months ---------------------------------------------------------------------------


def test_both_listings_page_across_months_newest_first(as_user, owner, team):
    partitions.ensure_partitions(since=partitions.add_months(THIS_MONTH, -2))
    key, _ = make_key(owner, team, ["read"])
    moments = [day(-2, 3), day(-2, 25), day(-1, 14), timezone.now() - timedelta(minutes=5)]
    recorded = [event_at(moment, api_key=key, team_id=team.pk, actor_id=owner.pk) for moment in moments]
    api = as_user(owner, team)
    for url, expected in [
        (f"/api/v1/auth/api-keys/{key.pk}/audit-log", list(AuditEvent.objects.filter(api_key=key))),
        ("/api/v1/audit-log", list(AuditEvent.objects.filter(team=team))),  # the key's creation and the logins too
    ]:
        page = api.get(url, {"page_size": 2}).json()
        seen = [event["id"] for event in page["results"]]
        while page["next"]:
            page = api.get(page["next"]).json()
            seen += [event["id"] for event in page["results"]]
        newest_first = sorted(expected, key=lambda event: (event.created_at, event.pk), reverse=True)
        assert seen == [str(event.pk) for event in newest_first]
        assert {str(event.pk) for event in recorded} <= set(seen)
