"""Sign in with Google, against a local RSA key and a local JWKS file (no network)."""

import base64
import hashlib
import hmac
import json
import re
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core import mail
from django.core.cache import cache

from accounts.models import User
from audit.models import Action, AuditEvent
from teams.models import Membership

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

CLIENT_ID = "1234-test.apps.googleusercontent.com"
URL = "/api/v1/auth/google"


def _rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


GOOGLE_KEY = _rsa()
ATTACKER_KEY = _rsa()


@pytest.fixture(autouse=True)
def google(settings, tmp_path):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(GOOGLE_KEY.public_key()))
    jwks = tmp_path / "certs.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}))
    settings.GOOGLE_CLIENT_ID = CLIENT_ID
    settings.GOOGLE_JWKS_URL = jwks.as_uri()
    return jwks


def credential(key=GOOGLE_KEY, kid="k1", algorithm="RS256", **claims):
    now = int(time.time())
    payload = {
        "iss": "https://accounts.google.com",
        "aud": CLIENT_ID,
        "sub": "google-sub-1",
        "email": "ada@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


def sign_in(client, token):
    return client.post(URL, {"credential": token}, format="json")


def test_a_new_google_user_gets_an_account_a_team_and_a_jwt_pair(client):
    response = sign_in(client, credential())
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}
    user = User.objects.get(google_sub="google-sub-1")
    assert user.email == "ada@example.com" and user.email_verified and not user.has_usable_password()
    assert Membership.objects.filter(user=user).count() == 1
    assert AuditEvent.objects.filter(action=Action.LOGIN_SUCCEEDED, actor=user, data__method="google").exists()


def test_signing_in_again_finds_the_account_by_sub_even_if_the_email_changed(client):
    sign_in(client, credential())
    assert sign_in(client, credential(email="ada.new@example.com")).status_code == 200
    assert User.objects.count() == 1


def test_an_existing_account_is_linked_when_google_verified_the_email(client):
    user = UserFactory(email="Ada@Example.com")
    assert sign_in(client, credential()).status_code == 200
    user.refresh_from_db()
    assert user.google_sub == "google-sub-1"
    assert AuditEvent.objects.filter(action=Action.GOOGLE_LINKED, actor=user).exists()


def test_an_unverified_google_email_never_links_an_existing_account(client):
    user = UserFactory(email="ada@example.com")
    response = sign_in(client, credential(email_verified=False))
    assert response.status_code == 403
    assert response.json()["code"] == "google_email_unverified"
    user.refresh_from_db()
    assert user.google_sub is None


def test_the_same_email_with_a_different_sub_cannot_take_over_an_account(client):
    sign_in(client, credential(sub="victim-sub"))
    response = sign_in(client, credential(sub="attacker-sub"))
    assert response.status_code == 409
    assert response.json()["code"] == "google_account_conflict"
    assert User.objects.get().google_sub == "victim-sub"


@pytest.mark.parametrize(
    "token_kwargs,code",
    [
        ({"aud": "someone-else.apps.googleusercontent.com"}, "google_token_invalid"),
        ({"iss": "https://evil.example.com"}, "google_token_invalid"),
        ({"iss": None}, "google_token_invalid"),
        ({"exp": int(time.time()) - 10}, "google_token_expired"),
        ({"key": ATTACKER_KEY}, "google_token_invalid"),
        ({"kid": "unknown"}, "google_token_invalid"),
        ({"sub": None}, "google_token_invalid"),
    ],
    ids=["wrong-aud", "wrong-iss", "no-iss", "expired", "bad-signature", "unknown-kid", "no-sub"],
)
def test_bad_google_tokens_are_refused(client, token_kwargs, code):
    response = sign_in(client, credential(**token_kwargs))
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert not User.objects.exists()


def test_both_google_issuers_are_accepted(client):
    assert sign_in(client, credential(iss="accounts.google.com")).status_code == 200


def test_an_hs256_token_signed_with_the_public_key_is_refused(client):
    public_pem = GOOGLE_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    # The classic key-confusion attack: HMAC "signed" with the RSA public key.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    claims = {"iss": "accounts.google.com", "aud": CLIENT_ID, "sub": "x", "exp": int(time.time()) + 60, "iat": 1}
    header = json.dumps({"alg": "HS256", "kid": "k1"}).encode()
    signing_input = f"{b64(header)}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(signature)}"
    assert sign_in(client, forged).status_code == 401
    assert sign_in(client, credential(algorithm="RS384")).status_code == 401


@pytest.mark.parametrize(
    ("garbage", "status", "code"),
    [
        ("", 400, "validation_error"),
        ("x", 401, "google_token_invalid"),
        ("a.b.c", 401, "google_token_invalid"),
        ("eyJhbGciOiJub25lIn0.e30.", 401, "google_token_invalid"),
    ],
)
def test_garbage_credentials_are_refused(client, garbage, status, code):
    response = sign_in(client, garbage)
    assert response.status_code == status
    assert response.json()["code"] == code


def test_the_jwks_is_cached_and_refetched_for_a_new_kid(client, google):
    sign_in(client, credential())
    google.write_text(json.dumps({"keys": []}))  # Google's endpoint changes...
    # ...the cached keys still serve
    assert sign_in(client, credential(sub="second", email="grace@example.com")).status_code == 200
    assert sign_in(client, credential(kid="rotated")).status_code == 401  # unknown kid: refetched, still unknown


def test_an_unreachable_jwks_is_503(client, settings, tmp_path):
    settings.GOOGLE_JWKS_URL = (tmp_path / "missing.json").as_uri()
    cache.clear()
    response = sign_in(client, credential())
    assert response.status_code == 503
    assert response.json()["code"] == "google_unavailable"


