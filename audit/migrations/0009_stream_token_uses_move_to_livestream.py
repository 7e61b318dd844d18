# StreamTokenUse moved to the livestream app, which took its table over
# (livestream/migrations/0001): removed from audit's state only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0008_stream_token_uses"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="StreamTokenUse")],
            database_operations=[],
        ),
    ]
