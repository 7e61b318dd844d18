"""Sessions: password login, JWT pairs and refresh families (rotation, reuse, logout)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError

from audit.services import Action, record_event
from infra.errors import Forbidden, Unauthorized

from .models import RefreshFamily, User
from .tokens import FAMILY_CLAIM, AccessToken, RefreshToken, password_fingerprint

INVALID_CREDENTIALS = "Invalid username or password."


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    family_id: uuid.UUID

    def as_response(self) -> dict:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }


def login_account_key(*, user: User | None, identifier: str) -> str:
    """What the per-account login limit counts against: the account itself when the identifier
    names one, so its username, its e-mail and any spelling that finds it share one bucket; else
    what was typed, case-folded."""
    if user is not None:
        return f"user:{user.pk}"
    return "typed:" + identifier.strip().casefold()


def authenticate_credentials(*, user: User | None, password: str) -> User | None:
    """The user if the password is theirs and they are active, or None. Every failure costs one
    password hash, so the unknown-user path takes as long as a wrong password."""
    if user is None:
        make_password(password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def start_session(*, user: User) -> TokenPair:
    """A new login family and its first token pair."""
    now = timezone.now()
    jti = uuid.uuid4().hex
    family = RefreshFamily.objects.create(
        user=user,
        current_jti=jti,
        expires_at=now + timedelta(seconds=settings.JWT_SESSION_MAX_AGE),
        password_fingerprint=password_fingerprint(user.password),
    )
    return _pair(user=user, family=family, jti=jti)


def _pair(*, user: User, family: RefreshFamily, jti: str) -> TokenPair:
    refresh = RefreshToken()
    refresh["jti"] = jti
    refresh["user_id"] = str(user.pk)
    refresh[FAMILY_CLAIM] = str(family.pk)
    # Rotation never extends a family past its absolute cap.
    if refresh["exp"] > int(family.expires_at.timestamp()):
        refresh["exp"] = int(family.expires_at.timestamp())
    return TokenPair(
        access_token=_access_token(user, family.pk),
        refresh_token=str(refresh),
        expires_in=int(AccessToken.lifetime.total_seconds()),
        family_id=family.pk,
    )


def login(*, user: User | None, password: str) -> TokenPair:
    """Log in `user` (found by find_login_user; None when nobody matched) with `password`."""
    with transaction.atomic():
        user = authenticate_credentials(user=user, password=password)
        if user is None:
            record_event(action=Action.LOGIN_FAILED, status_code=401)
        elif not user.email_verified:
            record_event(
                action=Action.LOGIN_FAILED,
                actor_id=user.pk,
                status_code=403,
                data={"reason": "email_unverified"},
            )
        else:
            pair = start_session(user=user)
            record_event(
                action=Action.LOGIN_SUCCEEDED,
                actor_id=user.pk,
                status_code=200,
                data={"method": "password"},
            )
    if user is None:
        raise Unauthorized(INVALID_CREDENTIALS, code="invalid_credentials")
    if not user.email_verified:
        # Only after a correct password: this says nothing to someone guessing.
        raise Forbidden("Verify your e-mail address first; we sent you a code.", code="email_unverified")
    return pair


def _decode_refresh(raw: str) -> RefreshToken:
    try:
        token = RefreshToken(raw)
    except TokenError as exc:
        raise Unauthorized("The refresh token is invalid or expired.", code="token_invalid") from exc
    if FAMILY_CLAIM not in token.payload:
        raise Unauthorized("The refresh token is invalid or expired.", code="token_invalid")
    return token


def revoke_families(family_ids, *, reason: str) -> int:
    return RefreshFamily.objects.filter(pk__in=family_ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=reason
    )


def rotate_refresh_token(*, raw: str) -> TokenPair:
    """Exchange a refresh token for a new pair, atomically.

    The swap is one conditional UPDATE on the family row: only the caller that still holds the
    current jti changes it, so of N concurrent exchanges exactly one gets a row. Anything else
    that verifies but no longer matches is a replay, which revokes the whole family (and is
    committed even though the request fails).
    """
    token = _decode_refresh(raw)
    family_id, jti = token[FAMILY_CLAIM], token["jti"]
    now = timezone.now()
    new_jti = uuid.uuid4().hex
    try:
        family_uuid = uuid.UUID(str(family_id))
    except ValueError as exc:
        raise Unauthorized("The refresh token is invalid or expired.", code="token_invalid") from exc

    with transaction.atomic():
        swapped = RefreshFamily.objects.filter(
            pk=family_uuid, current_jti=jti, revoked_at__isnull=True, expires_at__gt=now
        ).update(current_jti=new_jti, last_refreshed_at=now)
        family = RefreshFamily.objects.select_related("user").filter(pk=family_uuid).first()
        failure = None
        if family is None:
            failure = ("The refresh token is invalid or expired.", "token_invalid")
        elif not swapped:
            if family.revoked_at is not None:
                failure = ("This session has been signed out.", "token_revoked")
            elif family.expires_at <= now:
                failure = ("This session has reached its maximum age; log in again.", "session_expired")
            else:
                revoke_families([family.pk], reason=RefreshFamily.RevokeReason.REUSE)
                record_event(
                    action=Action.REFRESH_REUSE,
                    actor_id=family.user_id,
                    status_code=401,
                    data={"family": str(family.pk)},
                )
                failure = ("This refresh token was already used; the session has been revoked.", "token_reused")
        elif not family.user.is_active:
            revoke_families([family.pk], reason=RefreshFamily.RevokeReason.DEACTIVATED)
            failure = ("The refresh token is invalid or expired.", "token_invalid")
        elif family.password_fingerprint != password_fingerprint(family.user.password):
            revoke_families([family.pk], reason=RefreshFamily.RevokeReason.PASSWORD_CHANGED)
            failure = ("The password was changed; log in again.", "token_revoked")
    if failure is not None:
        raise Unauthorized(failure[0], code=failure[1])
    return _pair(user=family.user, family=family, jti=new_jti)


def logout(*, raw: str) -> None:
    """Revoke the family of this refresh token. Idempotent; an already revoked family is fine."""
    token = _decode_refresh(raw)
    with transaction.atomic():
        family = RefreshFamily.objects.filter(pk=token[FAMILY_CLAIM]).first()
        if family is None:
            raise Unauthorized("The refresh token is invalid or expired.", code="token_invalid")
        revoke_families([family.pk], reason=RefreshFamily.RevokeReason.LOGOUT)
        record_event(action=Action.LOGOUT, actor_id=family.user_id, status_code=204)


def revoke_all_sessions(*, user: User, reason: str, except_family_id=None) -> int:
    families = RefreshFamily.objects.active().filter(user=user)
    if except_family_id is not None:
        families = families.exclude(pk=except_family_id)
    return revoke_families(families.values("pk"), reason=reason)


def _access_token(user: User, family_id) -> str:
    # The family id lets the holder's own session survive its password change.
    access = AccessToken.for_user(user)
    access[FAMILY_CLAIM] = str(family_id)
    return str(access)


def fresh_access_token(*, user: User, family_id) -> dict:
    return {
        "access_token": _access_token(user, family_id),
        "token_type": "bearer",
        "expires_in": int(AccessToken.lifetime.total_seconds()),
    }
