import re

from django.db import migrations, models

import accounts.models


def rename_usernames_with_at_sign(apps, schema_editor):
    """`victim@example.com` as a *username* shadowed the real owner's e-mail login. Such names
    become `victim_at_example.com` (a numeric suffix if taken); the account keeps its e-mail, its
    password and its id, so its owner can still log in by e-mail."""
    User = apps.get_model("accounts", "User")
    for user in User.objects.filter(username__contains="@").order_by("date_joined"):
        base = re.sub(r"[^\w.+-]", "_", user.username.replace("@", "_at_"))[:140]
        candidate, n = base, 1
        while User.objects.filter(username__iexact=candidate).exclude(pk=user.pk).exists():
            n += 1
            candidate = f"{base}-{n}"
        User.objects.filter(pk=user.pk).update(username=candidate)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_refresh_family_account_claimed_reason"),
    ]

    operations = [
        migrations.RunPython(rename_usernames_with_at_sign, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="username",
            field=models.CharField(
                error_messages={"unique": "A user with that username already exists."},
                help_text="150 characters or fewer: letters, digits and . + - _ (no @).",
                max_length=150,
                unique=True,
                validators=[accounts.models.UsernameValidator()],
                verbose_name="username",
            ),
        ),
    ]
