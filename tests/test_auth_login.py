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


def test_it_logs_in_with_username(client):
    user = UserFactory(username="hershel")
    response = login(client, "hershel", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 300
    assert AuditEvent.objects.filter(action=Action.LOGIN_SUCCEEDED, actor=user).count() == 1


def test_it_logs_in_with_email_in_any_case(client):
    UserFactory(username="hershel", email="Hershel@Example.com")
    assert login(client, "hershel@EXAMPLE.com", PASSWORD).status_code == 200


def test_username_match_wins_over_email_match(client):
    UserFactory(username="a@example.com", email="first@example.com")
    UserFactory(username="second", email="a@example.com")
    assert login(client, "a@example.com", PASSWORD).status_code == 200
    assert login(client, "a@example.com", "wrong-password-1").status_code == 401


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
def test_it_rejects_incomplete_bodies_with_400(client, body):
    response = client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_it_never_writes_the_password_into_the_audit_log(client):
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
