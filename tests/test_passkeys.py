"""Passkeys (accounts/passkeys.py): registering and removing them, signing in with one alone, as
the second factor of a password sign-in, and for step-up, each refusal tried the way an attacker
would (a replayed answer, a counter that goes back, another origin or relying party, no user
verification, a ceremony made for another purpose or person)."""

import os

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from webauthn.helpers import bytes_to_base64url

from access.scopes import Role
from accounts import mfa
from accounts.models import Passkey, RecoveryCode, RefreshFamily
from accounts.sessions import start_session
from audit.models import Action, AuditEvent

from .factories import PASSWORD, MembershipFactory, UserFactory, access_token, enrol_totp, register_passkey
from .test_step_up import stale_session
from .webauthn_soft import SoftAuthenticator

pytestmark = pytest.mark.django_db

B = "/api/v1/"
COOKIE_MODE = {"HTTP_X_GHOSTFLOW_SESSION": "cookie"}


@pytest.fixture
def user():
    return UserFactory(username="ada", email="ada@example.com")


def api_for(user, token=None):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token or access_token(user)}")
    return client


def register(api, authenticator=None, name="Laptop", **create):
    authenticator = authenticator or SoftAuthenticator()
    options = api.post(B + "me/passkeys/options")
    assert options.status_code == 200, options.content
    body = options.json()
    credential = authenticator.create(body["options"], **create)
    response = api.post(
        B + "me/passkeys", {"name": name, "ceremony": body["ceremony"], "credential": credential}, format="json"
    )
    return authenticator, response


def sign_in_options(client=None):
    response = (client or APIClient()).post(B + "auth/passkey/options")
    assert response.status_code == 200, response.content
    return response.json()


def sign_in(authenticator, options=None, client=None, headers=None, **get):
    options = options or sign_in_options()
    credential = authenticator.get(options["options"], **get)
    return (client or APIClient()).post(
        B + "auth/passkey",
        {"ceremony": options["ceremony"], "credential": credential},
        format="json",
        **(headers or {}),
    )


def code(response):
    return response.json().get("code")


# --- registering --------------------------------------------------------------------------------


