"""JWT authentication: simplejwt's class, with our error codes and no claim on gf_ keys."""

import copy

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from apikeys.keys import KEY_PREFIX
from infra.coherence import ProcessCache
from infra.errors import Unauthorized

_users = ProcessCache()


def clear() -> None:
    _users.clear()


class JWTAuthentication(authentication.JWTAuthentication):
    """Bearer access tokens (HS256, aud/iss checked, `token_type` must be `access`).

    Runs after the API-key class; a `gf_` value is never a JWT, so it is left alone here.
    """

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
        """simplejwt's checks (the user exists, is active, and the token's password fingerprint
        is current), on every request; only the row is cached, per process and coherent like the
        principal cache (a user saved, e.g. deactivated or with a new password, replaces the
        generation: infra.coherence). Each request gets its own copy of the row."""
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise Unauthorized("The access token is invalid.", code="token_invalid") from exc
        model = self.user_model
        user = _users.get(str(user_id), lambda: model.objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first())
        if user is None:
            raise AuthenticationFailed(_("User not found"))
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"))
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."))
        return copy.copy(user)
