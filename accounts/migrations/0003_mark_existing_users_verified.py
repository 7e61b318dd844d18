from django.db import migrations
from django.db.models.functions import Now


def mark_verified(apps, schema_editor):
    # Accounts that existed before e-mail verification could log in; keep it that way.
    User = apps.get_model("accounts", "User")
    User.objects.filter(email_verified_at__isnull=True).update(email_verified_at=Now())


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_email_verification_google_link_and_one_time_codes")]

    operations = [migrations.RunPython(mark_verified, migrations.RunPython.noop)]
