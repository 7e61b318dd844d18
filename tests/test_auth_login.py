import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import override_settings

from audit.models import Action, AuditEvent

from .factories import PASSWORD, UserFactory

URL = "/api/v1/auth/login"

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


def login(client, username, password):
    return client.post(URL, {"username": username, "password": password}, format="json")


def test_login_takes_a_username(client):
    user = UserFactory(username="hershel")
    response = login(client, "hershel", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 300
    assert AuditEvent.objects.filter(action=Action.LOGIN_SUCCEEDED, actor=user).count() == 1


def test_login_takes_an_email_in_any_case(client):
    UserFactory(username="hershel", email="Hershel@Example.com")
    assert login(client, "hershel@EXAMPLE.com", PASSWORD).status_code == 200


def test_login_takes_ghostlys_email_body(client):
    user = UserFactory(username="hershel", email="hershel@example.com")
    response = client.post(URL, {"email": "HERSHEL@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert AuditEvent.objects.get(action=Action.LOGIN_SUCCEEDED).actor_id == user.pk


def test_a_wrong_password_in_the_email_body_is_the_usual_401(client):
    UserFactory(username="hershel", email="hershel@example.com")
    known = client.post(URL, {"email": "hershel@example.com", "password": "wrong-password-1"}, format="json")
    unknown = client.post(URL, {"email": "nobody@example.com", "password": "wrong-password-1"}, format="json")
    assert known.status_code == unknown.status_code == 401
    assert known.content == unknown.content


@pytest.mark.parametrize("email", ["hershel@example.com", "someone-else@example.com"])
def test_username_and_email_together_are_400_and_log_nobody_in(client, email):
    UserFactory(username="hershel", email="hershel@example.com")
    body = {"username": "hershel", "email": email, "password": PASSWORD}
    response = client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert set(response.json()["errors"]) == {"username", "email"}
    assert not AuditEvent.objects.filter(action__startswith="login.").exists()


def test_the_email_field_must_be_an_email_address(client):
    UserFactory(username="hershel", email="hershel@example.com")
    response = client.post(URL, {"email": "hershel", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["errors"]


def test_an_identifier_with_an_at_sign_is_always_an_email(client):
    # A username like this can no longer be registered (see test_usernames_cannot_contain_an_at_sign);
    # one that predates the rule must still not shadow the real owner's e-mail login.
    UserFactory(username="a@example.com", email="first@example.com")
    owner = UserFactory(username="second", email="a@example.com")
    response = login(client, "a@example.com", PASSWORD)
    assert response.status_code == 200
    assert AuditEvent.objects.get(action=Action.LOGIN_SUCCEEDED).actor_id == owner.pk


def test_an_exact_email_match_wins_over_a_look_alike(client):
    # PostgreSQL's UPPER() folds the dotless ı into I, so `iexact` matches both addresses there,
    # while the unique index (on LOWER) lets both exist.
    look_alike = UserFactory(username="lookalike", email="al\u0131@example.com")
    real = UserFactory(username="real", email="ali@example.com")
    assert login(client, "ali@example.com", PASSWORD).status_code == 200
    assert login(client, "al\u0131@example.com", PASSWORD).status_code == 200
    actors = list(
        AuditEvent.objects.filter(action=Action.LOGIN_SUCCEEDED)
        .order_by("created_at")
        .values_list("actor_id", flat=True)
    )
    assert actors == [real.pk, look_alike.pk]


def test_usernames_cannot_contain_an_at_sign(client):
    body = {"username": "victim@example.com", "email": "attacker@example.com", "password": "attackers-pass-9"}
    response = client.post("/api/v1/auth/register", body, format="json")
    assert response.status_code == 400
    assert "username" in response.json()["errors"]


def test_ten_failures_lock_an_identifier_however_it_is_spelled(client):
    UserFactory(username="hershel", email="hershel@example.com")
    spellings = ["hershel@example.com", "HERSHEL@example.com", " Hershel@Example.COM"]
    for attempt in range(10):
        assert login(client, spellings[attempt % len(spellings)], "wrong-password-1").status_code == 401
    for spelling in spellings:
        response = login(client, spelling, PASSWORD)
        assert response.status_code == 429, spelling
        assert response.json()["code"] == "rate_limited"
    # The username is another identifier: locking one says nothing about the other.
    assert login(client, "hershel", PASSWORD).status_code == 200


def test_the_lock_of_an_unknown_identifier_is_case_folded(client):
    for _ in range(10):
        login(client, "Nobody", "wrong-password-1")
    assert login(client, "NOBODY", "wrong-password-1").status_code == 429


def test_wrong_password_unknown_user_and_inactive_user_look_the_same(client):
    UserFactory(username="known")
    UserFactory(username="sleeper", is_active=False)
    answers = [
        login(client, "known", "wrong-password-1"),
        login(client, "nobody", "wrong-password-1"),
        login(client, "sleeper", PASSWORD),
    ]
    assert {r.status_code for r in answers} == {401}
    assert len({r.content for r in answers}) == 1
    assert answers[0].json()["code"] == "invalid_credentials"
    assert answers[0]["WWW-Authenticate"].startswith("Bearer")
    assert AuditEvent.objects.filter(action=Action.LOGIN_FAILED).count() == 3


@override_settings(PASSWORD_HASHERS=["tests.test_auth_login.CountingHasher"])
def test_unknown_user_costs_a_password_hash_like_a_wrong_password(client):
    UserFactory(username="known")
    CountingHasher.calls = 0
    login(client, "known", "wrong-password-1")
    wrong_password = CountingHasher.calls
    CountingHasher.calls = 0
    login(client, "nobody", "wrong-password-1")
    assert wrong_password == CountingHasher.calls == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "x"}, {"password": "x"}, {"username": "", "password": ""}, {"username": ["a"], "password": 1}],
)
def test_incomplete_login_bodies_are_400(client, body):
    response = client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_a_typed_password_never_reaches_the_audit_log(client):
    UserFactory(username="known")
    login(client, "known", "s3cret-typed-wrong")
    for event in AuditEvent.objects.all():
        assert "s3cret-typed-wrong" not in str(event.data)


def test_me_returns_the_callers_identity(as_user):
    user = UserFactory(username="me")
    response = as_user(user).get("/api/v1/auth/me")
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "me"
    assert response.json()["auth"] == "jwt"


def test_me_needs_a_credential(client):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_locked_spelling_answers_the_same_with_or_without_an_account(client):
    UserFactory(username="alice")
    for name in ("ALICE", "BOBBY"):  # neither spelling finds an account (usernames are exact)
        for _ in range(10):
            login(client, name, "wrong-password-1")
    # alice exists and bobby does not: both are now locked alike (the typed bucket).
    assert login(client, "alice", "wrong-password-1").status_code == 429
    assert login(client, "bobby", "wrong-password-1").status_code == 429


def test_a_kelvin_sign_look_alike_is_locked_with_the_real_spelling(client):
    for _ in range(10):
        login(client, "\u212aate@example.com", "wrong-password-1")
    assert login(client, "kate@example.com", "wrong-password-1").status_code == 429


def test_parallel_guesses_are_counted_before_the_password_is_checked(client, monkeypatch):
    """Ten more guesses arrive while the first one's password is still being hashed: together
    with it they may make ten checks, not eleven."""
    from accounts import sessions

    UserFactory(username="victim")
    real = sessions.authenticate_credentials
    during = []

    def slow_check(**kwargs):
        if not during:  # the first guess, mid-hash: the others arrive now
            during.append(None)
            during.extend(login(client, "victim", f"parallel-{n}-x").status_code for n in range(10))
        return real(**kwargs)

    monkeypatch.setattr(sessions, "authenticate_credentials", slow_check)
    first = login(client, "victim", "first-guess-x").status_code
    assert first == 401
    assert during[1:] == [401] * 9 + [429]
