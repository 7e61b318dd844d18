# StreamTokenUse moved from audit to livestream: the table is taken over as it is (state only), then
# renamed after its new app.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("audit", "0008_stream_token_uses"),
        ("teams", "0002_team_invitations"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="StreamTokenUse",
                    fields=[
                        ("jti", models.UUIDField(primary_key=True, serialize=False)),
                        ("held_by", models.UUIDField(blank=True, null=True)),
                        ("held_until", models.DateTimeField()),
                        ("reopen_until", models.DateTimeField(db_index=True)),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="teams.team"
                            ),
                        ),
                    ],
                    options={"db_table": "audit_streamtokenuse"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="streamtokenuse", table=None),
    ]
