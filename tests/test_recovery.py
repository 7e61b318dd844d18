"""Forgot / reset / change password."""

import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import OneTimeCode, RefreshFamily
from accounts.sessions import start_session
from audit.models import Action, AuditEvent

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW = "an-entirely-new-passphrase"


@pytest.fixture
def user():
    return UserFactory(username="forgetful", email="forgetful@example.com")


def forgot(client, email):
    return client.post("/api/v1/auth/forgot-password", {"email": email}, format="json")


def reset(client, **body):
    body = {"email": "forgetful@example.com", "new_password": NEW, **body}
    return client.post("/api/v1/auth/reset-password", body, format="json")


def mailed(message):
    code = re.search(r"\b(\d{6})\b", message.body).group(1)
    link = re.search(r"(\S+/reset-password\?\S+)", message.body).group(1)
    return code, link


def login(client, password):
    return client.post("/api/v1/auth/login", {"username": "forgetful", "password": password}, format="json")


def comparable(response):
    return response.status_code, response.content, {k: v for k, v in response.items() if k != "X-Request-Id"}


def test_forgot_answers_the_same_for_known_and_unknown_accounts(client, user):
    known = forgot(client, "forgetful@example.com")
    unknown = forgot(client, "nobody@example.com")
    assert known.status_code == 202
    assert comparable(known) == comparable(unknown)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["forgetful@example.com"]


def test_forgot_takes_comparable_time_for_known_and_unknown(client, user):
    def timed(email):
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            forgot(client, email)
            samples.append(time.perf_counter() - started)
        return sorted(samples)[2]

    known, unknown = timed("forgetful@example.com"), timed("nobody@example.com")
    # Mail goes out off the request path in production; here both stay within a few ms.
    assert abs(known - unknown) < 0.05


def test_the_link_is_built_from_site_url_not_the_host_header(client, user, settings):
    settings.SITE_URL = "https://app.ghostflow.example"
    settings.ALLOWED_HOSTS = ["*"]
    client.post(
        "/api/v1/auth/forgot-password", {"email": "forgetful@example.com"}, format="json", HTTP_HOST="evil.example"
    )
    _, link = mailed(mail.outbox[0])
    assert link.startswith("https://app.ghostflow.example/reset-password?")
    assert "evil" not in mail.outbox[0].body


def test_reset_with_the_code_changes_the_password_and_signs_out_everywhere(client, user):
    start_session(user=user)
    forgot(client, "forgetful@example.com")
    code, _ = mailed(mail.outbox[0])
    response = reset(client, code=code)
    assert response.status_code == 200
    assert "access_token" not in response.json()  # it does not log in
    assert not RefreshFamily.objects.active().filter(user=user).exists()
    assert login(client, PASSWORD).status_code == 401
    assert login(client, NEW).status_code == 200
    assert AuditEvent.objects.filter(action=Action.PASSWORD_RESET, actor=user).exists()


def test_reset_with_the_link_token_works(client, user):
    forgot(client, "forgetful@example.com")
    _, link = mailed(mail.outbox[0])
    token = parse_qs(urlparse(link).query)["token"][0]
    assert reset(client, token=token).status_code == 200


def test_reset_is_single_use(client, user):
    forgot(client, "forgetful@example.com")
    code, _ = mailed(mail.outbox[0])
    assert reset(client, code=code).status_code == 200
    assert reset(client, code=code, new_password="yet-another-passphrase").json()["code"] == "code_invalid"


def test_reset_expires(client, user, settings):
    forgot(client, "forgetful@example.com")
    code, _ = mailed(mail.outbox[0])
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_LIFETIME + 1)):
        assert reset(client, code=code).status_code == 400
    assert login(client, PASSWORD).status_code == 200


