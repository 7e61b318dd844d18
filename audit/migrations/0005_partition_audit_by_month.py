"""PostgreSQL: turn audit_auditevent into a table partitioned by month of created_at.

The model does not change (Django keeps `id` as the primary key; ids are UUIDv7 and unique), so
there are no state operations and SQLite is left alone. On PostgreSQL the primary key becomes
(id, created_at), because a partitioned table's unique constraints must include the partition
key. Indexes and foreign keys are re-created exactly as they were, by reading their definitions
from the catalog before the swap, so their names stay the ones later migrations expect.

The copy holds an ACCESS EXCLUSIVE lock on the table for its whole duration: on a large
production table, run this migration in a maintenance window.

Hand-written SQL: Django has no operation for partitioned tables. Names are constants or come
from the catalog; partition bounds come from dates computed here (audit.partitions.bound_literal).
tests/test_audit_partitions.py checks the result (partitioned, same indexes and foreign keys,
rows routed) and runs the reverse.
"""

from datetime import date

from django.db import migrations
from django.utils import timezone

from audit import partitions

TABLE = "audit_auditevent"
OLD = "audit_auditevent_rebuild_source"


def _definitions(cursor):
    """The table's primary key name, its other index definitions and its foreign keys, as SQL
    that re-creates them on a table of the same name."""
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
        [TABLE],
    )
    (primary_key,) = cursor.fetchone()
    cursor.execute(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('u', 'x')",
        [TABLE],
    )
    if cursor.fetchone()[0]:
        raise RuntimeError(f"{TABLE} has unique constraints besides its primary key; this migration cannot keep them.")
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY c.relname",
        [TABLE],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [TABLE],
    )
    foreign_keys = cursor.fetchall()
    return primary_key, indexes, foreign_keys


def _rebuild(cursor, *, partitioned: bool):
    """Move the rows into a new table of the same name and shape, partitioned or not."""
    primary_key, indexes, foreign_keys = _definitions(cursor)
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    # Free the index names (they are schema-wide) for the new table; the rows stay readable.
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    cursor.execute(f'ALTER TABLE {OLD} DROP CONSTRAINT "{primary_key}"')

    shape = f"(LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    if partitioned:
        cursor.execute(f"CREATE TABLE {TABLE} {shape} PARTITION BY RANGE (created_at)")
        cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{primary_key}" PRIMARY KEY (id, created_at)')
        # A partition for every month that holds rows, and from this month to MONTHS_AHEAD ahead.
        cursor.execute(f"SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')::date FROM {OLD}")  # noqa: S608
        months = {row[0] for row in cursor.fetchall()}
        current = partitions.month_start(timezone.now())
        months |= {partitions.add_months(current, ahead) for ahead in range(partitions.MONTHS_AHEAD + 1)}
        for month in sorted(months):
            _create_partition(cursor, month)
        cursor.execute(f"CREATE TABLE {partitions.DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT")
    else:
        cursor.execute(f"CREATE TABLE {TABLE} {shape}")
        cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{primary_key}" PRIMARY KEY (id)')

    # Copy first, index after: one sort per index instead of one index update per row.
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")  # noqa: S608
    for _, definition in indexes:
        # Definitions read from a partitioned table say "ON ONLY"; PostgreSQL accepts that on a
        # plain table too, and on a partitioned one a definition read from a plain table
        # recurses into every partition, as wanted.
        cursor.execute(definition)
    for name, definition in foreign_keys:
        cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
    cursor.execute(f"DROP TABLE {OLD}")
    cursor.execute(f"ANALYZE {TABLE}")


def _create_partition(cursor, month: date):
    start, end = partitions.bound_literal(month), partitions.bound_literal(partitions.add_months(month, 1))
    cursor.execute(
        f"CREATE TABLE {partitions.partition_name(month)} PARTITION OF {TABLE} FOR VALUES FROM ({start}) TO ({end})"
    )


def _is_partitioned(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [TABLE])
    return cursor.fetchone() is not None


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite has no partitions; retention deletes rows there.
    with schema_editor.connection.cursor() as cursor:
        if not _is_partitioned(cursor):
            _rebuild(cursor, partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if _is_partitioned(cursor):
            _rebuild(cursor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_session_revoked_action"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
