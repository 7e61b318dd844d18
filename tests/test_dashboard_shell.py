"""The dashboard's HTML shell: every page and every link of our e-mails lands on it; it carries
configuration only, under a strict Content-Security-Policy."""

import json
import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/login",
        "/register",
        "/verify",
        "/forgot-password",
        "/reset-password?email=a%40b.c&token=x",
        "/invitations/accept?token=x",
        "/app",
        "/app/00000000-0000-0000-0000-000000000000/settings/api-keys",
    ],
)
def test_every_dashboard_page_and_mail_link_serves_the_shell(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "no-store"
    assert b'type="module"' in response.content


def _config(response) -> dict:
    return json.loads(re.search(rb'id="gf-config">(.*?)</script>', response.content).group(1))


def test_the_shell_carries_the_scope_catalog_and_no_data(client, owner, team):
    config = _config(client.get("/"))
    assert config["roles"]["viewer"] == sorted(config["roles"]["viewer"], key=list(config["catalog"]).index)
    assert "read:billing" not in config["roles"]["member"] and "admin" in config["roles"]["admin"]
    assert str(team.pk) not in json.dumps(config) and "owner@" not in json.dumps(config)


def test_google_sign_in_is_offered_only_when_configured(client, settings):
    settings.GOOGLE_CLIENT_ID = ""
    assert _config(client.get("/login"))["google_client_id"] is None
    settings.GOOGLE_CLIENT_ID = "1234.apps.googleusercontent.com"
    assert _config(client.get("/login"))["google_client_id"] == "1234.apps.googleusercontent.com"


def test_the_mail_links_point_at_dashboard_pages(client, settings):
    from django.core import mail

    from tests.factories import UserFactory

    UserFactory(email="ada@example.com")
    client.post("/api/v1/auth/forgot-password", {"email": "ada@example.com"}, format="json")
    link = re.search(r"(https?://\S+/reset-password\?\S+)", mail.outbox[-1].body).group(1)
    path = link.removeprefix(settings.SITE_URL)
    assert client.get(path).status_code == 200
