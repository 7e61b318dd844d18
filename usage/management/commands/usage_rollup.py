"""`manage.py usage_rollup`: count the audit log's new requests into usage now (the worker does it
every USAGE_ROLLUP_SECONDS); `--catch-up` repeats until every slice up to now is counted."""

from django.core.management.base import BaseCommand

from usage.models import RollupState
from usage.rollup import MAX_SLICES_PER_RUN, roll_up


class Command(BaseCommand):
    help = "Count the audit log's new requests into usage per key, integration and team, per hour."

    def add_arguments(self, parser):
        parser.add_argument("--catch-up", action="store_true", help="repeat until nothing is left behind")

    def handle(self, *args, catch_up: bool = False, **options):
        total = 0
        while True:
            slices = roll_up()
            total += slices
            if not catch_up or slices < MAX_SLICES_PER_RUN:
                break
        until = RollupState.objects.filter(pk=1).values_list("counted_until", flat=True).first()
        self.stdout.write(f"Counted {total} hour-long slice(s) of the audit log; usage is counted until {until}.")
