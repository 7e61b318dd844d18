"""Run the API keys' periodic work now (the worker also runs it every hour): expiry reminders,
and disabling the keys a team's policy says are unused for too long (apikeys.maintenance)."""

from django.core.management.base import BaseCommand

from apikeys import maintenance


class Command(BaseCommand):
    help = "Send due API-key expiry reminders and disable unused keys where a team's policy says so."

    def handle(self, *args, **options):
        reminders = maintenance.send_expiry_reminders()
        disabled = maintenance.disable_unused_keys()
        self.stdout.write(f"{reminders} expiry reminder(s) queued, {disabled} unused key(s) disabled.")
