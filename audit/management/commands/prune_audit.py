"""Delete audit events older than a retention period, in small batches."""

import re
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.models import AuditEvent

_AGE = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(value: str) -> timedelta:
    match = _AGE.match(value.strip())
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"--older-than takes a positive age such as 90d, 12h or 30m, not {value!r}.")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Delete audit events older than --older-than (default: AUDIT_RETENTION_DAYS), in batches."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default=f"{settings.AUDIT_RETENTION_DAYS}d")
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, older_than, batch_size, dry_run, **options):
        if batch_size <= 0:
            raise CommandError("--batch-size must be positive.")
        cutoff = timezone.now() - parse_age(older_than)
        old = AuditEvent.objects.filter(created_at__lt=cutoff)
        if dry_run:
            self.stdout.write(f"Would delete {old.count()} audit events older than {cutoff:%Y-%m-%d %H:%M:%S} UTC.")
            return
        started, deleted, batches = time.monotonic(), 0, 0
        while True:
            # Each batch is its own short transaction over at most batch_size rows, found
            # through the created_at index, so no long lock is held on the table.
            ids = list(old.order_by("created_at").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            count, _ = AuditEvent.objects.filter(pk__in=ids).delete()
            deleted += count
            batches += 1
        self.stdout.write(
            f"Deleted {deleted} audit events older than {cutoff:%Y-%m-%d %H:%M:%S} UTC "
            f"in {batches} batches ({time.monotonic() - started:.1f}s)."
        )
