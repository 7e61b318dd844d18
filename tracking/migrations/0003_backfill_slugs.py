from django.db import migrations


def backfill(apps, schema_editor):
    """Every existing campaign and offer gets the slug it would get if created now (oldest first,
    so the oldest of two same-named rows keeps the plain slug)."""
    from tracking import slugs

    for model_name in ("Campaign", "Offer"):
        model = apps.get_model("tracking", model_name)
        rows = list(model.objects.filter(slug="").order_by("created_at", "id").only("id", "team_id", "name", "slug"))
        slugs.fill(rows, lambda team_id, model=model: set(model.objects.filter(team_id=team_id).exclude(slug="").values_list("slug", flat=True)))
        for row in rows:
            model.objects.filter(pk=row.pk).update(slug=row.slug)


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0002_campaign_offer_slug"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
