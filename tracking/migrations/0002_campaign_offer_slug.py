from django.db import migrations, models


class Migration(migrations.Migration):
    """Campaigns and offers get a slug (the Content API reads them by slug); 0003 fills it for the
    rows that exist, 0004 makes it unique within the team."""

    dependencies = [
        ("tracking", "0001_initial_ghostflow_resources"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="slug",
            field=models.SlugField(blank=True, max_length=120),
        ),
        migrations.AddField(
            model_name="offer",
            name="slug",
            field=models.SlugField(blank=True, max_length=120),
        ),
    ]
