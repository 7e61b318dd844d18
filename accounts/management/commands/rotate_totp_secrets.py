"""Re-encrypt every TOTP secret under the first SECRETS_ENCRYPTION_KEYS entry."""

from django.core.management.base import BaseCommand

from accounts.mfa import rotate_totp_secrets


class Command(BaseCommand):
    help = "Re-encrypt TOTP secrets under the newest SECRETS_ENCRYPTION_KEYS entry (then drop old keys)."

    def handle(self, *args, **options):
        count = rotate_totp_secrets()
        self.stdout.write(f"Re-encrypted the TOTP secrets of {count} accounts.")