def test_a_first_passkey_is_registered_with_recovery_codes_and_signs_other_sessions_out(user):
    other = start_session(user=user)
    api = api_for(user)
    authenticator, response = register(api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Laptop" and len(body["recovery_codes"]) == 10 and body["other_sessions_revoked"] == 1
    assert RefreshFamily.objects.get(pk=other.family_id).revoked_at is not None
    stored = Passkey.objects.get(user=user)
    assert bytes(stored.credential_id) == authenticator.credential_id and stored.sign_count == 0
    assert mfa.has_second_factor(user) and mfa.status(user=user)["methods"] == ["passkey", "recovery_code"]
    assert AuditEvent.objects.filter(action=Action.MFA_PASSKEY_ADDED, actor_id=user.pk).count() == 1
    assert api.get(B + "me/passkeys").json()[0]["name"] == "Laptop"


def test_a_second_passkey_keeps_the_recovery_codes_and_the_options_exclude_the_first(user):
    api = api_for(user)
    first, _ = register(api)
    codes_before = set(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    options = api.post(B + "me/passkeys/options").json()["options"]
    assert [c["id"] for c in options["excludeCredentials"]] == [bytes_to_base64url(first.credential_id)]
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    _, response = register(api, name="Phone")
    assert response.status_code == 201 and "recovery_codes" not in response.json()
    assert set(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True)) == codes_before


def test_a_credential_id_longer_than_webauthn_allows_is_refused(user):
    _, response = register(api_for(user), SoftAuthenticator(credential_id=os.urandom(1024)))
    assert response.status_code == 400 and code(response) == "passkey_invalid"
    assert "1023 bytes" in response.json()["detail"] and not Passkey.objects.exists()
    _, response = register(api_for(user), SoftAuthenticator(credential_id=os.urandom(1023)))
    assert response.status_code == 201


def test_an_account_holds_at_most_ten_passkeys_even_when_registrations_overlap(user):
    for n in range(9):
        register_passkey(user, name=f"Key {n}")
    api = api_for(user)
    options = api.post(B + "me/passkeys/options").json()  # the ninth is there: a tenth may start
    register_passkey(user, name="Key 9")  # another registration finishes first
    credential = SoftAuthenticator().create(options["options"])
    response = api.post(
        B + "me/passkeys", {"name": "x", "ceremony": options["ceremony"], "credential": credential}, format="json"
    )
    assert response.status_code == 409 and code(response) == "passkey_limit"
    refused = api.post(B + "me/passkeys/options")
    assert refused.status_code == 409 and code(refused) == "passkey_limit"
    assert Passkey.objects.filter(user=user).count() == 10


def test_the_same_authenticator_cannot_be_registered_twice(user):
    api = api_for(user)
    authenticator, _ = register(api)
    authenticator.credential_id = authenticator.credential_id  # the same credential again
    _, response = register(api, authenticator)
    assert response.status_code == 409 and code(response) == "passkey_exists"


def test_a_credential_registered_by_someone_else_meanwhile_is_a_clear_409_not_a_500(user):
    # Two registrations of one credential id racing (an attacker's own two ceremonies): the second
    # passes the "already registered?" look-up before the first is written, then meets the
    # database's unique index.
    from django.db.models.signals import pre_save

    api = api_for(user)
    body = api.post(B + "me/passkeys/options").json()
    authenticator = SoftAuthenticator()
    credential = authenticator.create(body["options"])
    mallory = UserFactory(username="mallory", email="mallory@example.com")

    def first_in(sender, instance, **kwargs):
        pre_save.disconnect(first_in, sender=Passkey)
        Passkey.objects.create(user=mallory, name="race", credential_id=authenticator.credential_id, public_key=b"k")

    pre_save.connect(first_in, sender=Passkey)
    try:
        response = api.post(
            B + "me/passkeys", {"name": "x", "ceremony": body["ceremony"], "credential": credential}, format="json"
        )
    finally:
        pre_save.disconnect(first_in, sender=Passkey)
    assert response.status_code == 409 and code(response) == "passkey_exists", response.content
    assert not Passkey.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("create", "user_verified"),
    [({"origin": "https://evil.example"}, True), ({"rp_id": "evil.example"}, True), ({}, False)],
    ids=["another-origin", "another-rp-id", "no-user-verification"],
)
def test_a_registration_from_another_origin_rp_or_without_user_verification_is_refused(user, create, user_verified):
    api = api_for(user)
    _, response = register(api, SoftAuthenticator(user_verified=user_verified), **create)
    assert response.status_code == 400 and code(response) == "passkey_invalid"
    assert not Passkey.objects.exists()


def test_a_registration_ceremony_is_single_use_and_bound_to_its_person(user):
    api = api_for(user)
    body = api.post(B + "me/passkeys/options").json()
    authenticator = SoftAuthenticator()
    credential = authenticator.create(body["options"])
    mallory = UserFactory(username="mallory", email="mallory@example.com")
    stolen = api_for(mallory).post(
        B + "me/passkeys", {"name": "x", "ceremony": body["ceremony"], "credential": credential}, format="json"
    )
    assert stolen.status_code == 400 and code(stolen) == "passkey_ceremony_invalid"
    ok = api.post(
        B + "me/passkeys", {"name": "x", "ceremony": body["ceremony"], "credential": credential}, format="json"
    )
    assert ok.status_code == 201
    again = api.post(
        B + "me/passkeys",
        {"name": "y", "ceremony": body["ceremony"], "credential": SoftAuthenticator().create(body["options"])},
        format="json",
    )
    assert again.status_code == 400 and code(again) == "passkey_ceremony_used"


def test_registering_needs_a_recent_authentication(user):
    pair = stale_session(user)
    response = api_for(user, pair.access_token).post(B + "me/passkeys/options")
    assert response.status_code == 403 and code(response) == "reauthentication_required"


