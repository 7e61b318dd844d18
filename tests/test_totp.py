"""Second factors: TOTP enrolment and removal, recovery codes, and the sign-in that waits for the
second factor (accounts/mfa.py), tried the way an attacker would."""

import re
import time
from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import mfa
from accounts.models import RecoveryCode, RefreshFamily, TOTPFactor
from audit.models import Action, AuditEvent
from infra.models import UsedToken

from .factories import PASSWORD, UserFactory, access_token, enrol_totp

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"
SECOND_FACTOR = "/api/v1/auth/second-factor"
STATUS = "/api/v1/me/second-factors"
ENROL = "/api/v1/me/second-factors/totp"
CONFIRM = "/api/v1/me/second-factors/totp/confirm"
DISABLE = "/api/v1/me/second-factors/totp/disable"
RECOVERY = "/api/v1/me/second-factors/recovery-codes"
COOKIE_MODE = {"HTTP_X_GHOSTFLOW_SESSION": "cookie"}


@pytest.fixture
def user():
    return UserFactory(username="ada", email="ada@example.com")


def api_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user)}")
    return client


def code_at(secret, seconds_from_now=0):
    return pyotp.TOTP(secret).at(time.time() + seconds_from_now)


enrol = enrol_totp


def login(client=None, **headers):
    client = client or APIClient()
    return client.post(LOGIN, {"username": "ada", "password": PASSWORD}, format="json", **headers)


def finish(ticket, code, client=None, **headers):
    client = client or APIClient()
    return client.post(SECOND_FACTOR, {"ticket": ticket, "code": code}, format="json", **headers)


def error_code(response):
    return response.json()["code"]


# --- enrolment -----------------------------------------------------------------------------------


def test_enrolment_returns_a_secret_uri_and_svg_and_is_active_only_once_confirmed(user):
    api = api_for(user)
    response = api.post(ENROL)
    assert response.status_code == 201, response.content
    body = response.json()
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])
    assert (
        body["otpauth_uri"].startswith("otpauth://totp/GhostFlow:")
        and f"secret={body['secret']}" in body["otpauth_uri"]
    )
    assert body["qr_svg"].startswith("<svg") and "http" not in body["qr_svg"].replace("http://www.w3.org", "")
    # Stored encrypted, never in plain text.
    factor = TOTPFactor.objects.get(user=user)
    assert body["secret"] not in factor.secret_encrypted
    assert api.get(STATUS).json() == {
        "totp": False,
        "totp_pending": True,
        "totp_enabled_at": None,
        "passkeys": 0,
        "recovery_codes_left": 0,
        "methods": [],
    }
    # Not active yet: the password alone still signs in.
    assert "access_token" in login().json()

    assert error_code(api.post(CONFIRM, {"code": "000000"}, format="json")) in {
        "second_factor_invalid",
        "second_factor_expired",
    }
    response = api.post(CONFIRM, {"code": code_at(body["secret"])}, format="json")
    assert response.status_code == 200, response.content
    codes = response.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    # Hashed at rest.
    stored = set(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert not stored & set(codes) and len(stored) == 10
    status = api.get(STATUS).json()
    assert (
        status["totp"] is True
        and status["recovery_codes_left"] == 10
        and status["methods"] == ["totp", "recovery_code"]
    )
    assert AuditEvent.objects.filter(action=Action.MFA_TOTP_ENABLED, actor_id=user.pk).count() == 1
    # The secret is in no audit row.
    for data in AuditEvent.objects.values_list("data", flat=True):
        assert body["secret"] not in str(data)


def test_enrolment_cannot_start_over_an_active_factor_nor_confirm_without_beginning(user):
    api = api_for(user)
    assert error_code(api.post(CONFIRM, {"code": "123456"}, format="json")) == "totp_enrolment_not_started"
    enrol(user)
    response = api.post(ENROL)
    assert response.status_code == 409 and error_code(response) == "totp_already_enabled"


def test_confirming_enrolment_signs_out_every_other_login_but_this_one(user, client):
    old = login().json()  # a login from before the factor
    api_login = login().json()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_login['access_token']}")
    secret = api.post(ENROL).json()["secret"]
    response = api.post(CONFIRM, {"code": code_at(secret)}, format="json")
    assert response.json()["other_sessions_revoked"] == 1
    refused = client.post("/api/v1/auth/refresh", {"refresh_token": old["refresh_token"]}, format="json")
    assert refused.status_code == 401 and error_code(refused) == "token_revoked"
    kept = client.post("/api/v1/auth/refresh", {"refresh_token": api_login["refresh_token"]}, format="json")
    assert kept.status_code == 200
    # The access token from before enrolment stops acting where a signed-in login is needed.
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION=f"Bearer {old['access_token']}")
    assert stale.get("/api/v1/auth/sessions").status_code in (401, 403)


