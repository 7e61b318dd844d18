"""Sign in with Google: verify an ID token against Google's published keys, then link by `sub`.

The token must be RS256, signed by a key from GOOGLE_JWKS_URL (cached in the Django cache),
with `aud` = GOOGLE_CLIENT_ID, `iss` one of Google's two issuers, and not expired. An account is
found by Google's stable `sub`; an existing account with the same e-mail is linked automatically
only when Google says the address is verified and the account is not linked to another `sub`.
Linking an account whose own address was never verified claims it for the address's owner: its
password becomes unusable and its sessions, keys and pending codes are revoked (see `_claim`).
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.request

import jwt
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apikeys.services import revoke_keys_of
from audit.services import Action, record_event
from infra.errors import APIError, Conflict, Forbidden, Unauthorized

from . import mfa
from .models import OneTimeCode, RefreshFamily, User
from .registration import create_personal_team
from .selectors import user_by_email
from .sessions import TokenPair, revoke_all_sessions, start_session

ISSUERS = ("accounts.google.com", "https://accounts.google.com")
_CACHE_KEY = "google:jwks:"


def _invalid(detail: str = "The Google credential is not valid.") -> Unauthorized:
    return Unauthorized(detail, code="google_token_invalid")


def _fetch_jwks(force: bool = False) -> dict:
    from contextlib import suppress

    from infra.ratelimit import CACHE_ERRORS

    # The cache down is a miss, and a failed set is ignored: the keys come from Google then.
    key = _CACHE_KEY + settings.GOOGLE_JWKS_URL
    keys = None
    if not force:
        with suppress(*CACHE_ERRORS):
            keys = cache.get(key)
    if keys is None:
        try:
            with urllib.request.urlopen(settings.GOOGLE_JWKS_URL, timeout=5) as response:  # noqa: S310
                keys = {k["kid"]: k for k in json.load(response)["keys"] if "kid" in k}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise APIError(
                "Google's signing keys could not be fetched; try again later.",
                code="google_unavailable",
                status_code=503,
            ) from exc
        with suppress(*CACHE_ERRORS):
            cache.set(key, keys, settings.GOOGLE_JWKS_CACHE_SECONDS)
    return keys


def _signing_key(kid: str):
    keys = _fetch_jwks()
    if kid not in keys:
        keys = _fetch_jwks(force=True)  # Google rotated its keys since we cached them
    if kid not in keys:
        raise _invalid()
    return jwt.PyJWK(keys[kid], algorithm="RS256").key


def verify_credential(credential: str) -> dict:
    if not settings.GOOGLE_CLIENT_ID:
        raise APIError("Google sign-in is not configured on this server.", code="google_disabled", status_code=404)
    try:
        header = jwt.get_unverified_header(credential)
    except jwt.PyJWTError as exc:
        raise _invalid() from exc
    if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
        raise _invalid()
    try:
        claims = jwt.decode(
            credential,
            _signing_key(header["kid"]),
            algorithms=["RS256"],
            audience=settings.GOOGLE_CLIENT_ID,
            options={"require": ["exp", "iat", "iss", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The Google credential has expired.", code="google_token_expired") from exc
    except (jwt.PyJWTError, ValueError) as exc:
        raise _invalid() from exc
    if claims.get("iss") not in ISSUERS or not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise _invalid()
    return claims


def _username_for(email: str) -> str:
    base = re.sub(r"[^\w.+-]", "", email.split("@")[0])[:100] or "user"
    candidate = base
    while User.objects.filter(username__iexact=candidate).exists():
        candidate = f"{base}-{secrets.token_hex(3)}"
    return candidate


def sign_in(*, claims: dict) -> TokenPair | mfa.SecondFactorPending:
    """Sign in (or up) with verified Google claims. With a second factor enrolled: no session yet,
    a ticket for accounts.sessions.complete_second_factor."""
    sub = claims["sub"]
    email = claims.get("email") or ""
    email_verified = claims.get("email_verified") in (True, "true")
    with transaction.atomic():
        user = User.objects.filter(google_sub=sub).first()
        if user is None:
            user = _link_or_create(sub=sub, email=email, email_verified=email_verified)
        if not user.is_active:
            raise _invalid("This account is disabled.")
        if mfa.has_second_factor(user):
            return mfa.pending_sign_in(user=user, signed_in_with=RefreshFamily.SignedInWith.GOOGLE)
        pair = start_session(user=user, signed_in_with=RefreshFamily.SignedInWith.GOOGLE)
        record_event(action=Action.LOGIN_SUCCEEDED, actor_id=user.pk, status_code=200, data={"method": "google"})
    return pair


def _link_or_create(*, sub: str, email: str, email_verified: bool) -> User:
    existing = user_by_email(email) if email else None
    if existing is not None:
        if existing.google_sub:
            raise Conflict(
                "An account with this e-mail is linked to another Google account.", code="google_account_conflict"
            )
        if not email_verified:
            raise Forbidden(
                "An account with this e-mail exists; Google has not verified the address, so it cannot be "
                "linked automatically. Log in with your password.",
                code="google_email_unverified",
            )
        claimed = existing.email_verified_at is None
        existing.google_sub = sub
        fields = ["google_sub"]
        if claimed:
            _claim(existing)
            fields += ["email_verified_at", "password"]
        existing.save(update_fields=fields)
        record_event(action=Action.GOOGLE_LINKED, actor_id=existing.pk, data={"account_claimed": claimed})
        return existing
    if not email or not email_verified:
        raise Forbidden("Google has not verified this e-mail address.", code="google_email_unverified")
    if not settings.REGISTRATION_OPEN:
        raise Forbidden("Registration is closed on this server.", code="registration_closed")
    user = User(username=_username_for(email), email=email, google_sub=sub, email_verified_at=timezone.now())
    user.set_unusable_password()
    user.save()
    create_personal_team(user)
    record_event(action=Action.USER_REGISTERED, actor_id=user.pk, data={"method": "google"})
    return user


def _claim(user: User) -> None:
    """The address's owner proved it (Google verified it) on an account whose address was never
    verified. Whoever registered that account did not necessarily own the address (account
    pre-hijacking): everything they could have set up is cut off. The password becomes unusable
    (the owner sets their own through forgot-password), and every session, key and pending code
    of the account is revoked. The caller saves the user."""
    now = timezone.now()
    user.email_verified_at = now
    user.set_unusable_password()
    revoke_all_sessions(user=user, reason=RefreshFamily.RevokeReason.ACCOUNT_CLAIMED)
    revoke_keys_of(user_id=user.pk, reason="account_claimed")
    mfa.disable_totp(user=user, reason="account_claimed")
    OneTimeCode.objects.filter(user=user, used_at__isnull=True).update(used_at=now)


def unlink(*, user: User) -> None:
    if not user.google_linked:
        raise Conflict("No Google account is linked.", code="google_not_linked")
    if not user.has_usable_password():
        raise Conflict(
            "Set a password first (forgot-password), or you would have no way to sign in.", code="password_required"
        )
    with transaction.atomic():
        user.google_sub = None
        user.save(update_fields=["google_sub"])  # a save: cached copies of the user are replaced
        record_event(action=Action.GOOGLE_UNLINKED, actor_id=user.pk)