@pytest.mark.parametrize(
    "credential", [{}, {"id": "!!"}, {"id": "abc", "response": "x"}, {"id": "a" * 20000}, [], "x"], ids=str
)
def test_a_malformed_credential_is_a_clear_400(user, credential):
    api = api_for(user)
    body = api.post(B + "me/passkeys/options").json()
    response = api.post(
        B + "me/passkeys", {"name": "x", "ceremony": body["ceremony"], "credential": credential}, format="json"
    )
    assert response.status_code == 400, response.content
    assert not Passkey.objects.exists()


MANGLED_ANSWERS = {
    "response-a-list": lambda credential: credential.update(response=[1]),
    "response-a-string": lambda credential: credential.update(response="x"),
    "response-a-number": lambda credential: credential.update(response=5),
    "response-null": lambda credential: credential.update(response=None),
    "raw-id-empty-and-no-id": lambda credential: (credential.update(rawId=""), credential.pop("id")),
    "raw-id-empty-and-id-a-list": lambda credential: credential.update(rawId="", id=[1]),
}


def answer_at(door, user, authenticator, mangle):
    """A real answer of `authenticator` (a passkey of `user`) at `door`, mangled before it is sent."""
    if door == "sign_in":
        options = sign_in_options()
        credential = authenticator.get(options["options"])
        mangle(credential)
        return APIClient().post(
            B + "auth/passkey", {"ceremony": options["ceremony"], "credential": credential}, format="json"
        )
    if door == "second_factor":
        ticket = password_login().json()["ticket"]
        options = APIClient().post(B + "auth/second-factor/passkey-options", {"ticket": ticket}, format="json").json()
        credential = authenticator.get(options["options"])
        mangle(credential)
        body = {"ticket": ticket, "passkey": {"ceremony": options["ceremony"], "credential": credential}}
        return APIClient().post(B + "auth/second-factor", body, format="json")
    api = api_for(user)
    options = api.post(B + "auth/reauthenticate/passkey-options").json()
    credential = authenticator.get(options["options"])
    mangle(credential)
    body = {"passkey": {"ceremony": options["ceremony"], "credential": credential}}
    return api.post(B + "auth/reauthenticate", body, format="json")


@pytest.mark.parametrize("door", ["sign_in", "second_factor", "step_up"])
@pytest.mark.parametrize("mangled", list(MANGLED_ANSWERS))
def test_a_malformed_answer_for_a_known_passkey_is_a_clear_4xx_at_every_door(user, door, mangled):
    authenticator, _ = register(api_for(user))
    response = answer_at(door, user, authenticator, MANGLED_ANSWERS[mangled])
    expected = (401, "invalid_credentials") if door == "sign_in" else (400, "passkey_invalid")
    assert (response.status_code, code(response)) == expected, response.content
    assert Passkey.objects.get(user=user).sign_count == 0


# --- signing in with a passkey alone ------------------------------------------------------------


def test_a_passkey_alone_signs_in_with_user_verification_and_the_session_says_so(user):
    authenticator, _ = register(api_for(user))
    response = sign_in(authenticator)
    assert response.status_code == 200, response.content
    assert response.json()["refresh_token"]
    family = RefreshFamily.objects.filter(user=user).order_by("-created_at").first()
    assert family.signed_in_with == "passkey" and family.second_factor == "passkey"
    listed = api_for(user, response.json()["access_token"]).get(B + "auth/sessions").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(s["signed_in_with"], s["second_factor"]) for s in rows if s["current"]] == [("passkey", "passkey")]
    assert Passkey.objects.get(user=user).sign_count == 1


def test_a_passkey_sign_in_in_cookie_mode_sets_the_refresh_cookie(user):
    authenticator, _ = register(api_for(user))
    response = sign_in(authenticator, headers=COOKIE_MODE)
    assert response.status_code == 200 and "refresh_token" not in response.json() and response.cookies


def test_a_replayed_sign_in_answer_is_refused(user):
    authenticator, _ = register(api_for(user))
    options = sign_in_options()
    credential = authenticator.get(options["options"])
    body = {"ceremony": options["ceremony"], "credential": credential}
    assert APIClient().post(B + "auth/passkey", body, format="json").status_code == 200
    again = APIClient().post(B + "auth/passkey", body, format="json")
    assert again.status_code == 400 and code(again) == "passkey_ceremony_used"


