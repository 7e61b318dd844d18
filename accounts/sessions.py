"""Sessions: password login, JWT pairs and refresh families (rotation, reuse, logout)."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound
from rest_framework_simplejwt.exceptions import TokenError

from audit.services import Action, record_event
from infra import ratelimit, request_context, single_use
from infra.errors import BadRequest, Forbidden, Unauthorized
from infra.net import client_source

from . import mfa, passkeys
from .models import RefreshFamily, User
from .tokens import FAMILY_CLAIM, AccessToken, RefreshToken, password_fingerprint

INVALID_CREDENTIALS = "Invalid username or password."


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    family_id: uuid.UUID
    refresh_expires_at: int  # the refresh token's `exp` (Unix seconds): the browser cookie's lifetime

    def access_response(self) -> dict:
        """The answer of the cookie mode: the refresh token travels in the cookie only."""
        return {"access_token": self.access_token, "token_type": "bearer", "expires_in": self.expires_in}

    def as_response(self) -> dict:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }


def login_identifier(identifier: str) -> str:
    """What a login attempt is counted against: the identifier *as typed*, normalised so that its
    spellings share one count (surrounding spaces, case, compatibility forms: `Frank@Example.COM`,
    a Kelvin sign for `K`, a dotless `ı` that PostgreSQL's UPPER() folds into `I`). Never the
    account it resolves to: then a lockout would answer alike for every spelling of an account and
    differently for everything else, telling which e-mail belongs to which username."""
    return "login:" + unicodedata.normalize("NFKC", identifier).strip().upper().casefold()


def count_login_attempt(request, identifier: str) -> ratelimit.Attempt:
    """Count one password login (the API's and the Django admin's) *before* anything looks the
    identifier up, so a locked identifier answers the same 429, with the same work, whether or not
    an account has it. Two counts (settings.RATE_LIMITS["login"]): `account_per_ip`, failures on
    this identifier from this client (one attacker locks the identifier for themselves only), and
    `account`, failures on it from everywhere (what many clients together may try before the
    identifier is locked for everybody, its owner included). A client over its own count is
    refused before it adds to the shared one. `succeeded()` gives both back."""
    typed = login_identifier(identifier)
    from_here = ratelimit.attempt(
        request, "login", accounts=[f"{typed} from {client_source(request)}"], kind="account_per_ip"
    )
    anywhere = ratelimit.attempt(request, "login", accounts=[typed])
    return ratelimit.Attempt("login", from_here.buckets + anywhere.buckets)


def authenticate_credentials(*, user: User | None, password: str) -> User | None:
    """The user if the password is theirs and they are active, or None. Every failure costs one
    password hash, so the unknown-user path takes as long as a wrong password."""
    if user is None:
        make_password(password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def start_session(
    *, user: User, signed_in_with: str = RefreshFamily.SignedInWith.PASSWORD, second_factor: str = ""
) -> TokenPair:
    """A new login family and its first token pair. Callers that sign a person in check first
    that a second factor is not pending (mfa.has_second_factor)."""
    now = timezone.now()
    jti = uuid.uuid4().hex
    context = request_context.current()
    family = RefreshFamily.objects.create(
        user=user,
        current_jti=jti,
        expires_at=now + timedelta(seconds=settings.JWT_SESSION_MAX_AGE),
        authenticated_at=now,  # a fresh login has just proved who it is (step-up: accounts.reauth)
        password_fingerprint=password_fingerprint(user.password),
        user_agent=context.user_agent if context is not None else "",
        ip=context.ip if context is not None else None,
        signed_in_with=signed_in_with,
        second_factor=second_factor,
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
        refresh_expires_at=int(refresh["exp"]),
    )


def login(*, user: User | None, password: str) -> TokenPair | mfa.SecondFactorPending:
    """Log in `user` (found by find_login_user; None when nobody matched) with `password`. With a
    second factor enrolled: no session yet, a ticket for complete_second_factor."""
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
        elif mfa.has_second_factor(user):
            pair = mfa.pending_sign_in(user=user, signed_in_with=RefreshFamily.SignedInWith.PASSWORD)
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


def complete_second_factor(*, request, ticket: str, code: str | None = None, passkey: dict | None = None) -> TokenPair:
    """Redeem a sign-in ticket (mfa.pending_sign_in) with a TOTP or recovery code, or a passkey's
    answer to passkey_options_for_ticket: the session the first factor would have started. The
    ticket is single use (infra.single_use, recorded in the database with the session); a refused
    factor leaves it usable until it expires, and counts against the account's second-factor
    limit."""
    pending = mfa.read_ticket(ticket)
    user = pending.user
    with mfa.counted_guess(request=request, user=user, purpose="sign_in"), transaction.atomic():
        # The ticket first: a spent ticket spends no code. A refused code rolls the use back.
        if not single_use.use(
            kind=mfa.TICKET_KIND, issuer=str(user.pk), jti=pending.jti, expires_at=mfa.ticket_expires_at()
        ):
            raise Unauthorized("This sign-in ticket was already used; sign in again.", code="second_factor_ticket_used")
        if passkey is not None:
            passkeys.verify(
                ceremony=passkey["ceremony"],
                credential=passkey["credential"],
                purpose=passkeys.Purpose.SECOND_FACTOR,
                user=user,
                bound_to=pending.jti,
            )
            method = mfa.METHOD_PASSKEY
        else:
            method = mfa.spend_code(user=user, code=code or "")
        pair = start_session(user=user, signed_in_with=pending.signed_in_with, second_factor=method)
        record_event(
            action=Action.LOGIN_SUCCEEDED,
            actor_id=user.pk,
            status_code=200,
            data={"method": pending.signed_in_with, "second_factor": method},
        )
    return pair


def passkey_options_for_ticket(*, ticket: str) -> passkeys.Ceremony:
    """The passkey options of a pending sign-in: one of the ticket's person's passkeys. The ticket
    is read (not spent): complete_second_factor spends it."""
    pending = mfa.read_ticket(ticket)
    return passkeys.authentication_options(
        purpose=passkeys.Purpose.SECOND_FACTOR, user=pending.user, bound_to=pending.jti
    )


def passkey_sign_in(*, ceremony: str, credential: dict) -> TokenPair:
    """A sign-in with a passkey alone (a discoverable credential, its user verified: possession
    and a PIN or biometric, two factors in one): a session, no password and no second step. 401
    `invalid_credentials` when the passkey is unknown, its answer wrong, or its person inactive or
    unverified, alike; a counter that went back is audited against its person."""
    try:
        with transaction.atomic():
            passkey = passkeys.verify(ceremony=ceremony, credential=credential, purpose=passkeys.Purpose.SIGN_IN)
            user = passkey.user
            if not user.is_active or not user.email_verified:
                raise passkeys.PasskeyRefused()
            pair = start_session(
                user=user,
                signed_in_with=RefreshFamily.SignedInWith.PASSKEY,
                second_factor=RefreshFamily.SecondFactor.PASSKEY,
            )
            record_event(
                action=Action.LOGIN_SUCCEEDED,
                actor_id=user.pk,
                status_code=200,
                data={"method": "passkey", "passkey": str(passkey.pk)},
            )
    except passkeys.CounterReplayed as exc:
        record_event(
            action=Action.MFA_FAILED,
            actor_id=exc.user_id,
            status_code=400,
            data={"reason": exc.code, "purpose": "sign_in"},
        )
        record_event(action=Action.LOGIN_FAILED, actor_id=exc.user_id, status_code=401, data={"method": "passkey"})
        raise Unauthorized("The passkey could not be verified.", code="invalid_credentials") from exc
    except (passkeys.PasskeyRefused, BadRequest) as exc:
        if getattr(exc, "code", "").startswith("passkey_ceremony"):
            raise
        record_event(action=Action.LOGIN_FAILED, status_code=401, data={"method": "passkey"})
        raise Unauthorized("The passkey could not be verified.", code="invalid_credentials") from exc
    return pair


def add_passkey(*, user: User, name: str, ceremony: str, credential: dict, current_family_id) -> dict:
    """Register a passkey. When it is the person's first second factor, as when an authenticator
    app is turned on: the first recovery codes (once), and every other login signed out, the
    calling one kept. The passkey, and (then) `recovery_codes` and `other_sessions_revoked`."""
    with transaction.atomic():
        first = not mfa.has_second_factor(user)
        passkey = passkeys.register(user=user, name=name, ceremony=ceremony, credential=credential)
        answer: dict = {"passkey": passkey}
        if first:
            answer["recovery_codes"] = mfa.first_recovery_codes(user=user) or []
            others = live_sessions(user=user)
            if current_family_id is not None:
                others = others.exclude(pk=current_family_id)
            answer["other_sessions_revoked"] = revoke_families(
                others.values("pk"), reason=RefreshFamily.RevokeReason.SECOND_FACTOR_ENABLED
            )
    return answer


def remove_passkey(*, user: User, passkey_id) -> None:
    """Remove a passkey of `user` (step-up checked by the view); with no factor left, the recovery
    codes go too."""
    with transaction.atomic():
        if not passkeys.remove(user=user, passkey_id=passkey_id):
            raise NotFound("No such passkey.", code="not_found")
        mfa.drop_recovery_codes_without_factor(user=user)


def enable_totp(*, request, user: User, code: str, current_family_id) -> tuple[list[str], int]:
    """Confirm the pending TOTP enrolment with a code from the app: the factor is on, its recovery
    codes are returned (once), and every other login of the person is signed out, so a session
    opened before the factor existed (perhaps by whoever the person fears) does not outlive it.
    The login making the call stays. The recovery codes and how many logins were signed out."""
    with mfa.counted_guess(request=request, user=user, purpose="enrol"), transaction.atomic():
        codes = mfa.confirm_totp_enrolment(user=user, code=code)
        others = live_sessions(user=user)
        if current_family_id is not None:
            others = others.exclude(pk=current_family_id)
        revoked = revoke_families(others.values("pk"), reason=RefreshFamily.RevokeReason.SECOND_FACTOR_ENABLED)
    return codes, revoked


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


def signed_in(session_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The one rule of a login that is still signed in: its refresh family is neither revoked
    (logout, the sessions list, a replayed refresh token, a password change or reset, deactivation,
    an operator) nor past its absolute cap. One query. Asked, through access.context.signed_in,
    wherever a login's access token must be more than a valid signature: the acts that need an
    interactive login (access.permissions.InteractiveLoginOnly) and live streams (livestream.holders)."""
    ids = {session_id for session_id in session_ids if session_id is not None}
    if not ids:
        return set()
    return set(RefreshFamily.objects.live().filter(pk__in=ids).values_list("pk", flat=True))


def authenticated_at(session_id: uuid.UUID):
    """When this session last proved who it is (its login, or its last re-authentication), or
    None when it is not signed in (by `signed_in`'s rule). One query. Asked through
    access.context.check_recently_authenticated by the step-up check."""
    return RefreshFamily.objects.live().filter(pk=session_id).values_list("authenticated_at", flat=True).first()


def live_sessions(*, user: User):
    """A person's signed-in logins (not revoked, not past their cap), newest first."""
    return RefreshFamily.objects.live().filter(user=user).order_by("-created_at", "-id")


def revoke_session(*, user: User, family_id) -> bool:
    """Revoke one of `user`'s live logins (from the sessions list). False when `family_id` is not
    one of them (someone else's, unknown, already revoked or expired): the caller answers 404
    without telling which."""
    with transaction.atomic():
        # Looked up first, so a refusal writes nothing (not even an UPDATE of no rows).
        if not live_sessions(user=user).filter(pk=family_id).exists():
            return False
        # Still conditional: of two concurrent revocations, only the one that revokes records it.
        revoked = revoke_families([family_id], reason=RefreshFamily.RevokeReason.USER_REVOKED)
        if revoked:
            record_event(
                action=Action.SESSION_REVOKED, actor_id=user.pk, status_code=204, data={"family": str(family_id)}
            )
    return bool(revoked)


def revoke_other_sessions(*, user: User, current_family_id) -> int:
    """Revoke every live login of `user` but the one making the call; how many were revoked.
    One audit event, whatever the number."""
    with transaction.atomic():
        others = live_sessions(user=user)
        if current_family_id is not None:
            others = others.exclude(pk=current_family_id)
        revoked = revoke_families(others.values("pk"), reason=RefreshFamily.RevokeReason.USER_REVOKED)
        record_event(action=Action.SESSION_REVOKED, actor_id=user.pk, status_code=200, data={"others": revoked})
    return revoked


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
