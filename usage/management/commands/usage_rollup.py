"""`manage.py usage_rollup`: run the usage rollup now (the worker runs it every
USAGE_ROLLUP_SECONDS); `--catch-up` repeats it until every hour up to now is rolled up."""

from django.core.management.base import BaseCommand

from usage.rollup import MAX_HOURS_PER_RUN, roll_up


class Command(BaseCommand):
    help = "Roll the audit log's requests up into usage per key, integration and team, per hour."

    def add_arguments(self, parser):
        parser.add_argument("--catch-up", action="store_true", help="repeat until no hour is left behind")

    def handle(self, *args, catch_up: bool = False, **options):
        total = 0
        while True:
            hours = roll_up()
            total += hours
            if not catch_up or hours < MAX_HOURS_PER_RUN:
                break
        self.stdout.write(f"Rolled up {total} hour(s).")
