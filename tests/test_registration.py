"""Registration, e-mail verification and the enumeration rules."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from access.scopes import Role
from accounts.models import OneTimeCode, User
from audit.models import Action, AuditEvent
from teams.models import Membership

from .factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase"


def register(client, **body):
    body = {"username": "newbie", "email": "newbie@example.com", "password": PASSWORD, **body}
    return client.post("/api/v1/auth/register", body, format="json")


def code_in(message) -> str:
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def verify(client, email, code):
    return client.post("/api/v1/auth/verify-email", {"email": email, "code": code}, format="json")


def login(client, username="newbie", password=PASSWORD):
    return client.post("/api/v1/auth/login", {"username": username, "password": password}, format="json")


def comparable_headers(response):
    return {k: v for k, v in response.items() if k.lower() != "x-request-id"}


def test_register_creates_an_unverified_account_with_a_personal_team(client):
    response = register(client)
    assert response.status_code == 201
    user = User.objects.get(username="newbie")
    assert user.email_verified_at is None
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert (mail.outbox[0].to, mail.outbox[0].subject) == (["newbie@example.com"], "Your GhostFlow verification code")
    assert AuditEvent.objects.filter(action=Action.USER_REGISTERED, actor=user).exists()


def test_an_unverified_account_cannot_log_in_until_verified(client):
    register(client)
    response = login(client)
    assert response.status_code == 403
    assert response.json()["code"] == "email_unverified"
    assert verify(client, "NEWBIE@example.com", code_in(mail.outbox[0])).status_code == 200
    assert login(client).status_code == 200


def test_an_unverified_account_with_a_wrong_password_looks_like_any_failure(client):
    register(client)
    response = login(client, password="wrong-password-9")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_registering_a_taken_address_answers_the_same_and_mails_the_owner(client):
    UserFactory(username="old", email="taken@example.com")
    new = register(client, username="fresh1", email="fresh@example.com")
    taken = register(client, username="fresh2", email="TAKEN@example.com")
    assert new.status_code == taken.status_code == 201
    assert new.content == taken.content
    assert comparable_headers(new) == comparable_headers(taken)
    assert not User.objects.filter(username="fresh2").exists()
    assert [m.subject for m in mail.outbox] == [
        "Your GhostFlow verification code",
        "You already have a GhostFlow account",
    ]
    assert mail.outbox[1].to == ["taken@example.com"]


def test_the_taken_address_path_costs_a_password_hash_too(client, monkeypatch):
    import accounts.registration as lifecycle

    UserFactory(username="old", email="taken@example.com")
    calls = []
    real = lifecycle.make_password
    monkeypatch.setattr(lifecycle, "make_password", lambda p: calls.append(1) or real(p))
    register(client, email="taken@example.com")
    assert calls == [1]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"username": "bad name!"}, "username"),
        ({"username": ""}, "username"),
    ],
)
def test_bad_registrations_are_400_and_create_nothing(client, body, field):
    response = register(client, **body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not User.objects.exists()
    assert not mail.outbox


def test_a_64_character_password_is_accepted_and_never_truncated(client):
    long_password = "correct horse battery staple " * 2 + "abcdef"
    assert len(long_password) == 64
    register(client, password=long_password)
    verify(client, "newbie@example.com", code_in(mail.outbox[0]))
    assert login(client, password=long_password).status_code == 200
    assert login(client, password=long_password[:63]).status_code == 401


def test_a_taken_username_is_400(client):
    UserFactory(username="Newbie")
    response = register(client)
    assert response.status_code == 400
    assert response.json()["code"] == "username_taken"


def test_closed_registration_needs_staff_or_a_team_admin(client, as_user, settings, team, admin, member):
    settings.REGISTRATION_OPEN = False
    assert register(client).json()["code"] == "registration_closed"
    assert register(as_user(member, team)).status_code == 403
    staff = UserFactory(is_staff=True)
    assert register(as_user(staff), username="bystaff", email="bystaff@example.com").status_code == 201
    response = register(as_user(admin, team), username="byadmin", email="byadmin@example.com")
    assert response.status_code == 201
    assert Membership.objects.get(team=team, user__username="byadmin").role == Role.MEMBER


def test_closed_registration_refuses_an_api_key(as_key, key_for, settings, team, admin):
    settings.REGISTRATION_OPEN = False
    _, raw = key_for(admin, team, ["admin"])
    response = register(as_key(raw, team))
    assert response.status_code == 403
    assert not User.objects.filter(username="newbie").exists()


# --- registration by a team admin, with a role (seed 000) -------------------------------


@pytest.mark.parametrize("open_registration", [True, False])
@pytest.mark.parametrize("role", ["viewer", "member", "admin"])
def test_an_admin_registers_into_the_team_with_the_role_asked(as_user, settings, team, admin, open_registration, role):
    settings.REGISTRATION_OPEN = open_registration
    response = register(as_user(admin, team), role=role)
    assert response.status_code == 201
    assert Membership.objects.get(team=team, user__username="newbie").role == role
    assert AuditEvent.objects.get(action=Action.MEMBER_ADDED, team=team).data["role"] == role


def test_without_a_role_the_new_account_is_a_member(as_user, team, admin):
    assert register(as_user(admin, team)).status_code == 201
    assert Membership.objects.get(team=team, user__username="newbie").role == Role.MEMBER


def test_an_owner_may_register_an_owner(as_user, team, owner):
    assert register(as_user(owner, team), role="owner").status_code == 201
    assert Membership.objects.get(team=team, user__username="newbie").role == Role.OWNER


@pytest.mark.parametrize("taken", [False, True])
def test_an_admin_cannot_register_an_owner_and_nothing_happens(as_user, settings, team, admin, taken):
    """The escalation attempt: an admin making an owner (who could then demote or remove the real
    owners). Refused before the address is looked at, so the answer is the same for a taken one."""
    settings.REGISTRATION_OPEN = False
    if taken:
        UserFactory(username="someone", email="newbie@example.com")
    users, events = User.objects.count(), AuditEvent.objects.count()
    response = register(as_user(admin, team), role="owner")
    assert response.status_code == 403
    assert response.json()["code"] == "role_above_own"
    assert User.objects.count() == users and AuditEvent.objects.count() == events
    assert not Membership.objects.filter(team=team, role=Role.OWNER).exclude(user__username="owner").exists()
    assert mail.outbox == []


def test_a_role_without_a_team_to_join_is_400_and_creates_nothing(client, as_user):
    response = register(client, role="admin")  # open registration, anonymous
    assert response.status_code == 400
    assert response.json()["code"] == "role_needs_team"
    staff = as_user(UserFactory(username="staffer", is_staff=True))
    assert register(staff, role="member").json()["code"] == "role_needs_team"
    assert not User.objects.filter(username="newbie").exists()


def test_an_unknown_role_is_400(as_user, team, admin):
    response = register(as_user(admin, team), role="superuser")
    assert response.status_code == 400
    assert "role" in response.json()["errors"]
    assert not User.objects.filter(username="newbie").exists()


def test_a_member_cannot_register_into_the_team(as_user, team, member):
    response = register(as_user(member, team), role="viewer")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert not User.objects.filter(username="newbie").exists()


# --- verification codes ----------------------------------------------------


@pytest.fixture
def pending(client):
    register(client)
    return code_in(mail.outbox[0])


def test_a_code_works_once(client, pending):
    assert verify(client, "newbie@example.com", pending).status_code == 200
    response = verify(client, "newbie@example.com", pending)
    assert response.status_code == 400
    assert response.json()["code"] == "code_invalid"


def test_a_code_expires_after_ten_minutes(client, pending):
    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)):
        assert verify(client, "newbie@example.com", pending).status_code == 400
    assert User.objects.get().email_verified_at is None


def test_a_code_dies_after_five_wrong_guesses(client, pending):
    wrong = f"{(int(pending) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert verify(client, "newbie@example.com", wrong).status_code == 400
    assert verify(client, "newbie@example.com", pending).status_code == 400
    assert OneTimeCode.objects.get().attempts == 5
    assert AuditEvent.objects.filter(action=Action.EMAIL_VERIFICATION_FAILED).count() == 6


def test_a_code_is_for_its_user_and_purpose_only(client, pending):
    UserFactory(username="other", email="other@example.com", email_verified_at=None)
    assert verify(client, "other@example.com", pending).status_code == 400
    # A password-reset code does not verify an e-mail.
    client.post("/api/v1/auth/forgot-password", {"email": "other@example.com"}, format="json")
    assert verify(client, "other@example.com", code_in(mail.outbox[-1])).status_code == 400


def test_codes_are_stored_hashed(client, pending):
    stored = OneTimeCode.objects.get()
    assert pending not in stored.code_hash and len(stored.code_hash) == 64


def test_an_unknown_address_gets_the_same_400(client, pending):
    unknown = verify(client, "nobody@example.com", "123456")
    wrong = verify(client, "newbie@example.com", f"{(int(pending) + 1) % 1_000_000:06d}")
    assert unknown.status_code == wrong.status_code == 400
    assert unknown.content == wrong.content


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "", None])
def test_a_malformed_code_is_400(client, pending, code):
    assert verify(client, "newbie@example.com", code).status_code == 400
    assert OneTimeCode.objects.get().attempts == 0


def test_resend_answers_the_same_for_known_and_unknown_addresses(client, pending):
    known = client.post("/api/v1/auth/resend-verification", {"email": "newbie@example.com"}, format="json")
    unknown = client.post("/api/v1/auth/resend-verification", {"email": "nobody@example.com"}, format="json")
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert comparable_headers(known) == comparable_headers(unknown)
    assert len(mail.outbox) == 2
    assert AuditEvent.objects.filter(action=Action.EMAIL_VERIFICATION_SENT).count() == 1
    # The new code replaces the old one.
    assert verify(client, "newbie@example.com", pending).status_code == 400
    assert verify(client, "newbie@example.com", code_in(mail.outbox[1])).status_code == 200


def test_resend_sends_nothing_to_a_verified_account(client):
    UserFactory(email="done@example.com")
    client.post("/api/v1/auth/resend-verification", {"email": "done@example.com"}, format="json")
    assert not mail.outbox


def test_a_mail_that_fails_to_send_is_logged_and_the_answer_unchanged(client, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("infra.mail.send_mail", broken)
    response = register(client)
    assert response.status_code == 201
    assert any("failed to send" in r.getMessage() for r in caplog.records)
    code = OneTimeCode.objects.get()
    assert all(code.code_hash not in r.getMessage() for r in caplog.records)
    assert "newbie@example.com" not in caplog.text


@pytest.mark.parametrize(("taken", "status"), [("email", 201), ("username", 400)])
def test_a_registration_racing_another_is_answered_like_a_taken_one(client, taken, status):
    """The other registration commits after our checks and before our INSERT."""
    from django.db import connection

    state = {"checked": False, "raced": False}
    racer = {"username": "racer", "email": "racer@example.com"}
    racer[taken] = {"username": "newbie", "email": "newbie@example.com"}[taken]

    def wrapper(execute, sql, params, many, context):
        if 'FROM "accounts_user"' in sql and "email" in sql and sql.startswith("SELECT"):
            state["checked"] = True  # the address check: the last one before the INSERT
        elif state["checked"] and not state["raced"] and sql.startswith("SAVEPOINT"):
            state["raced"] = True
            UserFactory(**racer)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        response = register(client, username="newbie", email="newbie@example.com")
    assert state["raced"]
    assert response.status_code == status
    assert User.objects.filter(username__in=["newbie", "racer"]).count() == 1
