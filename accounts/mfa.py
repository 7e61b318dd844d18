"""Second factors: TOTP (RFC 6238, through pyotp) and single-use recovery codes; the "second
factor pending" ticket that a password or Google sign-in gets instead of tokens when the person
has a factor (accounts.sessions.complete_second_factor turns it into a session).

- The TOTP secret is encrypted at rest (infra.encryption); it is shown once, in the answer that
  begins enrolment, and the factor is active only after a code proves the app holds it.
- A code is accepted for the current 30-second step and one step either side (clock drift), and
  never twice: the factor remembers the last step accepted, advanced by one conditional UPDATE.
- Recovery codes: 10 random codes of 50 bits each, shown once. Stored as an HMAC-SHA256 under the
  SECRET_KEY: a slow password hash guards low-entropy secrets a person chose; these are random
  and long, so a keyed hash is enough (nobody can brute-force 2^50 HMACs without the key) and it
  lets a code be found by an equality match.
- Guesses are counted per account, shared through the cache (scope `second_factor`, failing
  closed: 503 when the cache is down), like passwords; only failures keep counting.

`verify_second_factor` is the hook for other flows that need a fresh second factor (step-up).
"""

from __future__ import annotations

import hmac
import io
import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from audit.services import Action, record_event
from infra import coherence, encryption, mail, ratelimit
from infra.errors import BadRequest, Conflict, Unauthorized

from .models import Passkey, RecoveryCode, RefreshFamily, TOTPFactor, User
from .tokens import password_fingerprint

RECOVERY_CODE_COUNT = 10
# Lower-case letters and digits without look-alikes (0/o, 1/l/i): 31 symbols.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10  # about 49.5 bits, shown as xxxxx-xxxxx
TOTP_DIGITS = 6
TOTP_INTERVAL = 30
TOTP_VALID_WINDOW = 1  # steps either side of now that are accepted (clock drift)
TOTP_EXPIRED_WINDOW = 10  # older steps that are told apart as "expired" rather than "invalid"

METHOD_TOTP = RefreshFamily.SecondFactor.TOTP.value
METHOD_RECOVERY_CODE = RefreshFamily.SecondFactor.RECOVERY_CODE.value
METHOD_PASSKEY = RefreshFamily.SecondFactor.PASSKEY.value

TICKET_SALT = "ghostflow.second-factor-ticket"
TICKET_KIND = "second_factor_ticket"

_TOTP_CODE = re.compile(r"^[0-9]{6}\Z")


def _refused(message: str, code: str) -> BadRequest:
    return BadRequest(message, code=code)


# --- the factors --------------------------------------------------------------------------------


def active_totp(user: User) -> TOTPFactor | None:
    return TOTPFactor.objects.filter(user=user, confirmed_at__isnull=False).first()


def has_second_factor(user: User) -> bool:
    """True when signing in as `user` needs a second factor: an active TOTP factor or a passkey."""
    return (
        TOTPFactor.objects.filter(user=user, confirmed_at__isnull=False).exists()
        or Passkey.objects.filter(user=user).exists()
    )


def methods_of(user: User) -> list[str]:
    """The second factors `user` can give now, in the order a sign-in offers them."""
    methods = []
    if active_totp(user) is not None:
        methods.append(METHOD_TOTP)
    if Passkey.objects.filter(user=user).exists():
        methods.append(METHOD_PASSKEY)
    if methods and recovery_codes_left(user):
        methods.append(METHOD_RECOVERY_CODE)
    return methods


def has_enrolled(user: User) -> bool:
    """Whether `user` has a second factor, as the user row says (no query): what a team's rule
    reads on every request (registered as access.context.SECOND_FACTOR_RULE)."""
    return user.second_factor_enrolled


def second_factors_changed(*, user: User) -> bool:
    """THE place that says "this person now has / no longer has a second factor": every service
    that adds or removes a factor (TOTP, recovery codes' removal, passkeys) calls it inside its own
    transaction, after the change. It recomputes `has_second_factor` from the factors and stores it
    on the user row (User.second_factor_enrolled), replacing the principal cache's generation
    (infra.coherence), so a team that requires a second factor lets the person (and their keys) in,
    or refuses them, from the next request on, on every node. Returns the new value. Raises 503
    (nothing changed) when the shared cache cannot be told, like every change of a credential."""
    with transaction.atomic():
        # Lock the row, then count: of two concurrent changes (a factor removed while another is
        # added), the second to get the lock counts the first's committed factors (READ COMMITTED).
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        enrolled = has_second_factor(user)
        coherence.invalidate_around(lambda: User.objects.filter(pk=user.pk).update(second_factor_enrolled=enrolled))
    user.second_factor_enrolled = enrolled
    return enrolled


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def status(*, user: User) -> dict:
    factor = TOTPFactor.objects.filter(user=user).first()
    return {
        "totp": bool(factor and factor.active),
        "totp_pending": bool(factor and not factor.active),
        "totp_enabled_at": factor.confirmed_at if factor and factor.active else None,
        "passkeys": Passkey.objects.filter(user=user).count(),
        "recovery_codes_left": recovery_codes_left(user),
        "methods": methods_of(user),
    }


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


