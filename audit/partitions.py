"""Monthly range partitions of the audit table on PostgreSQL.

Migration 0005 turns `audit_auditevent` into a table partitioned by `created_at`, one partition
per calendar month (UTC) named `audit_auditevent_yYYYYmMM`, plus a DEFAULT partition. Retention
then drops whole months instead of deleting millions of rows (audit.retention), and each month's
indexes stay the size of one month.

An insert must never fail for lack of a partition, so there are two layers:

- partitions exist for the current month and MONTHS_AHEAD months after it. `ensure_partitions()`
  tops them up; `prune_audit` (daily cron) and `manage.py audit_partitions` call it. Month
  rollover therefore needs no DDL at midnight: the next month's partition was made weeks before.
- the DEFAULT partition takes any row no month partition covers (a hand-set `created_at`, or the
  cron stopped for more than MONTHS_AHEAD months). When a month's partition is created later, its
  rows are moved out of DEFAULT into it, in the same transaction.

SQLite has no partitions: every function here is a no-op there (`is_partitioned` is False).

Locking, measured on PostgreSQL 15 (see the tests and bench/scale.py):
- creating a month attaches a new table (`ATTACH PARTITION`, SHARE UPDATE EXCLUSIVE on the
  parent) instead of `CREATE TABLE ... PARTITION OF` (ACCESS EXCLUSIVE): inserts into the current
  month keep flowing; only statements touching DEFAULT wait for it.
- a partition is dropped with `DROP TABLE`, not `DETACH PARTITION` + `DROP`: detaching turns the
  partition's foreign keys into standalone ones, which takes an exclusive lock on the referenced
  users and API-key tables and would stall every key authentication. (`DETACH ... CONCURRENTLY`
  is refused while a DEFAULT partition exists.) `DROP TABLE` locks the audit table only.
- every DDL statement runs under a short `lock_timeout` and is retried a few times, so a long
  query on the audit table delays the maintenance, never the requests queued behind it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import OperationalError, connections, transaction
from django.utils import timezone

TABLE = "audit_auditevent"
DEFAULT_PARTITION = f"{TABLE}_default"
MONTHS_AHEAD = 3
_NAME = re.compile(rf"^{TABLE}_y(\d{{4}})m(\d{{2}})$")

# How long one DDL statement may wait for its lock before giving up (and being retried): bounds
# how long the requests queued behind it can be held up.
LOCK_TIMEOUT = "2s"
LOCK_ATTEMPTS = 5
_LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class MonthPartition:
    name: str
    start: date  # first day of the month, inclusive
    end: date  # first day of the next month, exclusive
    estimated_rows: int | None  # from the planner's statistics; None before the first ANALYZE

    @property
    def start_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, 1, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        return datetime(self.end.year, self.end.month, 1, tzinfo=UTC)


def month_start(moment: datetime | date) -> date:
    """The first day of the UTC month holding `moment`."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def bound_literal(month: date) -> str:
    """A partition bound as an SQL literal. DDL takes no bind parameters, so bounds are written
    into the statement; they only ever come from a `date` we computed, never from input."""
    return f"'{month.isoformat()} 00:00:00+00'"


def is_partitioned(*, using: str = "default") -> bool:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE])
        return cursor.fetchone() is not None


def month_partitions(*, using: str = "default") -> list[MonthPartition]:
    """The month partitions of the audit table, oldest first (DEFAULT excluded)."""
    if not is_partitioned(using=using):
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reltuples FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [TABLE],
        )
        rows = cursor.fetchall()
    partitions = []
    for name, reltuples in rows:
        match = _NAME.match(name)
        if match is None:  # DEFAULT, or a table someone attached by hand: never dropped by us
            continue
        start = date(int(match.group(1)), int(match.group(2)), 1)
        estimate = int(reltuples) if reltuples >= 0 else None
        partitions.append(MonthPartition(name=name, start=start, end=add_months(start, 1), estimated_rows=estimate))
    return sorted(partitions, key=lambda partition: partition.start)


