"""JWT authentication: simplejwt's class, with our error codes and no claim on gf_ keys."""

from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings

from apikeys.keys import KEY_PREFIX
from infra.errors import Unauthorized


class JWTAuthentication(authentication.JWTAuthentication):
    """Bearer access tokens (HS256, aud/iss checked, `token_type` must be `access`).

    Runs after the API-key class; a `gf_` value is never a JWT, so it is left alone here.
    """

    credential_kind = "jwt"  # access.context.KINDS says what a login may do

    credential_kind = "jwt"  # access.context.KINDS says what a login may do

    def authenticate(self, request):
        header = self.get_header(request)
        if header is None:
            return None
        raw = self.get_raw_token(header)
        if raw is None or raw.startswith(KEY_PREFIX.encode()):
            return None
        validated = self.get_validated_token(raw)
        return self.get_user(validated), validated

    def get_validated_token(self, raw_token):
        for token_class in api_settings.AUTH_TOKEN_CLASSES:
            try:
                return token_class(raw_token)
            except ExpiredTokenError as exc:
                raise Unauthorized("The access token has expired.", code="token_expired") from exc
            except TokenError as exc:
                raise Unauthorized("The access token is invalid.", code="token_invalid") from exc
        raise Unauthorized("The access token is invalid.", code="token_invalid")

    def get_user(self, validated_token):
        try:
            return super().get_user(validated_token)
        except InvalidToken as exc:
            raise Unauthorized("The access token is invalid.", code="token_invalid") from exc