def test_an_api_key_cannot_manage_anyones_factors(owner, team, key_for, as_key):
    user = owner
    enrol(user)
    raw = key_for(user, team)[1]  # an admin key of the account itself
    api = as_key(raw, team=team)
    for path in (ENROL, CONFIRM, DISABLE, RECOVERY):
        response = api.post(path, {"code": "123456"}, format="json")
        assert response.status_code == 403, (path, response.content)
    assert api.get(STATUS).status_code == 403
    assert TOTPFactor.objects.get(user=user).active


# --- sign-in with a second factor ------------------------------------------------------------------


def test_password_login_gives_a_ticket_and_no_tokens_then_the_code_gives_the_pair(user):
    secret, _ = enrol(user)
    response = login()
    assert response.status_code == 200
    body = response.json()
    assert body["second_factor_required"] is True and body["methods"] == ["totp", "recovery_code"]
    assert set(body) == {"second_factor_required", "ticket", "methods", "expires_in"}
    assert not RefreshFamily.objects.filter(user=user).exists()
    # The ticket is no token.
    as_bearer = APIClient()
    as_bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {body['ticket']}")
    assert as_bearer.get("/api/v1/auth/me").status_code == 401
    assert APIClient().post("/api/v1/auth/refresh", {"refresh_token": body["ticket"]}, format="json").status_code == 401

    response = finish(body["ticket"], code_at(secret, 30))  # the current step was spent at enrolment
    assert response.status_code == 200, response.content
    assert {"access_token", "refresh_token"} <= set(response.json())
    family = RefreshFamily.objects.get(user=user)
    assert (family.signed_in_with, family.second_factor) == ("password", "totp")
    sessions = APIClient()
    sessions.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access_token']}")
    listed = sessions.get("/api/v1/auth/sessions").json()["results"][0]
    assert listed["signed_in_with"] == "password" and listed["second_factor"] == "totp"


def test_cookie_mode_sets_no_cookie_before_the_second_factor_and_sets_it_after(user):
    from accounts import cookies

    secret, _ = enrol(user)
    browser = APIClient()
    response = login(browser, **COOKIE_MODE)
    assert response.json()["second_factor_required"] is True
    assert cookies.HOST_NAME not in response.cookies and "access_token" not in response.json()
    response = finish(response.json()["ticket"], code_at(secret, 30), browser, **COOKIE_MODE)
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "token_type", "expires_in"}
    assert response.cookies[cookies.HOST_NAME].value


def test_a_ticket_is_single_use_and_expires(user):
    secret, _ = enrol(user)
    ticket = login().json()["ticket"]
    assert finish(ticket, code_at(secret, 30)).status_code == 200
    again = finish(ticket, code_at(secret, -30))
    assert again.status_code == 401 and error_code(again) == "second_factor_ticket_used"
    assert UsedToken.objects.count() == 1

    ticket = login().json()["ticket"]
    with time_machine.travel(timezone.now() + timedelta(seconds=301)):
        expired = finish(ticket, pyotp.TOTP(secret).now())
    assert expired.status_code == 401 and error_code(expired) == "second_factor_ticket_expired"
    forged = finish(ticket[:-3] + "abc", code_at(secret))
    assert forged.status_code == 401 and error_code(forged) == "second_factor_ticket_invalid"


def test_a_wrong_code_leaves_the_ticket_usable_and_is_audited(user):
    secret, _ = enrol(user)
    ticket = login().json()["ticket"]
    right = code_at(secret, 30)
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    response = finish(ticket, wrong)
    assert response.status_code == 400 and error_code(response) == "second_factor_invalid"
    assert not RefreshFamily.objects.exists()
    assert AuditEvent.objects.filter(action=Action.MFA_FAILED, actor_id=user.pk).count() == 1
    assert finish(ticket, right).status_code == 200


def test_a_code_is_never_accepted_twice_and_an_old_one_is_expired(user):
    secret, _ = enrol(user)
    code = code_at(secret)  # spent by the enrolment
    response = finish(login().json()["ticket"], code)
    assert response.status_code == 400 and error_code(response) == "second_factor_reused"
    later = code_at(secret, 30)
    assert finish(login().json()["ticket"], later).status_code == 200
    replay = finish(login().json()["ticket"], later)
    assert replay.status_code == 400 and error_code(replay) == "second_factor_reused"
    # A code from two minutes ago: past the window.
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        old = finish(login().json()["ticket"], code_at(secret, -120))
    assert old.status_code == 400 and error_code(old) == "second_factor_expired"


