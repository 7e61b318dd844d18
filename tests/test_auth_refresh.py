import threading
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts import activation, passwords, sessions
from accounts.models import RefreshFamily
from audit.models import Action, AuditEvent

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def refresh(client, token):
    return client.post("/api/v1/auth/refresh", {"refresh_token": token}, format="json")


@pytest.fixture
def user():
    return UserFactory(username="rotator")


@pytest.fixture
def pair(client, user):
    response = client.post("/api/v1/auth/login", {"username": "rotator", "password": PASSWORD}, format="json")
    return response.json()


def test_refresh_returns_a_new_pair(client, pair):
    response = refresh(client, pair["refresh_token"])
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] != pair["refresh_token"]
    assert body["token_type"] == "bearer"
    assert client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").status_code == 200


def test_a_rotated_chain_keeps_working(client, pair):
    token = pair["refresh_token"]
    for _ in range(3):
        response = refresh(client, token)
        assert response.status_code == 200
        token = response.json()["refresh_token"]


def test_replaying_a_used_refresh_token_revokes_the_whole_family(client, pair, user):
    fresh = refresh(client, pair["refresh_token"]).json()["refresh_token"]

    replay = refresh(client, pair["refresh_token"])
    assert replay.status_code == 401
    assert replay.json()["code"] == "token_reused"
    # The legitimate holder's newer token dies with the family.
    after = refresh(client, fresh)
    assert after.status_code == 401
    assert after.json()["code"] == "token_revoked"
    assert RefreshFamily.objects.get(user=user).revoke_reason == "reuse"
    assert AuditEvent.objects.filter(action=Action.REFRESH_REUSE, actor=user).count() == 1


def test_replay_only_revokes_its_own_family(client, pair, user):
    other = sessions.start_session(user=user)
    refresh(client, pair["refresh_token"])
    refresh(client, pair["refresh_token"])
    assert refresh(client, other.refresh_token).status_code == 200


def test_the_family_has_an_absolute_lifetime(client, pair):
    token = pair["refresh_token"]
    cap = timedelta(seconds=settings.JWT_SESSION_MAX_AGE)
    step = timedelta(seconds=settings.JWT_REFRESH_TOKEN_LIFETIME) / 2
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        elapsed = timedelta(0)
        while elapsed + step < cap:
            traveller.shift(step)
            elapsed += step
            response = refresh(client, token)
            assert response.status_code == 200, elapsed
            token = response.json()["refresh_token"]
        traveller.shift(cap - elapsed + timedelta(seconds=1))
        response = refresh(client, token)
    assert response.status_code == 401
    # The last token's own exp was clipped to the family cap: it has expired, so it is no longer
    # a valid token at all (`session_expired` is for a live token of a family past its cap).
    assert response.json()["code"] == "token_invalid"


def test_the_refresh_token_exp_never_exceeds_the_family_cap(pair):
    from accounts.tokens import RefreshToken

    token = RefreshToken(pair["refresh_token"])
    family = RefreshFamily.objects.get(pk=token["fam"])
    assert token["exp"] <= int(family.expires_at.timestamp())


def test_an_expired_family_is_refused_even_with_the_current_token(client, pair):
    RefreshFamily.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = refresh(client, pair["refresh_token"])
    assert response.status_code == 401
    assert response.json()["code"] == "session_expired"


def test_logout_revokes_the_family(client, pair):
    rotated = refresh(client, pair["refresh_token"]).json()["refresh_token"]
    response = client.post("/api/v1/auth/logout", {"refresh_token": rotated}, format="json")
    assert response.status_code == 204
    assert refresh(client, rotated).json()["code"] == "token_revoked"
    # Logging out twice is harmless.
    assert client.post("/api/v1/auth/logout", {"refresh_token": rotated}, format="json").status_code == 204


def test_logout_with_garbage_is_401(client):
    response = client.post("/api/v1/auth/logout", {"refresh_token": "nope"}, format="json")
    assert response.status_code == 401


def test_changing_the_password_revokes_every_family(client, pair, user):
    passwords.set_password(user=user, password="a-brand-new-password")
    assert refresh(client, pair["refresh_token"]).status_code == 401
    assert not RefreshFamily.objects.active().exists()


def test_a_password_changed_outside_the_service_still_stops_refresh(client, pair, user):
    # e.g. `manage.py changepassword` or the admin's password form
    user.set_password("changed-elsewhere-1")
    user.save()
    response = refresh(client, pair["refresh_token"])
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_a_password_change_also_kills_access_tokens(client, pair, user):
    user.set_password("changed-elsewhere-1")
    user.save()
    response = client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    assert response.status_code == 401


def test_deactivating_a_user_revokes_every_family(client, pair, user):
    activation.set_active(user=user, active=False)
    assert not RefreshFamily.objects.active().exists()
    assert refresh(client, pair["refresh_token"]).status_code == 401


def test_an_inactive_users_family_cannot_refresh_even_if_not_revoked(client, pair, user):
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert refresh(client, pair["refresh_token"]).status_code == 401


def test_an_access_token_is_not_a_refresh_token(client, pair):
    response = refresh(client, pair["access_token"])
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "validation_error"),
        ({"refresh_token": ""}, 400, "validation_error"),
        ({"refresh_token": ["x"]}, 400, "validation_error"),
        ({"refresh_token": 5}, 400, "validation_error"),  # text fields take text only (infra/strict.py)
        ({"refresh_token": "not-a-jwt"}, 401, "token_invalid"),
    ],
)
def test_refresh_rejects_malformed_bodies(client, body, status, code):
    response = client.post("/api/v1/auth/refresh", body, format="json")
    assert response.status_code == status
    assert response.json()["code"] == code


@pytest.mark.django_db(transaction=True)
def test_of_concurrent_refreshes_with_one_token_exactly_one_succeeds():
    token = sessions.start_session(user=UserFactory(username="racer")).refresh_token
    threads, results, barrier = [], [], threading.Barrier(6)

    def worker():
        try:
            barrier.wait()
            response = Client().post("/api/v1/auth/refresh", {"refresh_token": token}, content_type="application/json")
            results.append(response.status_code)
        finally:
            connection.close()

    for _ in range(6):
        threads.append(threading.Thread(target=worker))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results).count(200) == 1, results
    assert all(status == 401 for status in results if status != 200), results