def test_a_counter_that_goes_back_is_refused_and_audited(user):
    authenticator, _ = register(api_for(user))
    assert sign_in(authenticator).status_code == 200  # the counter is 1 now
    authenticator.sign_count = 0  # a clone that never saw that use
    response = sign_in(authenticator)
    assert response.status_code == 401 and code(response) == "invalid_credentials"
    failed = AuditEvent.objects.get(action=Action.MFA_FAILED, actor_id=user.pk)
    assert failed.data["reason"] == "passkey_counter_replayed"


@pytest.mark.parametrize(
    ("get", "user_verified"),
    [({"origin": "https://evil.example"}, True), ({"rp_id": "evil.example"}, True), ({}, False)],
    ids=["another-origin", "another-rp-id", "no-user-verification"],
)
def test_a_sign_in_from_another_origin_rp_or_without_user_verification_is_refused(user, get, user_verified):
    authenticator, _ = register(api_for(user))
    authenticator.user_verified = user_verified
    response = sign_in(authenticator, **get)
    assert response.status_code == 401 and code(response) == "invalid_credentials"


def test_an_unknown_passkey_and_an_inactive_persons_passkey_answer_alike(user):
    authenticator, _ = register(api_for(user))
    unknown = sign_in(SoftAuthenticator())
    user.is_active = False
    user.save(update_fields=["is_active"])
    inactive = sign_in(authenticator)
    assert unknown.status_code == inactive.status_code == 401
    assert unknown.json() == inactive.json()


def test_another_signature_key_for_a_known_credential_is_refused(user):
    authenticator, _ = register(api_for(user))
    forger = SoftAuthenticator(credential_id=authenticator.credential_id, user_handle=authenticator.user_handle)
    response = sign_in(forger)
    assert response.status_code == 401 and code(response) == "invalid_credentials"


def test_a_step_up_ceremony_cannot_sign_anyone_in(user):
    api = api_for(user)
    authenticator, _ = register(api)
    options = api.post(B + "auth/reauthenticate/passkey-options").json()
    response = sign_in(authenticator, options=options)
    assert response.status_code == 400 and code(response) == "passkey_ceremony_invalid"


# --- the second factor of a password sign-in ----------------------------------------------------


def password_login(client=None, **headers):
    return (client or APIClient()).post(
        B + "auth/login", {"username": "ada", "password": PASSWORD}, format="json", **headers
    )


def test_a_password_sign_in_waits_for_the_passkey_and_then_signs_in(user):
    authenticator, _ = register(api_for(user))
    pending = password_login().json()
    assert pending["second_factor_required"] and pending["methods"] == ["passkey", "recovery_code"]
    assert "access_token" not in pending
    options = (
        APIClient().post(B + "auth/second-factor/passkey-options", {"ticket": pending["ticket"]}, format="json").json()
    )
    assert [c["id"] for c in options["options"]["allowCredentials"]]
    credential = authenticator.get(options["options"])
    body = {"ticket": pending["ticket"], "passkey": {"ceremony": options["ceremony"], "credential": credential}}
    response = APIClient().post(B + "auth/second-factor", body, format="json")
    assert response.status_code == 200, response.content
    family = RefreshFamily.objects.filter(user=user).order_by("-created_at").first()
    assert family.signed_in_with == "password" and family.second_factor == "passkey"
    again = APIClient().post(B + "auth/second-factor", body, format="json")
    assert again.status_code == 401 and code(again) == "second_factor_ticket_used"


def test_someone_elses_passkey_is_no_second_factor(user):
    register(api_for(user))
    mallory = UserFactory(username="mallory", email="mallory@example.com")
    mallorys, _ = register(api_for(mallory))
    pending = password_login().json()
    options = (
        APIClient().post(B + "auth/second-factor/passkey-options", {"ticket": pending["ticket"]}, format="json").json()
    )
    body = {
        "ticket": pending["ticket"],
        "passkey": {"ceremony": options["ceremony"], "credential": mallorys.get(options["options"])},
    }
    response = APIClient().post(B + "auth/second-factor", body, format="json")
    assert response.status_code == 400 and code(response) == "passkey_invalid"
    event = AuditEvent.objects.filter(action=Action.MFA_FAILED, actor_id=user.pk).get()
    assert event.data == {"reason": "passkey_invalid", "purpose": "sign_in"}


