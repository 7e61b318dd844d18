"""Two-step verification in the dashboard, in Chromium: enrol TOTP by reading the secret from the
page and computing the code, sign out, sign in with the password and the code."""

import time

import pyotp
import pytest

from accounts.models import RefreshFamily, TOTPFactor
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_enrol_totp_sign_out_and_sign_in_with_the_code(page, sign_in, ada, acme):
    sign_in(page, "ada")
    page.goto(f"/app/{acme.pk}/account")
    page.locator("#two-step-enable").click()
    secret = page.locator("#two-step-secret").inner_text()
    assert page.locator("#two-step-qr").evaluate("img => img.complete && img.naturalWidth > 0")
    totp = pyotp.TOTP(secret)
    confirm = page.locator("#two-step-confirm")
    confirm.get_by_label("Code from the app").fill(totp.now())
    confirm.get_by_role("button", name="Confirm").click()
    codes = page.locator("#recovery-codes li")
    codes.first.wait_for()
    assert codes.count() == 10
    assert TOTPFactor.objects.get(user=ada).active
    page.locator("#recovery-codes-done").click()
    page.locator("#two-step-status").filter(has_text="10 recovery codes left").wait_for()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login*")
    page.get_by_label("Username or e-mail").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    step = page.locator("#second-factor-form")
    step.wait_for()
    assert RefreshFamily.objects.filter(user=ada, revoked_at__isnull=True).count() == 0
    step.get_by_label("Two-step code").fill(totp.at(time.time() + 30))  # the current step was spent
    step.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/app/**/overview")
    family = RefreshFamily.objects.get(user=ada, revoked_at__isnull=True)
    assert (family.signed_in_with, family.second_factor) == ("password", "totp")
