from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0003_backfill_slugs"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="campaign",
            constraint=models.UniqueConstraint(fields=("team", "slug"), name="tracking_campaign_team_slug_unique"),
        ),
        migrations.AddConstraint(
            model_name="offer",
            constraint=models.UniqueConstraint(fields=("team", "slug"), name="tracking_offer_team_slug_unique"),
        ),
    ]