def test_a_second_factor_answer_finishes_the_sign_in_that_asked_for_it_only(user):
    # Whoever knows the password holds a ticket of their own: an answer the owner's authenticator
    # made for the owner's sign-in, caught on its way, must not finish theirs.
    authenticator, _ = register(api_for(user))
    owners = password_login().json()["ticket"]
    attackers = password_login().json()["ticket"]
    options = APIClient().post(B + "auth/second-factor/passkey-options", {"ticket": owners}, format="json").json()
    answer = {"ceremony": options["ceremony"], "credential": authenticator.get(options["options"])}
    stolen = APIClient().post(B + "auth/second-factor", {"ticket": attackers, "passkey": answer}, format="json")
    assert stolen.status_code == 400 and code(stolen) == "passkey_ceremony_invalid"
    mine = APIClient().post(B + "auth/second-factor", {"ticket": owners, "passkey": answer}, format="json")
    assert mine.status_code == 200, mine.content


def test_a_sign_in_ceremony_is_no_second_factor_and_needs_a_ticket(user):
    authenticator, _ = register(api_for(user))
    pending = password_login().json()
    options = sign_in_options()  # passwordless options: not made for this ticket's person
    body = {
        "ticket": pending["ticket"],
        "passkey": {"ceremony": options["ceremony"], "credential": authenticator.get(options["options"])},
    }
    response = APIClient().post(B + "auth/second-factor", body, format="json")
    assert response.status_code == 400 and code(response) == "passkey_ceremony_invalid"
    forged = APIClient().post(B + "auth/second-factor/passkey-options", {"ticket": "x" * 40}, format="json")
    assert forged.status_code == 401 and code(forged) == "second_factor_ticket_invalid"


def test_a_recovery_code_still_works_with_passkeys_only(user):
    _, response = register(api_for(user))
    recovery = response.json()["recovery_codes"][0]
    pending = password_login().json()
    done = APIClient().post(B + "auth/second-factor", {"ticket": pending["ticket"], "code": recovery}, format="json")
    assert done.status_code == 200, done.content


def test_a_totp_code_without_an_app_is_a_conflict_not_a_guess(user):
    register(api_for(user))
    pending = password_login().json()
    response = APIClient().post(
        B + "auth/second-factor", {"ticket": pending["ticket"], "code": "123456"}, format="json"
    )
    assert response.status_code == 409 and code(response) == "totp_not_enabled"


def test_exactly_one_of_code_and_passkey(user):
    authenticator, _ = register(api_for(user))
    pending = password_login().json()
    neither = APIClient().post(B + "auth/second-factor", {"ticket": pending["ticket"]}, format="json")
    options = (
        APIClient().post(B + "auth/second-factor/passkey-options", {"ticket": pending["ticket"]}, format="json").json()
    )
    answer = {"ceremony": options["ceremony"], "credential": authenticator.get(options["options"])}
    both = APIClient().post(
        B + "auth/second-factor", {"ticket": pending["ticket"], "code": "123456", "passkey": answer}, format="json"
    )
    assert neither.status_code == both.status_code == 400


# --- step-up ------------------------------------------------------------------------------------


