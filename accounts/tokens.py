"""JWTs: simplejwt's access token, and a refresh token that belongs to a RefreshFamily."""

from django.utils.crypto import salted_hmac
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, Token

from access.context import FAMILY_CLAIM


class RefreshToken(Token):
    token_type = "refresh"
    lifetime = api_settings.REFRESH_TOKEN_LIFETIME


def password_fingerprint(password_hash: str) -> str:
    return salted_hmac("ghostflow.refresh-family", password_hash, algorithm="sha256").hexdigest()


__all__ = ["FAMILY_CLAIM", "AccessToken", "RefreshToken", "password_fingerprint"]