def test_guessing_the_code_cannot_lock_the_owner_out_of_recovery(client, user):
    forgot(client, "forgetful@example.com")
    code, link = mailed(mail.outbox[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(6):
        reset(client, code=wrong)
    assert reset(client, code=code).status_code == 400  # the short code is dead
    token = parse_qs(urlparse(link).query)["token"][0]
    assert reset(client, token=token).status_code == 200  # the link in the same mail still works


@time_machine.travel("2026-11-22T12:01:00Z", tick=False)  # inside one 15-minute window
def test_a_failed_login_streak_does_not_block_recovery(client, user):
    for _ in range(12):
        login(client, "wrong-password-1")
    assert login(client, PASSWORD).status_code == 429
    assert forgot(client, "forgetful@example.com").status_code == 202
    code, _ = mailed(mail.outbox[0])
    assert reset(client, code=code).status_code == 200


def test_a_verify_code_does_not_reset_a_password(client, user):
    from accounts import codes

    issued = codes.issue(user=user, purpose=OneTimeCode.Purpose.VERIFY_EMAIL)
    assert reset(client, code=issued.code).status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": "123456", "token": "abc"},
        {"code": "12ab56"},
        {"code": "123456", "new_password": "short"},
        {"code": "123456", "new_password": "x" * 129},
    ],
)
def test_bad_reset_bodies_are_400(client, user, body):
    forgot(client, "forgetful@example.com")
    assert reset(client, **body).status_code == 400
    assert login(client, PASSWORD).status_code == 200


def test_reset_of_an_unknown_address_is_the_same_400(client, user):
    a = reset(client, email="nobody@example.com", code="123456")
    forgot(client, "forgetful@example.com")
    code, _ = mailed(mail.outbox[0])
    b = reset(client, code=f"{(int(code) + 1) % 1_000_000:06d}")
    assert a.status_code == b.status_code == 400 and a.content == b.content


# --- change password --------------------------------------------------------


def test_change_password_keeps_this_session_and_revokes_the_others(client, user):
    mine = client.post("/api/v1/auth/login", {"username": "forgetful", "password": PASSWORD}, format="json").json()
    other = start_session(user=user)
    response = client.post(
        "/api/v1/auth/change-password",
        {"current_password": PASSWORD, "new_password": NEW},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {mine['access_token']}",
    )
    assert response.status_code == 200
    fresh = response.json()["access_token"]
    assert client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {fresh}").status_code == 200
    # the old access token carried the old password's fingerprint
    assert client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {mine['access_token']}").status_code == 401
    assert (
        client.post("/api/v1/auth/refresh", {"refresh_token": mine["refresh_token"]}, format="json").status_code == 200
    )
    assert client.post("/api/v1/auth/refresh", {"refresh_token": other.refresh_token}, format="json").status_code == 401
    assert AuditEvent.objects.filter(action=Action.PASSWORD_CHANGED, actor=user).exists()


def test_change_password_needs_the_current_password(as_user, user):
    response = as_user(user).post(
        "/api/v1/auth/change-password", {"current_password": "wrong-one-12", "new_password": NEW}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "wrong_password"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_change_password_applies_the_rules(as_user, user):
    response = as_user(user).post(
        "/api/v1/auth/change-password", {"current_password": PASSWORD, "new_password": "123"}, format="json"
    )
    assert response.status_code == 400
    assert "new_password" in response.json()["errors"]


def test_change_password_refuses_api_keys(as_key, key_for, owner, team, password):
    _, raw = key_for(owner, team, ["admin"])
    response = as_key(raw, team).post(
        "/api/v1/auth/change-password", {"current_password": password, "new_password": NEW}, format="json"
    )
    assert response.status_code == 403


def test_the_mail_budget_counts_the_account_not_the_spelling(client, user, monkeypatch, settings):
    """PostgreSQL's case-insensitive match folds look-alikes (a dotless ı) into one account; the
    five-mails-an-hour budget must hold across every spelling that finds it."""
    from accounts import recovery

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "forgot_password": {"ip": "100/h", "account": "5/h"}}
    monkeypatch.setattr(recovery, "user_by_email", lambda email: user)  # every spelling finds it
    for n in range(10):
        assert forgot(client, f"forgetful+{n}@example.com").status_code == 202
    assert len(mail.outbox) == 5
