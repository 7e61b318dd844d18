"""Remove audit events older than a retention period: whole monthly partitions on PostgreSQL, then
the rest in small batches (audit.retention)."""

import re
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit import retention

_AGE = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(value: str) -> timedelta:
    match = _AGE.match(value.strip())
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"--older-than takes a positive age such as 90d, 12h or 30m, not {value!r}.")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _rows(estimate: int | None) -> str:
    return "an unknown number of" if estimate is None else f"about {estimate}"


class Command(BaseCommand):
    help = (
        "Remove audit events older than --older-than (default: AUDIT_RETENTION_DAYS): on PostgreSQL whole "
        "monthly partitions are dropped, the rest is deleted in batches. Also creates the month partitions ahead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default=f"{settings.AUDIT_RETENTION_DAYS}d")
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, older_than, batch_size, dry_run, **options):
        if batch_size <= 0:
            raise CommandError("--batch-size must be positive.")
        cutoff = timezone.now() - parse_age(older_than)
        when = f"{cutoff:%Y-%m-%d %H:%M:%S} UTC"
        if dry_run:
            plan = retention.plan_prune(cutoff=cutoff)
            if plan.partitions_to_create:
                self.stdout.write(f"Would create audit partitions: {', '.join(plan.partitions_to_create)}.")
            if plan.partitions_to_drop:
                names = ", ".join(partition.name for partition in plan.partitions_to_drop)
                estimate = sum(partition.estimated_rows or 0 for partition in plan.partitions_to_drop)
                self.stdout.write(
                    f"Would drop {len(plan.partitions_to_drop)} audit partitions ({names}; about {estimate} events)."
                )
            self.stdout.write(f"Would delete {plan.rows_to_delete} audit events older than {when}.")
            return
        report = retention.prune_events(cutoff=cutoff, batch_size=batch_size)
        if report.partitions_created:
            self.stdout.write(f"Created audit partitions: {', '.join(report.partitions_created)}.")
        if report.partitions_dropped:
            names = ", ".join(partition.name for partition in report.partitions_dropped)
            self.stdout.write(
                f"Dropped {len(report.partitions_dropped)} audit partitions ({names}; "
                f"{_rows(report.estimated_rows_dropped)} events) in {report.drop_seconds:.2f}s."
            )
        self.stdout.write(
            f"Deleted {report.rows_deleted} audit events older than {when} "
            f"in {report.batches} batches ({report.delete_seconds:.1f}s)."
        )
