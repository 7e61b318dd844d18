"""Create the audit table's missing month partitions and list them (PostgreSQL)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from audit import partitions


def parse_month(value: str) -> date:
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1)
    except ValueError as exc:
        raise CommandError(f"--since takes a month such as 2026-01, not {value!r}.") from exc


class Command(BaseCommand):
    help = (
        "Create the audit month partitions from --since (default: this month) to --months-ahead months after "
        "this one, moving rows that had landed in the DEFAULT partition; then list the partitions. "
        "prune_audit does the same daily; this is for deploys and for loading history."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=partitions.MONTHS_AHEAD)
        parser.add_argument("--since", type=parse_month, default=None, help="YYYY-MM")
        parser.add_argument("--list", dest="list_only", action="store_true", help="Only list; create nothing.")

    def handle(self, *args, months_ahead, since, list_only, **options):
        if months_ahead < 0:
            raise CommandError("--months-ahead must be 0 or more.")
        if not partitions.is_partitioned():
            self.stdout.write("The audit table is not partitioned (not PostgreSQL): nothing to do.")
            return
        if not list_only:
            created = partitions.ensure_partitions(since=since, months_ahead=months_ahead)
            self.stdout.write(f"Created {len(created)} audit partitions{': ' if created else ''}{', '.join(created)}.")
        for partition in partitions.month_partitions():
            rows = "?" if partition.estimated_rows is None else f"~{partition.estimated_rows}"
            self.stdout.write(f"{partition.name}  {partition.start:%Y-%m}  {rows} rows")
        self.stdout.write(f"{partitions.default_partition() or '(no DEFAULT partition)'}  DEFAULT")
