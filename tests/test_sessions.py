"""A person's sessions: the live logins (refresh families) they can see and sign out."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import sessions
from accounts.models import RefreshFamily
from audit.models import Action, AuditEvent

from .factories import PASSWORD, RefreshFamilyFactory, UserFactory

pytestmark = pytest.mark.django_db

SESSIONS = "/api/v1/auth/sessions"
REVOKE_OTHERS = "/api/v1/auth/sessions/revoke-others"


@pytest.fixture
def user():
    return UserFactory(username="traveller")


def log_in(user, *, agent="", ip="127.0.0.1") -> dict:
    """A login through the API (so the family records where it came from): the token pair."""
    response = APIClient().post(
        "/api/v1/auth/login",
        {"username": user.username, "password": PASSWORD},
        format="json",
        HTTP_USER_AGENT=agent,
        REMOTE_ADDR=ip,
    )
    assert response.status_code == 200, response.content
    return response.json()


def with_token(pair) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    return client


def refresh(pair):
    return APIClient().post("/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")


def family_of(pair) -> RefreshFamily:
    from accounts.tokens import RefreshToken

    return RefreshFamily.objects.get(pk=RefreshToken(pair["refresh_token"])["fam"])


# --- the list ---------------------------------------------------------------------------------


def test_the_list_shows_only_my_live_logins_newest_first_and_marks_the_current_one(user):
    laptop = log_in(user, agent="Firefox on the laptop", ip="198.51.100.7")
    phone = log_in(user, agent="Safari on the phone", ip="2001:db8::1")
    log_in(UserFactory(username="someone-else"))
    revoked = log_in(user)
    sessions.logout(raw=revoked["refresh_token"])
    expired = log_in(user)
    RefreshFamily.objects.filter(pk=family_of(expired).pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = with_token(laptop).get(SESSIONS)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [str(family_of(phone).pk), str(family_of(laptop).pk)]
    assert [row["current"] for row in rows] == [False, True]
    phone_row, laptop_row = rows
    assert set(laptop_row) == {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip",
        "current",
        # how it signed in (issue 27): a password, no second factor
        "signed_in_with",
        "second_factor",
    }
    assert laptop_row["signed_in_with"] == "password" and laptop_row["second_factor"] is None
    assert laptop_row["user_agent"] == "Firefox on the laptop" and laptop_row["ip"] == "198.51.100.7"
    assert phone_row["user_agent"] == "Safari on the phone" and phone_row["ip"] == "2001:db8::1"
    assert laptop_row["last_used_at"] == laptop_row["created_at"]  # never refreshed yet
    assert with_token(phone).get(SESSIONS).json()["results"][0]["current"] is True


def test_last_used_at_is_the_last_refresh(user):
    pair = log_in(user)
    assert refresh(pair).status_code == 200
    row = with_token(pair).get(SESSIONS).json()["results"][0]
    family = family_of(pair)
    assert family.last_refreshed_at is not None
    assert row["last_used_at"] != row["created_at"]
    assert row["last_used_at"].startswith(family.last_refreshed_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_a_login_outside_a_request_records_no_client():
    family = RefreshFamily.objects.get(pk=sessions.start_session(user=UserFactory()).family_id)
    assert family.user_agent == "" and family.ip is None


def test_anonymous_callers_are_401():
    assert APIClient().get(SESSIONS).status_code == 401
    assert APIClient().post(REVOKE_OTHERS).status_code == 401
    assert APIClient().delete(f"{SESSIONS}/{uuid.uuid4()}").status_code == 401


# --- revoking one -----------------------------------------------------------------------------


def test_revoking_one_session_kills_its_refresh_and_is_audited(user):
    current = log_in(user)
    other = log_in(user)
    family = family_of(other)

    response = with_token(current).delete(f"{SESSIONS}/{family.pk}")
    assert response.status_code == 204
    family.refresh_from_db()
    assert family.revoked_at is not None and family.revoke_reason == RefreshFamily.RevokeReason.USER_REVOKED
    stale = refresh(other)
    assert stale.status_code == 401 and stale.json()["code"] == "token_revoked"
    assert refresh(current).status_code == 200
    event = AuditEvent.objects.get(action=Action.SESSION_REVOKED)
    assert event.actor_id == user.pk and event.data == {"family": str(family.pk)} and event.status_code == 204
    assert [row["id"] for row in with_token(current).get(SESSIONS).json()["results"]] == [str(family_of(current).pk)]


def test_another_users_session_is_a_404_and_changes_nothing(user):
    mine = log_in(user)
    theirs = family_of(log_in(UserFactory(username="victim")))

    response = with_token(mine).delete(f"{SESSIONS}/{theirs.pk}")
    unknown = with_token(mine).delete(f"{SESSIONS}/{uuid.uuid4()}")
    assert response.status_code == unknown.status_code == 404
    assert response.json() == unknown.json()
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert not AuditEvent.objects.filter(action=Action.SESSION_REVOKED).exists()


def test_a_session_that_is_no_longer_live_is_a_404(user):
    mine = log_in(user)
    revoked = RefreshFamilyFactory(user=user, revoked_at=timezone.now(), revoke_reason="logout")
    expired = RefreshFamilyFactory(user=user, expires_at=timezone.now() - timedelta(seconds=1))
    for family in (revoked, expired):
        assert with_token(mine).delete(f"{SESSIONS}/{family.pk}").status_code == 404
    assert RefreshFamily.objects.get(pk=revoked.pk).revoke_reason == "logout"
    assert RefreshFamily.objects.get(pk=expired.pk).revoked_at is None


def test_revoking_the_current_session_stops_its_refresh(user):
    pair = log_in(user)
    assert with_token(pair).delete(f"{SESSIONS}/{family_of(pair).pk}").status_code == 204
    assert refresh(pair).json()["code"] == "token_revoked"


# --- revoking the others ----------------------------------------------------------------------


def test_revoke_others_keeps_the_current_session_working(user):
    current = log_in(user)
    others = [log_in(user), log_in(user)]
    RefreshFamilyFactory(user=user, expires_at=timezone.now() - timedelta(seconds=1))  # not live: not counted
    bystander = log_in(UserFactory(username="bystander"))

    response = with_token(current).post(REVOKE_OTHERS)
    assert response.status_code == 200
    assert response.json() == {"revoked": 2}
    for pair in others:
        assert refresh(pair).json()["code"] == "token_revoked"
        assert family_of(pair).revoke_reason == RefreshFamily.RevokeReason.USER_REVOKED
    assert refresh(bystander).status_code == 200
    rotated = refresh(current)
    assert rotated.status_code == 200
    assert with_token(rotated.json()).get("/api/v1/auth/me").status_code == 200
    event = AuditEvent.objects.get(action=Action.SESSION_REVOKED)
    assert event.actor_id == user.pk and event.data == {"others": 2} and event.status_code == 200

    again = with_token(current).post(REVOKE_OTHERS)
    assert again.json() == {"revoked": 0}
    assert AuditEvent.objects.filter(action=Action.SESSION_REVOKED).count() == 2


# --- API keys ---------------------------------------------------------------------------------


def test_api_keys_are_refused(owner, team, key_for, as_key):
    pair = log_in(owner)
    _, raw = key_for(owner, team)
    client = as_key(raw, team)
    for response in (
        client.get(SESSIONS),
        client.delete(f"{SESSIONS}/{family_of(pair).pk}"),
        client.post(REVOKE_OTHERS),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "interactive_login_required"
    assert family_of(pair).revoked_at is None
    assert not AuditEvent.objects.filter(action=Action.SESSION_REVOKED).exists()
