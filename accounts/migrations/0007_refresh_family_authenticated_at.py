from django.db import migrations, models
from django.db.models import F


def logins_were_authenticated_when_made(apps, schema_editor):
    # A login made before this field existed proved who it was when it was made.
    RefreshFamily = apps.get_model("accounts", "RefreshFamily")
    RefreshFamily.objects.filter(authenticated_at__isnull=True).update(authenticated_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_refresh_family_client_and_user_revoked_reason"),
    ]

    operations = [
        migrations.AddField(
            model_name="refreshfamily",
            name="authenticated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(logins_were_authenticated_when_made, migrations.RunPython.noop),
    ]