def begin_totp_enrolment(*, user: User) -> Enrolment:
    """A new secret for `user` (replacing an enrolment begun but never confirmed). Refused while a
    confirmed factor exists: remove it first (that needs a code)."""
    secret = pyotp.random_base32()  # 160 bits, RFC 4226's recommended length
    encrypted = encryption.encrypt(secret)
    with transaction.atomic():
        # get_or_create: of two concurrent first enrolments, the second finds the first's row.
        factor, created = TOTPFactor.objects.select_for_update().get_or_create(
            user=user, defaults={"secret_encrypted": encrypted}
        )
        if factor.active:
            raise Conflict("Two-step verification is already on; turn it off first.", code="totp_already_enabled")
        if not created:
            factor.secret_encrypted = encrypted
            factor.last_used_step = None
            factor.save(update_fields=["secret_encrypted", "last_used_step"])
    uri = _totp(secret).provisioning_uri(name=user.email or user.username, issuer_name=settings.TOTP_ISSUER)
    svg = io.BytesIO()
    # A whole SVG document (with its namespace, on a white ground), so it works as an <img> too.
    segno.make(uri, error="m").save(svg, kind="svg", xmldecl=False, scale=4, light="#fff", title="TOTP QR code")
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=svg.getvalue().decode())


def confirm_totp_enrolment(*, user: User, code: str) -> list[str]:
    """Activate the pending factor with a code from the app; its first recovery codes."""
    with transaction.atomic():
        factor = TOTPFactor.objects.select_for_update().filter(user=user).first()
        if factor is None:
            raise Conflict("Begin enrolment first.", code="totp_enrolment_not_started")
        if factor.active:
            raise Conflict("Two-step verification is already on.", code="totp_already_enabled")
        _spend_totp(factor, code)
        factor.refresh_from_db(fields=["last_used_step"])
        factor.confirmed_at = timezone.now()
        factor.save(update_fields=["confirmed_at"])
        codes = _new_recovery_codes(user)
        second_factors_changed(user=user)
        record_event(action=Action.MFA_TOTP_ENABLED, actor_id=user.pk, status_code=200)
    return codes


def disable_totp(*, user: User, actor_id=None, reason: str = "user") -> bool:
    """Remove the TOTP factor of `user`, and the recovery codes with it when no passkey is left.
    The caller has checked a fresh code (or is an operator). False when there was nothing to
    remove."""
    with transaction.atomic():
        deleted, _ = TOTPFactor.objects.filter(user=user).delete()
        codes = 0
        if not Passkey.objects.filter(user=user).exists():
            codes, _ = RecoveryCode.objects.filter(user=user).delete()
        if deleted or codes:
            second_factors_changed(user=user)
            record_event(
                action=Action.MFA_TOTP_DISABLED,
                actor_id=actor_id if actor_id is not None else user.pk,
                data={"user": str(user.pk), "reason": reason},
            )
    return bool(deleted or codes)


def reset_second_factors(*, user: User, actor_id) -> bool:
    """An operator's reset, for a person who lost every factor: the authenticator app, every
    passkey and the recovery codes. Each removal audited with the operator as actor."""
    from . import passkeys  # passkeys sits beside mfa; only this reset needs it

    with transaction.atomic():
        removed = disable_totp(user=user, actor_id=actor_id, reason="admin")
        for passkey_id in list(Passkey.objects.filter(user=user).values_list("pk", flat=True)):
            removed = passkeys.remove(user=user, passkey_id=passkey_id, actor_id=actor_id, reason="admin") or removed
        RecoveryCode.objects.filter(user=user).delete()
        second_factors_changed(user=user)
    return removed


def rotate_totp_secrets() -> int:
    """Re-encrypt every TOTP secret under the newest key (infra.encryption.rotate); how many."""
    count = 0
    with transaction.atomic():
        for factor in TOTPFactor.objects.select_for_update().only("pk", "secret_encrypted"):
            factor.secret_encrypted = encryption.rotate(factor.secret_encrypted)
            factor.save(update_fields=["secret_encrypted"])
            count += 1
    return count


def drop_recovery_codes_without_factor(*, user: User) -> None:
    """Recovery codes stand in for a factor: with none left (the last passkey removed), they go."""
    if not has_second_factor(user):
        RecoveryCode.objects.filter(user=user).delete()


