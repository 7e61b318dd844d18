"""JWT authentication: simplejwt's class, with our error codes and no claim on gf_ keys; and the
rule that says whether a login's user may still act (`login_refusal`)."""

import copy
import hmac

from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from access.refusals import Refusal
from apikeys.keys import KEY_PREFIX
from infra.coherence import ProcessCache
from infra.errors import Unauthorized

_users = ProcessCache()

USER_NOT_FOUND = Refusal("user_inactive", "authentication_failed", "User not found")
USER_INACTIVE = Refusal("user_inactive", "authentication_failed", "User is inactive")
PASSWORD_CHANGED = Refusal("password_changed", "token_revoked", "The password has been changed since this login.")


def password_stamp(user) -> str:
    """What a login remembers of the password it was made with (simplejwt's revoke claim, in
    every access token); a new password gives a new stamp. Not a secret of its own: a hash of the
    stored hash."""
    return get_md5_hash_password(user.password)


def login_refusal(user, *, stamp: str | None) -> Refusal | None:
    """Why a login made as `user` with the password `stamp`ed so may no longer act, or None: the
    one rule for a login's user, which JWTAuthentication applies on every request and the live
    stream's re-check (livestream.holders) to every login holding a stream. Whether its session
    is still signed in is accounts.sessions.signed_in."""
    if user is None:
        return USER_NOT_FOUND
    if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
        return USER_INACTIVE
    if api_settings.CHECK_REVOKE_TOKEN and not hmac.compare_digest(str(stamp or ""), password_stamp(user)):
        return PASSWORD_CHANGED
    return None


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
        refusal = login_refusal(user, stamp=validated_token.get(api_settings.REVOKE_TOKEN_CLAIM))
        if refusal is not None:
            raise refusal.error()
        return copy.copy(user)