def test_google_sign_in_is_off_without_a_client_id(client, settings):
    settings.GOOGLE_CLIENT_ID = ""
    assert sign_in(client, credential()).status_code == 404


def test_closed_registration_stops_new_google_accounts_but_not_existing_ones(client, settings):
    settings.REGISTRATION_OPEN = False
    assert sign_in(client, credential()).json()["code"] == "registration_closed"
    UserFactory(email="ada@example.com")
    assert sign_in(client, credential()).status_code == 200


def test_an_inactive_linked_account_cannot_sign_in(client):
    sign_in(client, credential())
    User.objects.update(is_active=False)
    assert sign_in(client, credential()).status_code == 401


# --- account summary and unlink -------------------------------------------


def test_account_summary_for_a_password_account(as_user):
    user = UserFactory(username="pat")
    body = as_user(user).get("/api/v1/me/account").json()
    assert body == {
        "username": "pat",
        "email": "pat@example.com",
        "email_verified": True,
        "google_linked": False,
        "has_password": True,
        "can_unlink_google": False,
        "available_sign_in_methods": ["password"],
        "teams": 0,
    }


def test_a_google_only_account_cannot_unlink(client):
    tokens = sign_in(client, credential()).json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
    body = client.get("/api/v1/me/account", **auth).json()
    assert body["available_sign_in_methods"] == ["google"]
    assert body["has_password"] is False and body["can_unlink_google"] is False
    response = client.post("/api/v1/me/google/unlink", **auth)
    assert response.status_code == 409
    assert response.json()["code"] == "password_required"
    assert User.objects.get().google_sub == "google-sub-1"


def test_unlink_works_when_a_password_exists(client, as_user):
    user = UserFactory(email="ada@example.com")
    sign_in(client, credential())
    body = as_user(user).get("/api/v1/me/account").json()
    assert body["available_sign_in_methods"] == ["password", "google"] and body["can_unlink_google"] is True
    response = as_user(user).post("/api/v1/me/google/unlink")
    assert response.status_code == 200
    assert response.json()["google_linked"] is False
    assert as_user(user).post("/api/v1/me/google/unlink").json()["code"] == "google_not_linked"
    user.refresh_from_db()
    assert user.google_sub is None and user.check_password(PASSWORD)
    assert AuditEvent.objects.filter(action=Action.GOOGLE_UNLINKED, actor=user).exists()


def test_unlink_refuses_api_keys(as_key, key_for, owner, team):
    _, raw = key_for(owner, team, ["admin"])
    assert as_key(raw, team).post("/api/v1/me/google/unlink").status_code == 403


# --- account pre-hijacking ---------------------------------------------------


def test_google_sign_in_claims_an_account_preregistered_by_someone_else(client, as_key, key_for, team):
    # The attacker registers the victim's address with their own password; it stays unverified.
    body = {"username": "victim", "email": "ada@example.com", "password": "attackers-secret-9"}
    assert client.post("/api/v1/auth/register", body, format="json").status_code == 201
    attacker_account = User.objects.get(email="ada@example.com")
    assert attacker_account.email_verified_at is None
    # Whatever the attacker could have set up before the victim arrives: a membership and a key.
    Membership.objects.create(team=team, user=attacker_account, role="member")
    _, raw = key_for(attacker_account, team, permissions=["read:campaigns"])
    # The victim signs in with Google, which has verified the address.
    response = sign_in(client, credential())
    assert response.status_code == 200
    victim = User.objects.get(pk=attacker_account.pk)
    assert victim.google_sub == "google-sub-1" and victim.email_verified
    assert not victim.has_usable_password()
    # The attacker's password no longer logs in, their key is revoked, their code is dead.
    login = client.post(
        "/api/v1/auth/login", {"username": "ada@example.com", "password": "attackers-secret-9"}, format="json"
    )
    assert login.status_code == 401
    assert as_key(raw, team).get("/api/v1/campaigns").json()["code"] == "key_revoked"
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    verify = {"email": "ada@example.com", "code": code}
    assert client.post("/api/v1/auth/verify-email", verify, format="json").status_code == 400
    event = AuditEvent.objects.get(action=Action.GOOGLE_LINKED)
    assert event.actor_id == victim.pk and event.data == {"account_claimed": True}


def test_google_sign_in_ends_the_sessions_of_a_claimed_account(client):
    from accounts.models import RefreshFamily
    from accounts.sessions import start_session

    user = UserFactory(email="ada@example.com", email_verified_at=None)
    pair = start_session(user=user)  # e.g. a session opened before the rule existed
    assert sign_in(client, credential()).status_code == 200
    family = RefreshFamily.objects.get(pk=pair.family_id)
    assert family.revoke_reason == RefreshFamily.RevokeReason.ACCOUNT_CLAIMED
    response = client.post("/api/v1/auth/refresh", {"refresh_token": pair.refresh_token}, format="json")
    assert response.status_code == 401


def test_linking_a_verified_account_keeps_its_password(client):
    user = UserFactory(email="ada@example.com")
    assert sign_in(client, credential()).status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert AuditEvent.objects.get(action=Action.GOOGLE_LINKED).data == {"account_claimed": False}


def test_google_sign_in_in_cookie_mode_sets_the_refresh_cookie(client):
    response = client.post(URL, {"credential": credential()}, format="json", HTTP_X_GHOSTFLOW_SESSION="cookie")
    assert response.status_code == 200
    assert "refresh_token" not in response.json() and response.json()["access_token"]
    cookie = response.cookies["__Host-gf_refresh"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/" and cookie["secure"]