def first_recovery_codes(*, user: User) -> list[str] | None:
    """A first set of recovery codes when the person has none (their first factor was just
    added); None when they have a set already (it stays as it is)."""
    if RecoveryCode.objects.filter(user=user).exists():
        return None
    return _new_recovery_codes(user)


def regenerate_recovery_codes(*, user: User) -> list[str]:
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        record_event(action=Action.MFA_RECOVERY_CODES_REGENERATED, actor_id=user.pk)
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    """A fresh set; the old one (used or not) stops working."""
    RecoveryCode.objects.filter(user=user).delete()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    RecoveryCode.objects.bulk_create(RecoveryCode(user=user, code_hash=recovery_code_hash(code)) for code in codes)
    return codes


def recovery_code_hash(code: str) -> str:
    normalized = re.sub(r"[\s-]", "", code).lower()
    return salted_hmac("ghostflow.recovery-code", normalized, algorithm="sha256").hexdigest()


# --- checking a code ----------------------------------------------------------------------------


def _spend_totp(factor: TOTPFactor, code: str) -> None:
    """Accept `code` for `factor` once, or raise: `second_factor_invalid` (no step near now has
    it), `second_factor_expired` (a step of the last few minutes, past the window),
    `second_factor_reused` (accepted already: its step is not after the last one accepted)."""
    if not _TOTP_CODE.match(code):
        # Not six digits: wrong, without comparing (compare_digest refuses non-ASCII text).
        raise _refused("The code is wrong.", "second_factor_invalid")
    totp = _totp(encryption.decrypt(factor.secret_encrypted))
    now = timezone.now()
    matched = None
    for offset in range(-TOTP_EXPIRED_WINDOW, TOTP_VALID_WINDOW + 1):
        moment = now + timedelta(seconds=offset * TOTP_INTERVAL)
        if hmac.compare_digest(totp.at(moment), code):
            matched = (offset, totp.timecode(moment))
    if matched is None:
        raise _refused("The code is wrong.", "second_factor_invalid")
    offset, step = matched
    if offset < -TOTP_VALID_WINDOW:
        raise _refused("The code has expired; enter the current one.", "second_factor_expired")
    # One conditional UPDATE: of two concurrent uses of one code, only one advances the step.
    advanced = TOTPFactor.objects.filter(pk=factor.pk).exclude(last_used_step__gte=step).update(last_used_step=step)
    if not advanced:
        raise _refused("This code was already used; wait for the next one.", "second_factor_reused")


def _spend_recovery_code(user: User, code: str) -> None:
    now = timezone.now()
    row = RecoveryCode.objects.filter(user=user, code_hash=recovery_code_hash(code)).first()
    if row is None:
        raise _refused("The code is wrong.", "second_factor_invalid")
    used = RecoveryCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now)
    if not used:
        raise _refused("This recovery code was already used.", "second_factor_reused")


def spend_code(*, user: User, code: str) -> str:
    """Check and spend a TOTP code or a recovery code of `user`, inside the caller's transaction;
    the method used. Raises a 400 with a distinct code when refused. A recovery code's use is
    audited and mailed to the owner."""
    code = (code or "").strip().replace(" ", "")
    factor = active_totp(user)
    if _TOTP_CODE.match(code):
        if factor is None:
            raise Conflict(
                "This account has no authenticator app; use a passkey or a recovery code.", code="totp_not_enabled"
            )
        _spend_totp(factor, code)
        return METHOD_TOTP
    if factor is None and not Passkey.objects.filter(user=user).exists():
        raise Conflict("Two-step verification is not on for this account.", code="totp_not_enabled")
    _spend_recovery_code(user, code)
    left = recovery_codes_left(user)
    record_event(action=Action.MFA_RECOVERY_CODE_USED, actor_id=user.pk, data={"left": left})
    mail.send("recovery_code_used", user.email, username=user.username, left=left)
    return METHOD_RECOVERY_CODE


def count_attempt(request, user: User) -> ratelimit.Attempt:
    """Count one guess against `user`'s second factor (429 over the limit, 503 without the cache)."""
    try:
        return ratelimit.attempt(request, "second_factor", accounts=[f"user:{user.pk}"])
    except ratelimit.RateLimited:
        # A burst of failures: recorded against the account (the request's own `rate_limited`
        # event has no actor when it carries only a ticket).
        record_event(action=Action.MFA_LOCKED, actor_id=user.pk, status_code=429)
        raise


def record_failure(*, user: User, error: BadRequest, purpose: str) -> None:
    record_event(
        action=Action.MFA_FAILED,
        actor_id=user.pk,
        status_code=error.status_code,
        data={"reason": error.code, "purpose": purpose},
    )