def default_partition(*, using: str = "default") -> str | None:
    """The name of the audit table's DEFAULT partition, or None if it has none."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT d.relname FROM pg_partitioned_table p JOIN pg_class d ON d.oid = p.partdefid "
            "WHERE p.partrelid = to_regclass(%s)",
            [TABLE],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def missing_months(
    *, since: date | None = None, months_ahead: int = MONTHS_AHEAD, using: str = "default"
) -> list[date]:
    """The months from `since` (default: the current month) to MONTHS_AHEAD after the current one
    that have no partition yet."""
    if not is_partitioned(using=using):
        return []
    current = month_start(timezone.now())
    month = month_start(since) if since is not None else current
    last = add_months(current, months_ahead)
    existing = {partition.start for partition in month_partitions(using=using)}
    missing = []
    while month <= last:
        if month not in existing:
            missing.append(month)
        month = add_months(month, 1)
    return missing


def ensure_partitions(
    *, since: date | None = None, months_ahead: int = MONTHS_AHEAD, using: str = "default"
) -> list[str]:
    """Create every missing month partition from `since` (default: the current month) through
    `months_ahead` months after the current one, and the DEFAULT partition if it is gone. Rows of
    a new month that had landed in DEFAULT move into it. Returns the names created. Idempotent;
    a no-op on SQLite."""
    if not is_partitioned(using=using):
        return []
    created = []
    if default_partition(using=using) is None:
        _with_lock_retries(
            using, f"CREATE TABLE {_quote(using, DEFAULT_PARTITION)} PARTITION OF {_quote(using, TABLE)} DEFAULT"
        )
        created.append(DEFAULT_PARTITION)
    for month in missing_months(since=since, months_ahead=months_ahead, using=using):
        _with_lock_retries(using, *_create_month_statements(month, using=using))
        created.append(partition_name(month))
    return created


def _create_month_statements(month: date, *, using: str) -> list[str]:
    """Create the month's table apart, move the month's rows out of DEFAULT into it, then attach
    it. A plain `CREATE TABLE ... PARTITION OF` would fail if DEFAULT held rows of that month, and
    would take an ACCESS EXCLUSIVE lock on the whole audit table; ATTACH does not (see the module
    docstring). ATTACH also builds the partition's indexes and foreign keys from the parent's."""
    table = _quote(using, TABLE)
    name = _quote(using, partition_name(month))
    default = _quote(using, default_partition(using=using) or DEFAULT_PARTITION)
    start, end = bound_literal(month), bound_literal(add_months(month, 1))
    columns = ", ".join(_quote(using, column) for column in _columns(using))
    return [
        # Nothing may be routed into DEFAULT between the move and the ATTACH (which checks that
        # DEFAULT holds no row of the month): inserts of other months are not affected.
        f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE",
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
        # Bounds and names are ours (see bound_literal), never input.
        f"WITH moved AS (DELETE FROM {default} WHERE created_at >= {start} AND created_at < {end} "  # noqa: S608
        f"RETURNING {columns}) INSERT INTO {name} ({columns}) SELECT {columns} FROM moved",
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({start}) TO ({end})",
    ]


def _columns(using: str) -> list[str]:
    """The audit table's columns, as the database has them (named, so that moving rows between
    tables never depends on column order)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum",
            [TABLE],
        )
        return [row[0] for row in cursor.fetchall()]


def drop_partition(*, partition: MonthPartition, using: str = "default") -> None:
    """Drop one month partition and every event in it, irrevocably (the retention policy's
    business: audit.retention decides which). `DROP TABLE`, not DETACH: see the module docstring."""
    _with_lock_retries(using, f"DROP TABLE {_quote(using, partition.name)}")


def _with_lock_retries(using: str, *statements: str) -> None:
    """Run `statements` in one transaction under LOCK_TIMEOUT, retrying when a lock is not
    granted in time (a long query on the audit table); any other error is raised at once."""
    connection = connections[using]
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            with transaction.atomic(using=using), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                for statement in statements:
                    cursor.execute(statement)
            return
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != _LOCK_NOT_AVAILABLE or attempt == LOCK_ATTEMPTS:
                raise
            time.sleep(attempt)


def _quote(using: str, name: str) -> str:
    return connections[using].ops.quote_name(name)
