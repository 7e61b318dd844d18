"""Access tokens: HS256 only, dedicated key, aud/iss checked, type checked."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.sessions import start_session

from .factories import UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def claims(user):
    token = start_session(user=user).access_token
    return jwt.decode(token, options={"verify_signature": False})


def call(client, token):
    return client.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")


def sign(payload, key=None, algorithm="HS256", headers=None):
    return jwt.encode(payload, key or settings.JWT_SIGNING_KEY, algorithm=algorithm, headers=headers)


def test_a_valid_token_is_accepted(client, claims):
    assert call(client, sign(claims)).status_code == 200


def test_the_token_carries_aud_and_iss_and_uses_hs256(user):
    token = start_session(user=user).access_token
    header = jwt.get_unverified_header(token)
    body = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert body["aud"] == settings.SIMPLE_JWT["AUDIENCE"]
    assert body["iss"] == settings.SIMPLE_JWT["ISSUER"]
    assert body["token_type"] == "access"
    assert body["exp"] - body["iat"] == 300


def test_an_access_token_is_signed_with_the_dedicated_key_not_secret_key(client, claims):
    assert settings.JWT_SIGNING_KEY != settings.SECRET_KEY
    assert call(client, sign(claims, key=settings.SECRET_KEY)).status_code == 401


def test_a_tampered_token_is_refused(client, user, claims):
    token = sign(claims)
    header, payload, signature = token.split(".")
    forged = dict(claims, user_id=str(UserFactory().pk))
    payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    response = call(client, f"{header}.{payload}.{signature}")
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_alg_none_is_refused(client, claims):
    token = jwt.encode(claims, None, algorithm="none")
    assert call(client, token).status_code == 401


def test_other_algorithms_are_refused_even_with_the_right_key(client, claims):
    token = jwt.encode(claims, settings.JWT_SIGNING_KEY + "x" * 40, algorithm="HS512")
    assert call(client, token).status_code == 401


def test_an_expired_token_is_refused(client, user):
    token = start_session(user=user).access_token
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        response = call(client, token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


@pytest.mark.parametrize("claim,value", [("aud", "someone-else"), ("iss", "evil"), ("aud", None), ("iss", None)])
def test_a_wrong_or_missing_audience_or_issuer_is_refused(client, claims, claim, value):
    if value is None:
        claims.pop(claim)
    else:
        claims[claim] = value
    assert call(client, sign(claims)).status_code == 401


def test_a_refresh_token_is_not_an_access_token(client, user):
    refresh = start_session(user=user).refresh_token
    response = call(client, refresh)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_a_token_without_type_is_refused(client, claims):
    claims.pop("token_type")
    assert call(client, sign(claims)).status_code == 401


def test_an_inactive_users_token_is_refused(client, user, claims):
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert call(client, sign(claims)).status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not.a.jwt", "Basic Zm9vOmJhcg==", "Token x"])
def test_garbage_authorization_headers_get_401_not_500(client, header):
    response = client.get(ME, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