@contextmanager
def counted_guess(*, request, user: User, purpose: str) -> Iterator[None]:
    """Around the check of a code: counted against the account before it is checked (429 over the
    limit, 503 without the cache), given back on success; a refusal is recorded (`mfa.failed`)
    after the block's transaction rolled back."""
    attempt = count_attempt(request, user)
    try:
        yield
    except BadRequest as exc:
        record_failure(user=user, error=exc, purpose=purpose)
        raise
    attempt.succeeded()


def checked_code(*, request, user: User, code: str, purpose: str) -> str:
    """Counted, checked and spent in a transaction of its own: the method, or the refusal raised."""
    with counted_guess(request=request, user=user, purpose=purpose), transaction.atomic():
        return spend_code(user=user, code=code)


def remove_totp(*, request, user: User, code: str) -> None:
    """Turn two-step verification off with a fresh code (TOTP or recovery code)."""
    with counted_guess(request=request, user=user, purpose="disable"), transaction.atomic():
        spend_code(user=user, code=code)
        disable_totp(user=user)


def replace_recovery_codes(*, request, user: User, code: str) -> list[str]:
    """A new set of recovery codes, with a fresh code; the old set stops working."""
    with counted_guess(request=request, user=user, purpose="regenerate"), transaction.atomic():
        spend_code(user=user, code=code)
        return regenerate_recovery_codes(user=user)


def verify_second_factor(*, request, user: User, code: str, purpose: str = "reauthenticate") -> str | None:
    """For other flows (step-up): the method ("totp" or "recovery_code") when `code` is a fresh
    second factor of `user`, else None (the failure counted and recorded). Rate limits still
    raise (429; 503 without the cache)."""
    try:
        return checked_code(request=request, user=user, code=code, purpose=purpose)
    except (BadRequest, Conflict):
        return None


# --- the pending sign-in ------------------------------------------------------------------------


@dataclass(frozen=True)
class SecondFactorPending:
    """A sign-in whose password (or Google credential) was right, waiting for the second factor."""

    ticket: str
    expires_in: int
    methods: list[str]

    def as_response(self) -> dict:
        return {
            "second_factor_required": True,
            "ticket": self.ticket,
            "methods": self.methods,
            "expires_in": self.expires_in,
        }


def pending_sign_in(*, user: User, signed_in_with: str) -> SecondFactorPending:
    """A signed ticket naming the user, how the first factor was given, and the password the
    first factor was checked against (a password changed meanwhile voids it). Single use is
    recorded in the database when it is redeemed (infra.single_use)."""
    payload = {
        "u": str(user.pk),
        "w": signed_in_with,
        "j": uuid.uuid4().hex,
        "p": password_fingerprint(user.password),
    }
    record_event(
        action=Action.LOGIN_SECOND_FACTOR_REQUIRED, actor_id=user.pk, status_code=200, data={"method": signed_in_with}
    )
    return SecondFactorPending(
        ticket=signing.dumps(payload, salt=TICKET_SALT),
        expires_in=settings.SECOND_FACTOR_TICKET_SECONDS,
        methods=methods_of(user),
    )


@dataclass(frozen=True)
class Ticket:
    user: User
    signed_in_with: str
    jti: str


TICKET_INVALID = "The sign-in ticket is invalid; sign in again."


def read_ticket(raw: str) -> Ticket:
    """The ticket's content, or 401 `second_factor_ticket_invalid` / `_expired`. Whether it was
    used already is decided when it is redeemed."""
    try:
        payload = signing.loads(raw, salt=TICKET_SALT, max_age=settings.SECOND_FACTOR_TICKET_SECONDS)
    except signing.SignatureExpired as exc:
        raise Unauthorized(
            "The sign-in ticket has expired; sign in again.", code="second_factor_ticket_expired"
        ) from exc
    except signing.BadSignature as exc:
        raise Unauthorized(TICKET_INVALID, code="second_factor_ticket_invalid") from exc
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), str) for k in "uwjp"):
        raise Unauthorized(TICKET_INVALID, code="second_factor_ticket_invalid")
    try:
        user_id = uuid.UUID(payload["u"])
    except ValueError as exc:
        raise Unauthorized(TICKET_INVALID, code="second_factor_ticket_invalid") from exc
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not hmac.compare_digest(payload["p"], password_fingerprint(user.password)):
        raise Unauthorized(TICKET_INVALID, code="second_factor_ticket_invalid")
    if payload["w"] not in RefreshFamily.SignedInWith.values:
        raise Unauthorized(TICKET_INVALID, code="second_factor_ticket_invalid")
    return Ticket(user=user, signed_in_with=payload["w"], jti=payload["j"])


def ticket_expires_at():
    return timezone.now() + timedelta(seconds=settings.SECOND_FACTOR_TICKET_SECONDS)
