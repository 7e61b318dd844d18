"""Audit retention: remove the events older than a cutoff.

On PostgreSQL, where the table is partitioned by month (audit.partitions), every month that ends
on or before the cutoff is dropped whole: a catalog change whatever its size, no dead rows, no
vacuum debt. What is left older than the cutoff (the first days of the month straddling it, and
any stray rows in DEFAULT) is deleted row by row in short batches, as on SQLite, where the whole
job is the batched delete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connections

from . import partitions
from .models import AuditEvent


@dataclass(frozen=True)
class PrunePlan:
    cutoff: datetime
    partitions_to_drop: list[partitions.MonthPartition]
    rows_to_delete: int  # exact: the rows older than the cutoff outside those partitions
    partitions_to_create: list[str]


@dataclass
class PruneReport:
    cutoff: datetime
    partitions_created: list[str] = field(default_factory=list)
    partitions_dropped: list[partitions.MonthPartition] = field(default_factory=list)
    drop_seconds: float = 0.0
    rows_deleted: int = 0
    batches: int = 0
    delete_seconds: float = 0.0

    @property
    def estimated_rows_dropped(self) -> int | None:
        estimates = [partition.estimated_rows for partition in self.partitions_dropped]
        return None if None in estimates else sum(estimates)


def plan_prune(*, cutoff: datetime, using: str = "default") -> PrunePlan:
    """What prune_events would do, changing nothing (for --dry-run)."""
    doomed = _partitions_before(cutoff=cutoff, using=using)
    missing = partitions.missing_months(using=using)
    return PrunePlan(
        cutoff=cutoff,
        partitions_to_drop=doomed,
        rows_to_delete=_count_left_before(cutoff=cutoff, doomed=doomed, using=using),
        partitions_to_create=[partitions.partition_name(month) for month in missing],
    )


def prune_events(*, cutoff: datetime, batch_size: int, using: str = "default") -> PruneReport:
    """Remove every audit event created before `cutoff`, irrevocably.

    Also tops up the month partitions ahead (the daily cron that prunes is what keeps them
    ahead). Each dropped partition and each batch of deleted rows is its own short transaction.
    """
    report = PruneReport(cutoff=cutoff)
    report.partitions_created = partitions.ensure_partitions(using=using)
    started = time.monotonic()
    for partition in _partitions_before(cutoff=cutoff, using=using):
        partitions.drop_partition(partition=partition, using=using)
        report.partitions_dropped.append(partition)
    report.drop_seconds = time.monotonic() - started

    started = time.monotonic()
    old = _every_team(using).filter(created_at__lt=cutoff)
    while True:
        # Each batch is its own short transaction over at most batch_size rows, so no long lock is
        # held on the table. Taken in primary-key order: on PostgreSQL the key is (id, created_at),
        # so the batch comes from the key's index alone, created_at checked in the index; the
        # created_at bound lets PostgreSQL look only in the partitions that can hold such rows.
        ids = list(old.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        count, _ = old.filter(pk__in=ids).delete()
        report.rows_deleted += count
        report.batches += 1
    report.delete_seconds = time.monotonic() - started
    return report


def _every_team(using: str):
    return AuditEvent.objects.using(using).across_teams(reason="retention: the whole log ages out")


def _partitions_before(*, cutoff: datetime, using: str) -> list[partitions.MonthPartition]:
    """Month partitions whose every row is older than the cutoff (the month ends on or before it)."""
    return [partition for partition in partitions.month_partitions(using=using) if partition.end_at <= cutoff]


def _count_left_before(*, cutoff: datetime, doomed: list[partitions.MonthPartition], using: str) -> int:
    """The rows older than the cutoff that dropping `doomed` leaves behind, counted exactly."""
    if not partitions.is_partitioned(using=using):
        return _every_team(using).filter(created_at__lt=cutoff).count()
    doomed_names = {partition.name for partition in doomed}
    tables = [
        partition.name
        for partition in partitions.month_partitions(using=using)
        if partition.start_at < cutoff and partition.name not in doomed_names
    ]
    default = partitions.default_partition(using=using)
    if default is not None:
        tables.append(default)
    connection = connections[using]
    total = 0
    with connection.cursor() as cursor:
        for table in tables:
            # Counted partition by partition, by name: a count over the parent that excludes the
            # doomed months cannot be pruned by the planner and would read every doomed row.
            # The names come from the catalog (audit.partitions), the cutoff is a parameter.
            cursor.execute(
                f"SELECT count(*) FROM {connection.ops.quote_name(table)} WHERE created_at < %s",  # noqa: S608
                [cutoff],
            )
            total += cursor.fetchone()[0]
    return total