def test_a_recovery_code_signs_in_once_and_is_audited_and_mailed(user):
    _, codes = enrol(user)
    mail.outbox.clear()
    response = finish(login().json()["ticket"], codes[0].upper())  # case and dash do not matter
    assert response.status_code == 200, response.content
    assert RefreshFamily.objects.get(user=user).second_factor == "recovery_code"
    assert AuditEvent.objects.filter(action=Action.MFA_RECOVERY_CODE_USED, actor_id=user.pk).count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    assert "9 unused recovery codes left" in mail.outbox[0].body and codes[0] not in mail.outbox[0].body
    again = finish(login().json()["ticket"], codes[0])
    assert again.status_code == 400 and error_code(again) == "second_factor_reused"
    assert api_for(user).get(STATUS).json()["recovery_codes_left"] == 9


def test_second_factor_guesses_are_limited_per_account(user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "second_factor": {"ip": "100/5m", "account": "3/15m"}}
    secret, _ = enrol(user)
    right = code_at(secret, 30)
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    for _ in range(3):
        assert finish(login().json()["ticket"], wrong).status_code == 400
    # From another client, with a fresh ticket, even the right code: the account is locked.
    response = finish(login().json()["ticket"], right)
    assert response.status_code == 429 and error_code(response) == "rate_limited"
    assert not RefreshFamily.objects.exists()
    assert AuditEvent.objects.filter(action=Action.MFA_FAILED, actor_id=user.pk).count() == 3
    assert AuditEvent.objects.filter(action=Action.MFA_LOCKED, actor_id=user.pk).count() == 1


def test_a_password_reset_does_not_bypass_the_factor_and_voids_pending_tickets(user, client):
    secret, _ = enrol(user)
    ticket = login().json()["ticket"]
    client.post("/api/v1/auth/forgot-password", {"email": "ada@example.com"}, format="json")
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    response = client.post(
        "/api/v1/auth/reset-password",
        {"email": "ada@example.com", "code": code, "new_password": "a-brand-new-passphrase"},
        format="json",
    )
    assert response.status_code == 200 and "access_token" not in response.json()
    assert not RefreshFamily.objects.filter(user=user, revoked_at__isnull=True).exists()
    # The ticket made with the old password is void.
    voided = finish(ticket, code_at(secret, 30))
    assert voided.status_code == 401 and error_code(voided) == "second_factor_ticket_invalid"
    # The new password still needs the factor.
    body = APIClient().post(LOGIN, {"username": "ada", "password": "a-brand-new-passphrase"}, format="json").json()
    assert body["second_factor_required"] is True and "access_token" not in body


def test_an_inactive_user_cannot_redeem_a_ticket(user):
    secret, _ = enrol(user)
    ticket = login().json()["ticket"]
    user.is_active = False
    user.save()
    response = finish(ticket, code_at(secret, 30))
    assert response.status_code == 401 and error_code(response) == "second_factor_ticket_invalid"


# --- disabling and regenerating ------------------------------------------------------------------


def test_disabling_needs_a_fresh_code(user):
    secret, codes = enrol(user)
    api = api_for(user)
    spent = code_at(secret)
    response = api.post(DISABLE, {"code": spent}, format="json")
    assert response.status_code == 400 and error_code(response) == "second_factor_reused"
    assert api.post(DISABLE, {"code": "nope"}, format="json").status_code == 400
    response = api.post(DISABLE, {"code": codes[3]}, format="json")
    assert response.status_code == 200 and response.json()["totp"] is False
    assert not TOTPFactor.objects.filter(user=user).exists() and not RecoveryCode.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action=Action.MFA_TOTP_DISABLED, actor_id=user.pk).count() == 1
    assert "access_token" in login().json()
    response = api.post(DISABLE, {"code": "123456"}, format="json")
    assert response.status_code == 409 and error_code(response) == "totp_not_enabled"


def test_regenerating_recovery_codes_invalidates_the_old_set(user):
    secret, old = enrol(user)
    api = api_for(user)
    response = api.post(RECOVERY, {"code": code_at(secret, 30)}, format="json")
    assert response.status_code == 200
    new = response.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    refused = finish(login().json()["ticket"], old[0])
    assert refused.status_code == 400 and error_code(refused) == "second_factor_invalid"
    assert finish(login().json()["ticket"], new[0]).status_code == 200
    assert AuditEvent.objects.filter(action=Action.MFA_RECOVERY_CODES_REGENERATED).count() == 1


def test_verify_second_factor_is_the_hook_for_other_flows(user, rf):
    secret, codes = enrol(user)
    request = rf.post("/")
    assert mfa.verify_second_factor(request=request, user=user, code="000000") is None
    assert mfa.verify_second_factor(request=request, user=user, code=code_at(secret, 30)) == "totp"
    assert mfa.verify_second_factor(request=request, user=user, code=codes[1]) == "recovery_code"


# --- Django admin ----------------------------------------------------------------------------------

ADMIN_LOGIN = "/admin/login/"


def admin_login(client, **extra):
    body = {"username": "root", "password": PASSWORD, "next": "/admin/", **extra}
    return client.post(ADMIN_LOGIN, body)