def test_a_stale_session_steps_up_with_a_passkey(user):
    authenticator, _ = register(api_for(user))
    pair = stale_session(user)
    api = api_for(user, pair.access_token)
    assert api.post(B + "me/passkeys/options").status_code == 403
    options = api.post(B + "auth/reauthenticate/passkey-options").json()
    credential = authenticator.get(options["options"])
    response = api.post(
        B + "auth/reauthenticate",
        {"passkey": {"ceremony": options["ceremony"], "credential": credential}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert api.post(B + "me/passkeys/options").status_code == 200
    event = AuditEvent.objects.filter(action=Action.REAUTHENTICATED, actor_id=user.pk).get()
    assert event.data["method"] == "passkey"


def test_a_step_up_ceremony_belongs_to_its_person(user):
    register(api_for(user))
    mallory = UserFactory(username="mallory", email="mallory@example.com")
    mallorys, _ = register(api_for(mallory))
    options = api_for(user).post(B + "auth/reauthenticate/passkey-options").json()
    response = api_for(mallory).post(
        B + "auth/reauthenticate",
        {"passkey": {"ceremony": options["ceremony"], "credential": mallorys.get(options["options"])}},
        format="json",
    )
    assert response.status_code == 400 and code(response) == "passkey_ceremony_invalid"


def test_a_step_up_answer_counts_for_the_session_that_asked_for_it_only(user):
    # An answer caught on its way (a proxy's log, a browser extension) must not step up another
    # login of the person, such as one whose token was stolen.
    authenticator, _ = register(api_for(user))
    asked = api_for(user, stale_session(user).access_token)
    other = api_for(user, stale_session(user).access_token)
    options = asked.post(B + "auth/reauthenticate/passkey-options").json()
    answer = {"passkey": {"ceremony": options["ceremony"], "credential": authenticator.get(options["options"])}}
    stolen = other.post(B + "auth/reauthenticate", answer, format="json")
    assert stolen.status_code == 400 and code(stolen) == "passkey_ceremony_invalid"
    assert other.post(B + "me/passkeys/options").status_code == 403
    assert asked.post(B + "auth/reauthenticate", answer, format="json").status_code == 200


def test_a_stale_session_steps_up_with_a_totp_code_once(user):
    import pyotp

    secret, _ = enrol_totp(user)
    pair = stale_session(user)
    api = api_for(user, pair.access_token)
    from datetime import timedelta

    import time_machine

    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        now_code = pyotp.TOTP(secret).now()
        ok = api.post(B + "auth/reauthenticate", {"code": now_code}, format="json")
        assert ok.status_code == 200, ok.content
        reused = api.post(B + "auth/reauthenticate", {"code": now_code}, format="json")
        assert reused.status_code == 400 and code(reused) == "second_factor_reused"


def test_a_code_step_up_without_a_factor_is_refused(user):
    response = api_for(user).post(B + "auth/reauthenticate", {"code": "123456"}, format="json")
    assert response.status_code == 403 and code(response) == "no_second_factor"


# --- removing -----------------------------------------------------------------------------------


def test_removing_the_last_passkey_removes_the_recovery_codes_and_the_second_step(user):
    api = api_for(user)
    register(api)
    passkey = Passkey.objects.get(user=user)
    response = api.delete(f"{B}me/passkeys/{passkey.pk}")
    assert response.status_code == 204
    assert not RecoveryCode.objects.filter(user=user).exists() and not mfa.has_second_factor(user)
    assert "access_token" in password_login().json()
    assert AuditEvent.objects.filter(action=Action.MFA_PASSKEY_REMOVED, actor_id=user.pk).count() == 1


def test_removing_a_passkey_keeps_the_codes_while_an_app_remains(user):
    enrol_totp(user)
    api = api_for(user)
    register(api)
    api.delete(f"{B}me/passkeys/{Passkey.objects.get(user=user).pk}")
    assert RecoveryCode.objects.filter(user=user).count() == 10


def test_nobody_removes_or_renames_someone_elses_passkey(user):
    register(api_for(user))
    passkey = Passkey.objects.get(user=user)
    mallory = api_for(UserFactory(username="mallory", email="mallory@example.com"))
    assert mallory.delete(f"{B}me/passkeys/{passkey.pk}").status_code == 404
    assert mallory.patch(f"{B}me/passkeys/{passkey.pk}", {"name": "mine"}, format="json").status_code == 404
    assert Passkey.objects.get(pk=passkey.pk).name == "Laptop"


def test_renaming_a_passkey_removed_meanwhile_is_a_clear_404_not_a_500(user):
    # A rename racing a removal (two tabs): the passkey is found, then gone before the new name
    # is written.
    from django.db.models.signals import post_init

    api = api_for(user)
    register(api)
    passkey = Passkey.objects.get(user=user)

    def removed_meanwhile(sender, instance, **kwargs):
        post_init.disconnect(removed_meanwhile, sender=Passkey)
        Passkey.objects.filter(pk=passkey.pk).delete()

    post_init.connect(removed_meanwhile, sender=Passkey)
    try:
        response = api.patch(f"{B}me/passkeys/{passkey.pk}", {"name": "Phone"}, format="json")
    finally:
        post_init.disconnect(removed_meanwhile, sender=Passkey)
    assert response.status_code == 404 and code(response) == "not_found", response.content


def test_removing_needs_a_recent_authentication(user):
    register(api_for(user))
    passkey = Passkey.objects.get(user=user)
    pair = stale_session(user)
    response = api_for(user, pair.access_token).delete(f"{B}me/passkeys/{passkey.pk}")
    assert response.status_code == 403 and code(response) == "reauthentication_required"
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_a_key_holder_cannot_touch_passkeys(user, team, key_for, as_key):
    register(api_for(user))
    passkey = Passkey.objects.get(user=user)
    MembershipFactory(team=team, user=user, role=Role.OWNER)
    _, raw = key_for(user, team)
    api = as_key(raw, team)
    assert api.delete(f"{B}me/passkeys/{passkey.pk}").status_code == 403
    assert api.post(B + "me/passkeys/options").status_code == 403
    assert api.post(B + "auth/reauthenticate/passkey-options").status_code == 403
    assert Passkey.objects.filter(pk=passkey.pk).exists()


# --- operators ----------------------------------------------------------------------------------


def test_an_operator_sees_the_passkeys_and_resets_them_with_the_other_factors(user):
    from django.test import Client

    operator = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(operator)
    enrol_totp(user)
    passkey, _ = register_passkey(user)
    page = client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Passkeys" in page and bytes(passkey.public_key).hex() not in page
    response = client.post(
        "/admin/accounts/user/", {"action": "reset_second_factors", "_selected_action": [user.pk]}, follow=True
    )
    assert response.status_code == 200
    assert not Passkey.objects.filter(user=user).exists() and not RecoveryCode.objects.filter(user=user).exists()
    assert not mfa.has_second_factor(user)
    event = AuditEvent.objects.get(action=Action.MFA_PASSKEY_REMOVED)
    assert event.actor_id == operator.pk and event.data["reason"] == "admin"
    assert "access_token" in password_login().json()


def test_a_password_reset_does_not_skip_the_passkey(user):
    register_passkey(user)
    # A reset changes the password; signing in with the new one still waits for the factor.
    user.set_password("a-brand-new-passphrase")
    user.save()
    response = APIClient().post(
        B + "auth/login", {"username": "ada", "password": "a-brand-new-passphrase"}, format="json"
    )
    assert response.json()["second_factor_required"] and response.json()["methods"] == ["passkey"]


def test_a_passkey_satisfies_a_teams_rule_and_removing_the_last_one_shuts_the_member_out(user, team, key_for, as_key):
    MembershipFactory(team=team, user=user, role=Role.MEMBER)
    team.require_second_factor = True
    team.save(update_fields=["require_second_factor"])
    _, raw = key_for(user, team, ["read:campaigns"])
    api = api_for(user)
    api.credentials(HTTP_AUTHORIZATION=api._credentials["HTTP_AUTHORIZATION"], HTTP_X_TEAM_ID=str(team.pk))
    refused = api.get(B + "campaigns")
    assert refused.status_code == 403 and refused.json()["code"] == "second_factor_required"
    assert as_key(raw, team).get(B + "campaigns").status_code == 403
    _, added = register(api)
    assert added.status_code == 201, added.content
    allowed = api.get(B + "campaigns")
    assert allowed.status_code == 200, allowed.content
    assert as_key(raw, team).get(B + "campaigns").status_code == 200  # the key too, at once
    api.delete(f"{B}me/passkeys/{Passkey.objects.get(user=user).pk}")
    assert api.get(B + "campaigns").json()["code"] == "second_factor_required"
    assert as_key(raw, team).get(B + "campaigns").status_code == 403
