"""A migration that changes what a prepared statement returns, under load (#23.14): never a 500.

PostgreSQL only (SQLite has no server-side prepared statements). The table is changed from a
second connection while the request's connection holds prepared plans for it, as a migration
run by a deploy changes it under running app servers."""

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection

from audit.models import Action, AuditEvent
from tracking.models import Campaign

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements"),
    pytest.mark.skipif(
        not django_settings.DATABASE_PREPARED_STATEMENTS, reason="prepared statements are off (DATABASE_POOLER)"
    ),
]


def _migrate(sql: str) -> None:
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        other.execute(sql)


@pytest.fixture
def widened_under_load():
    """Widens campaign names (varchar(n) -> text) when called; narrows them back afterwards."""
    yield lambda: _migrate("ALTER TABLE tracking_campaign ALTER COLUMN name TYPE text")
    _migrate(
        f"ALTER TABLE tracking_campaign ALTER COLUMN name TYPE {Campaign._meta.get_field('name').db_type(connection)}"
    )


def _warm(client, path: str) -> None:
    for _ in range(4):  # past psycopg's prepare_threshold: the page's SELECTs are prepared now
        assert client.get(path).status_code == 200


def test_a_read_after_a_column_changed_type_is_replanned_and_answered(as_key, key_for, owner, team, widened_under_load):
    campaign = Campaign.objects.create(team=team, name="Spring")
    _, raw = key_for(owner, team, permissions=["read:campaigns", "write:campaigns"])
    client = as_key(raw, team)
    _warm(client, "/api/v1/campaigns")
    _warm(client, f"/api/v1/campaigns/{campaign.pk}")
    widened_under_load()
    assert client.get("/api/v1/campaigns").json()["results"][0]["name"] == "Spring"
    assert client.get(f"/api/v1/campaigns/{campaign.pk}").status_code == 200


def test_a_write_after_a_column_changed_type_is_a_503_then_succeeds(as_key, key_for, owner, team, widened_under_load):
    campaign = Campaign.objects.create(team=team, name="Spring")
    _, raw = key_for(owner, team, permissions=["read:campaigns", "write:campaigns"])
    client = as_key(raw, team)
    path = f"/api/v1/campaigns/{campaign.pk}"
    for name in ("a", "b", "c", "d"):  # the PATCH's SELECT and UPDATE are prepared
        assert client.patch(path, {"name": name}, format="json").status_code == 200
    widened_under_load()
    refused = client.patch(path, {"name": "Summer"}, format="json")
    assert refused.status_code == 503, refused.content
    assert refused.json()["code"] == "service_unavailable"
    assert int(refused["Retry-After"]) > 0
    assert Campaign.objects.get().name == "d"  # nothing written
    assert AuditEvent.objects.filter(action=Action.API_REQUEST, status_code=503).count() == 1
    assert client.patch(path, {"name": "Summer"}, format="json").status_code == 200
    assert Campaign.objects.get().name == "Summer"