def test_the_admin_login_asks_an_operator_with_a_factor_for_the_code():
    from django.test import Client

    operator = UserFactory(username="root", is_staff=True, is_superuser=True)
    secret, _ = enrol(operator)
    client = Client()
    assert b"second_factor_code" in client.get(ADMIN_LOGIN).content
    refused = admin_login(client)
    assert refused.status_code == 200 and b"two-step verification" in refused.content
    assert "_auth_user_id" not in client.session
    refused = admin_login(client, second_factor_code=code_at(secret))  # spent at enrolment
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action=Action.MFA_FAILED, data__purpose="admin").count() == 1
    assert admin_login(client, second_factor_code=code_at(secret, 30)).status_code == 302
    assert client.session["_auth_user_id"] == str(operator.pk)


def test_an_operator_sees_and_resets_a_users_factors_but_never_the_secret(user):
    from django.test import Client

    operator = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(operator)
    secret, codes = enrol(user)
    page = client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert "Recovery codes left" in page and secret not in page
    assert TOTPFactor.objects.get(user=user).secret_encrypted not in page
    assert not any(code in page for code in codes)
    response = client.post(
        "/admin/accounts/user/", {"action": "reset_second_factors", "_selected_action": [user.pk]}, follow=True
    )
    assert response.status_code == 200
    assert not TOTPFactor.objects.filter(user=user).exists() and not RecoveryCode.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action=Action.MFA_TOTP_DISABLED)
    assert event.actor_id == operator.pk and event.data == {"user": str(user.pk), "reason": "admin"}
    assert "access_token" in login().json()


def test_totp_secrets_follow_a_key_rotation(user, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    secret, _ = enrol(user)
    old_keys = list(settings.SECRETS_ENCRYPTION_KEYS)
    settings.SECRETS_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]
    call_command("rotate_totp_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.SECRETS_ENCRYPTION_KEYS = settings.SECRETS_ENCRYPTION_KEYS[:1]
    assert finish(login().json()["ticket"], code_at(secret, 30)).status_code == 200


def test_google_sign_in_waits_for_the_second_factor_too(user, settings, tmp_path):
    import json

    import jwt

    from .test_google import CLIENT_ID, GOOGLE_KEY, credential

    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(GOOGLE_KEY.public_key()))
    jwks = tmp_path / "certs.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}))
    settings.GOOGLE_CLIENT_ID = CLIENT_ID
    settings.GOOGLE_JWKS_URL = jwks.as_uri()
    user.google_sub = "google-sub-1"
    user.save()
    secret, _ = enrol(user)
    for headers in ({}, COOKIE_MODE):
        response = APIClient().post("/api/v1/auth/google", {"credential": credential()}, format="json", **headers)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["second_factor_required"] is True and "access_token" not in body
        assert not response.cookies
    assert not RefreshFamily.objects.filter(user=user).exists()
    response = finish(body["ticket"], code_at(secret, 30))
    assert response.status_code == 200
    family = RefreshFamily.objects.get(user=user)
    assert (family.signed_in_with, family.second_factor) == ("google", "totp")


def test_the_invitation_flow_gives_no_way_around_the_factor(user, team, owner):
    """Accepting an invitation needs a signed-in login; the ticket is not one."""
    invitation_token = "t" * 43
    enrol(user)
    ticket = login().json()["ticket"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ticket}")
    response = client.post("/api/v1/invitations/accept", {"token": invitation_token}, format="json")
    assert response.status_code == 401


def test_beginning_again_replaces_an_unconfirmed_secret(user):
    api = api_for(user)
    first = api.post(ENROL).json()["secret"]
    second = api.post(ENROL).json()["secret"]
    assert first != second and TOTPFactor.objects.filter(user=user).count() == 1
    stale = pyotp.TOTP(first).now()
    if stale != pyotp.TOTP(second).now():
        assert api.post(CONFIRM, {"code": stale}, format="json").status_code == 400
    assert api.post(CONFIRM, {"code": pyotp.TOTP(second).now()}, format="json").status_code == 200


@pytest.mark.parametrize("code", ["\u00c6%=\U0001940a`\u0097", "１２３４５６", "12345\u0660", "", "x" * 6])
def test_a_code_that_is_not_six_digits_is_a_clean_400_on_every_path(user, code):
    """Found by schemathesis: a non-ASCII code reached hmac.compare_digest (TypeError, a 500)."""
    api = api_for(user)
    api.post(ENROL)
    response = api.post(CONFIRM, {"code": code}, format="json")
    assert response.status_code == 400, response.content
    enrol(user)
    ticket = login().json()["ticket"]
    response = finish(ticket, code)
    assert response.status_code == 400, response.content
    for path in (DISABLE, RECOVERY):
        assert api_for(user).post(path, {"code": code}, format="json").status_code == 400
