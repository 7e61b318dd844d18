"""Slugs of campaigns and offers (tracking/slugs.py), which the Content API reads them by: made from
the name on creation, unique within the team, kept on rename, given to existing rows by a migration."""

import importlib

import pytest
from django.apps import apps

from tracking.models import Campaign, Offer

from .factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_a_new_campaign_gets_a_slug_from_its_name_unique_within_its_team(team):
    first = Campaign.objects.create(team=team, name="Spring Sale!")
    second = Campaign.objects.create(team=team, name="spring sale")
    third = Campaign.objects.create(team=team, name="Spring  Sale")
    elsewhere = Campaign.objects.create(team=TeamFactory(), name="Spring Sale")
    assert [first.slug, second.slug, third.slug] == ["spring-sale", "spring-sale-2", "spring-sale-3"]
    assert elsewhere.slug == "spring-sale"  # unique per team, not across teams


def test_a_name_without_slug_characters_still_gets_one_and_a_long_name_fits(team):
    assert Campaign.objects.create(team=team, name="!!!").slug == "item"
    long = Campaign.objects.create(team=team, name="x" * 100)
    again = Campaign.objects.create(team=team, name="x" * 100)
    assert again.slug == long.slug + "-2" and len(again.slug) <= Campaign._meta.get_field("slug").max_length


def test_a_rename_keeps_the_slug_so_links_keep_working(team):
    campaign = Campaign.objects.create(team=team, name="Spring")
    campaign.name = "Summer"
    campaign.save()
    campaign.refresh_from_db()
    assert campaign.slug == "spring"


def test_bulk_create_gives_every_row_a_free_slug(team):
    Offer.objects.create(team=team, name="Boots", url="https://b.example.com")
    created = Offer.objects.bulk_create(
        [Offer(team=team, name="Boots", url="https://b.example.com") for _ in range(3)]
        + [Offer(team=TeamFactory(), name="Boots", url="https://b.example.com")]
    )
    assert [offer.slug for offer in created] == ["boots-2", "boots-3", "boots-4", "boots"]


def test_a_slug_taken_between_the_check_and_the_insert_takes_the_next_one(team, monkeypatch):
    """Two creations at once may both see `spring` free: the unique constraint refuses the later
    insert, which then takes the next free slug instead of failing."""
    from tracking import slugs

    Campaign.objects.create(team=team, name="Spring")
    real = slugs.first_free
    calls = []

    def stale_first_try(name, taken):
        calls.append(name)
        return "spring" if len(calls) == 1 else real(name, taken)  # the first look saw `spring` free

    monkeypatch.setattr(slugs, "first_free", stale_first_try)
    assert Campaign.objects.create(team=team, name="Spring").slug == "spring-2"


def test_the_main_api_shows_the_slug_and_does_not_take_one(as_user, owner, team):
    client = as_user(owner, team)
    created = client.post("/api/v1/campaigns", {"name": "Launch", "slug": "chosen"}, format="json").json()
    assert created["slug"] == "launch"
    offer = client.post("/api/v1/offers", {"name": "Boots", "url": "https://b.example.com"}, format="json").json()
    assert offer["slug"] == "boots"


def test_the_migration_gives_existing_rows_the_slugs_new_rows_would_get(team):
    other = TeamFactory()
    Campaign.objects.create(team=team, name="Spring")
    older = Campaign.objects.create(team=team, name="Spring")  # spring-2, blanked below
    unnamed = Campaign.objects.create(team=other, name="Spring")
    offer = Offer.objects.create(team=other, name="Boots", url="https://b.example.com")
    Campaign.objects.filter(pk__in=[older.pk, unnamed.pk]).update(slug="")
    Offer.objects.filter(pk=offer.pk).update(slug="")
    migration = importlib.import_module("tracking.migrations.0003_backfill_slugs")
    migration.backfill(apps, None)
    older.refresh_from_db()
    unnamed.refresh_from_db()
    offer.refresh_from_db()
    assert (older.slug, unnamed.slug, offer.slug) == ("spring-2", "spring", "boots")
