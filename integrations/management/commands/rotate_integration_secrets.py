"""Re-encrypt every integration secret under the first SECRETS_ENCRYPTION_KEYS entry."""

from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.services import rotate_secrets


class Command(BaseCommand):
    help = "Re-encrypt integration secrets under the newest SECRETS_ENCRYPTION_KEYS entry (then drop old keys)."

    def handle(self, *args, **options):
        with transaction.atomic():
            count = rotate_secrets()
        self.stdout.write(f"Re-encrypted the secrets of {count} integrations.")
