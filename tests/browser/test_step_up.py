"""Step-up in the dashboard: an act refused with 403 `reauthentication_required` asks for the
password in a dialog, re-authenticates and sends the act again, once."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import RefreshFamily
from apikeys.models import APIKey
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_creating_a_key_after_the_window_asks_for_the_password_then_creates_it(page, sign_in, ada, acme):
    sign_in(page, "ada")
    # Time passes: this browser's session signed in longer ago than REAUTH_SECONDS.
    RefreshFamily.objects.filter(user=ada).update(
        authenticated_at=timezone.now() - timedelta(seconds=settings.REAUTH_SECONDS + 1)
    )
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("button", name="New API key").click()
    page.get_by_label("Name").fill("After step-up")
    page.locator("input[value='read:campaigns']").check()
    page.get_by_role("button", name="Create key").click()

    confirm = page.get_by_role("dialog", name="Confirm it is you")
    confirm.wait_for()
    confirm.get_by_label("Password").fill("not-the-password")
    confirm.get_by_role("button", name="Confirm").click()
    confirm.get_by_text("The password is wrong.").wait_for()
    assert not APIKey.objects.exists()

    confirm.get_by_label("Password").fill(PASSWORD)
    confirm.get_by_role("button", name="Confirm").click()
    raw = page.get_by_label("API key", exact=True).input_value()
    assert raw.startswith("gf_")
    assert list(APIKey.objects.values_list("name", flat=True)) == ["After step-up"]
    assert confirm.count() == 0
    family = RefreshFamily.objects.get(user=ada)
    assert family.authenticated_at > timezone.now() - timedelta(seconds=60)


def test_cancelling_the_question_leaves_the_act_refused(page, sign_in, ada, acme):
    sign_in(page, "ada")
    RefreshFamily.objects.filter(user=ada).update(
        authenticated_at=timezone.now() - timedelta(seconds=settings.REAUTH_SECONDS + 1)
    )
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("button", name="New API key").click()
    page.get_by_label("Name").fill("Never")
    page.locator("input[value='read:campaigns']").check()
    page.get_by_role("button", name="Create key").click()
    confirm = page.get_by_role("dialog", name="Confirm it is you")
    confirm.get_by_role("button", name="Cancel").click()
    page.get_by_role("dialog", name="New API key").get_by_text("Confirm it is you: re-authenticate").wait_for()
    assert not APIKey.objects.exists()


def test_with_two_step_verification_the_question_takes_a_code_from_the_app(page, sign_in, ada, acme):
    import time

    import pyotp

    from tests.factories import enrol_totp

    sign_in(page, "ada")
    secret, _ = enrol_totp(ada)  # turned on after this session signed in: it stays signed in
    RefreshFamily.objects.filter(user=ada).update(
        authenticated_at=timezone.now() - timedelta(seconds=settings.REAUTH_SECONDS + 1)
    )
    page.goto(f"/app/{acme.pk}/settings/api-keys")
    page.get_by_role("button", name="New API key").click()
    page.get_by_label("Name").fill("After a code")
    page.locator("input[value='read:campaigns']").check()
    page.get_by_role("button", name="Create key").click()
    confirm = page.get_by_role("dialog", name="Confirm it is you")
    confirm.get_by_label("Two-step code").fill(pyotp.TOTP(secret).at(time.time() + 30))  # the current step is spent
    confirm.get_by_role("button", name="Use the code").click()
    assert page.get_by_label("API key", exact=True).input_value().startswith("gf_")
    assert list(APIKey.objects.values_list("name", flat=True)) == ["After a code"]
