"""Changing the e-mail address (accounts/email_change.py): step-up first, a code mailed to the new
address, the old address told; no probing of which addresses have accounts."""

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import OneTimeCode, User
from audit.models import Action, AuditEvent

from .factories import UserFactory, access_token
from .test_step_up import stale_session

pytestmark = pytest.mark.django_db

B = "/api/v1/"


@pytest.fixture
def ada():
    return UserFactory(username="ada", email="ada@example.com")


def api_for(user, token=None):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token or access_token(user)}")
    return client


def mailed_code(to):
    message = [m for m in mail.outbox if m.to == [to]][-1]
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def test_a_code_to_the_new_address_changes_it_and_the_old_address_is_told(ada):
    api = api_for(ada)
    asked = api.post(B + "me/email", {"email": "ada@new.example"}, format="json")
    assert asked.status_code == 202
    assert User.objects.get(pk=ada.pk).email == "ada@example.com"  # nothing yet
    code = mailed_code("ada@new.example")
    done = api.post(B + "me/email/confirm", {"code": code}, format="json")
    assert done.status_code == 200 and done.json() == {"email": "ada@new.example"}
    ada.refresh_from_db()
    assert ada.email == "ada@new.example" and ada.email_verified
    told = [m for m in mail.outbox if m.to == ["ada@example.com"]][-1]
    assert "ada@new.example" in told.body and code not in told.body
    actions = list(AuditEvent.objects.filter(actor_id=ada.pk).values_list("action", flat=True))
    assert Action.EMAIL_CHANGE_REQUESTED in actions and Action.EMAIL_CHANGED in actions
    assert not any("ada@" in str(data) for data in AuditEvent.objects.values_list("data", flat=True))
    again = api.post(B + "me/email/confirm", {"code": code}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "code_invalid"


def test_another_accounts_address_answers_alike_and_only_its_owner_is_told(ada):
    UserFactory(username="bob", email="bob@example.com")
    api = api_for(ada)
    taken = api.post(B + "me/email", {"email": "BOB@example.com"}, format="json")
    free = api.post(B + "me/email", {"email": "free@example.com"}, format="json")
    assert taken.status_code == free.status_code == 202 and taken.json() == free.json()
    to_bob = [m for m in mail.outbox if m.to == ["BOB@example.com"]]
    assert len(to_bob) == 1 and not re.search(r"\b\d{6}\b", to_bob[0].body)
    assert not OneTimeCode.objects.filter(new_email__iexact="bob@example.com").exists()


def test_changing_the_address_needs_a_recent_authentication(ada):
    pair = stale_session(ada)
    response = api_for(ada, pair.access_token).post(B + "me/email", {"email": "x@example.com"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "reauthentication_required"
    assert not mail.outbox


def test_wrong_codes_burn_the_code_after_five_tries(ada):
    api = api_for(ada)
    api.post(B + "me/email", {"email": "ada@new.example"}, format="json")
    code = mailed_code("ada@new.example")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert api.post(B + "me/email/confirm", {"code": wrong}, format="json").status_code == 400
    assert api.post(B + "me/email/confirm", {"code": code}, format="json").status_code == 400
    assert User.objects.get(pk=ada.pk).email == "ada@example.com"


def test_someone_elses_code_changes_nothing_of_mine(ada):
    mallory = UserFactory(username="mallory", email="mallory@example.com")
    api_for(ada).post(B + "me/email", {"email": "ada@new.example"}, format="json")
    code = mailed_code("ada@new.example")
    response = api_for(mallory).post(B + "me/email/confirm", {"code": code}, format="json")
    assert response.status_code == 400
    assert User.objects.get(pk=mallory.pk).email == "mallory@example.com"


def test_an_address_taken_between_the_code_and_the_confirmation_is_a_clear_409(ada):
    api = api_for(ada)
    api.post(B + "me/email", {"email": "ada@new.example"}, format="json")
    code = mailed_code("ada@new.example")
    UserFactory(username="quick", email="Ada@New.example")
    response = api.post(B + "me/email/confirm", {"code": code}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "email_taken"
    assert User.objects.get(pk=ada.pk).email == "ada@example.com"


@pytest.mark.parametrize("body", [{}, {"email": "not an address"}, {"email": "ada@example.com"}, {"email": ["x"]}])
def test_bad_input_is_a_clear_400(ada, body):
    response = api_for(ada).post(B + "me/email", body, format="json")
    assert response.status_code == 400
    assert not OneTimeCode.objects.filter(purpose=OneTimeCode.Purpose.CHANGE_EMAIL).exists()


def test_a_key_cannot_change_the_address(ada, team, key_for, as_key):
    from access.scopes import Role

    from .factories import MembershipFactory

    MembershipFactory(team=team, user=ada, role=Role.OWNER)
    _, raw = key_for(ada, team)
    response = as_key(raw, team).post(B + "me/email", {"email": "x@example.com"}, format="json")
    assert response.status_code == 403
    assert not mail.outbox


def test_a_reset_code_mailed_to_the_old_address_dies_with_the_change(ada):
    # Whoever reads the old mailbox asked for a reset before the change, and the notice of the
    # change tells them the new address: the old code must not reset the password through it.
    assert APIClient().post(B + "auth/forgot-password", {"email": "ada@example.com"}, format="json").status_code == 202
    reset_code = mailed_code("ada@example.com")
    api = api_for(ada)
    api.post(B + "me/email", {"email": "ada@new.example"}, format="json")
    assert api.post(B + "me/email/confirm", {"code": mailed_code("ada@new.example")}, format="json").status_code == 200
    response = APIClient().post(
        B + "auth/reset-password",
        {"email": "ada@new.example", "code": reset_code, "new_password": "an entirely new passphrase 42"},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "code_invalid"
    ada.refresh_from_db()
    assert not ada.check_password("an entirely new passphrase 42")


@pytest.mark.parametrize("second", ["bob@example.com", "free@example.com"], ids=["taken", "free"])
def test_asking_for_another_address_spends_the_earlier_code_whether_or_not_it_is_taken(ada, second):
    # Else: ask for an address of mine, then for the one probed, then confirm my code: it works
    # only when the probed address has an account (no new code replaced mine).
    UserFactory(username="bob", email="bob@example.com")
    api = api_for(ada)
    api.post(B + "me/email", {"email": "ada@mine.example"}, format="json")
    mine = mailed_code("ada@mine.example")
    assert api.post(B + "me/email", {"email": second}, format="json").status_code == 202
    response = api.post(B + "me/email/confirm", {"code": mine}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "code_invalid"
    assert User.objects.get(pk=ada.pk).email == "ada@example.com"


def test_the_decoy_code_of_a_taken_address_changes_nothing(ada):
    from accounts import codes

    UserFactory(username="bob", email="bob@example.com")
    api = api_for(ada)
    api.post(B + "me/email", {"email": "bob@example.com"}, format="json")
    # Whatever the code, even one an attacker could guess: no address is named, nothing changes.
    decoy = codes.issue(user=ada, purpose=OneTimeCode.Purpose.CHANGE_EMAIL)
    response = api.post(B + "me/email/confirm", {"code": decoy.code}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "code_invalid"
    assert User.objects.get(pk=ada.pk).email == "ada@example.com"
