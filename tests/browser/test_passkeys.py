"""Passkeys in the dashboard, in Chromium with a virtual authenticator (Chrome DevTools Protocol
WebAuthn.addVirtualAuthenticator, through Playwright): register a passkey on the account page,
sign out, sign in with the passkey alone; a password sign-in then waits for the passkey; step-up
with the passkey. At a desktop and a phone width."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import Passkey, RefreshFamily
from apikeys.models import APIKey
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def passkey_site(settings, live_server):
    # The live server's own origin; the relying party id is its host name (never an IP address).
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = [live_server.url.replace("127.0.0.1", "localhost")]
    return settings.WEBAUTHN_ORIGINS[0]


def with_authenticator(page):
    """A platform authenticator that holds discoverable credentials and verifies its user (as a
    phone's or laptop's screen lock does), answering every prompt at once."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def sign_in_with_password(page):
    page.goto("/login")
    page.get_by_label("Username or e-mail").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("width", WIDTHS, ids=list(WIDTHS))
def test_register_a_passkey_sign_out_and_sign_in_with_it_alone(new_context, passkey_site, ada, acme, width):
    page = new_context(base_url=passkey_site, viewport=WIDTHS[width]).new_page()
    cdp, authenticator = with_authenticator(page)
    sign_in_with_password(page)
    page.wait_for_url("**/app/**/overview")
    page.goto(f"/app/{acme.pk}/account")
    form = page.locator("#passkey-add")
    form.get_by_label("Name").fill("Test laptop")
    form.get_by_role("button", name="Add a passkey").click()
    codes = page.locator("#recovery-codes li")
    codes.first.wait_for()
    assert codes.count() == 10  # the first second factor: recovery codes, once
    page.locator("#recovery-codes-done").click()
    page.locator("#passkey-list").get_by_text("Test laptop").wait_for()
    stored = Passkey.objects.get(user=ada)
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(credentials) == 1 and credentials[0]["isResidentCredential"]

    if width == "phone":
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login*")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url("**/app/**/overview")
    family = RefreshFamily.objects.get(user=ada, revoked_at__isnull=True)
    assert (family.signed_in_with, family.second_factor) == ("passkey", "passkey")
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_a_password_sign_in_waits_for_the_passkey(new_context, passkey_site, ada, acme):
    page = new_context(base_url=passkey_site).new_page()
    with_authenticator(page)
    sign_in_with_password(page)
    page.wait_for_url("**/app/**/overview")
    page.goto(f"/app/{acme.pk}/account")
    page.locator("#passkey-add").get_by_role("button", name="Add a passkey").click()
    page.locator("#recovery-codes-done").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login*")

    sign_in_with_password(page)
    page.locator("#second-factor-form").wait_for()
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url("**/app/**/overview")
    family = RefreshFamily.objects.get(user=ada, revoked_at__isnull=True)
    assert (family.signed_in_with, family.second_factor) == ("password", "passkey")


def test_step_up_with_the_passkey_then_the_act_goes_through(new_context, passkey_site, ada, acme):
    page = new_context(base_url=passkey_site).new_page()
    with_authenticator(page)
    sign_in_with_password(page)
    page.wait_for_url("**/app/**/overview")
    page.goto(f"/app/{acme.pk}/account")
    page.locator("#passkey-add").get_by_role("button", name="Add a passkey").click()
    page.locator("#recovery-codes-done").click()
    RefreshFamily.objects.filter(user=ada).update(
        authenticated_at=timezone.now() - timedelta(seconds=settings.REAUTH_SECONDS + 1)
    )
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("button", name="New API key").click()
    page.get_by_label("Name").fill("After a passkey step-up")
    page.locator("input[value='read:campaigns']").check()
    page.get_by_role("button", name="Create key").click()
    confirm = page.get_by_role("dialog", name="Confirm it is you")
    confirm.get_by_role("button", name="Use a passkey").click()
    assert page.get_by_label("API key", exact=True).input_value().startswith("gf_")
    assert list(APIKey.objects.values_list("name", flat=True)) == ["After a passkey step-up"]


def test_change_the_email_address_with_the_mailed_code(page, sign_in, ada, acme):
    import re

    from django.core import mail

    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/account")
    form = page.locator("#email-change")
    form.get_by_label("New e-mail address").fill("ada@new.example")
    form.get_by_role("button", name="Send a code").click()
    confirm = page.locator("#email-change-confirm")
    confirm.wait_for()
    code = re.search(r"\b(\d{6})\b", [m for m in mail.outbox if m.to == ["ada@new.example"]][-1].body).group(1)
    confirm.get_by_label("Code from the mail").fill(code)
    confirm.get_by_role("button", name="Confirm").click()
    page.get_by_text("ada@new.example (verified)").wait_for()
    ada.refresh_from_db()
    assert ada.email == "ada@new.example"
