"""Passkeys: WebAuthn credentials (through Duo's py_webauthn), used as a second factor, for
step-up, and to sign in without a password.

Every use is a *ceremony*: the server hands the browser options with a random challenge and a
signed ceremony token naming the challenge, its purpose and (but for a passwordless sign-in) the
person; the browser's answer comes back with the token. The token is single use (infra.single_use,
recorded in the database when it is redeemed, before the answer is checked), expires after
WEBAUTHN_CEREMONY_SECONDS, and is good for its purpose only, so an assertion made for a step-up
cannot sign anyone in and a replayed assertion finds its challenge spent.

Checked on every answer (py_webauthn): the challenge, the origin (one of WEBAUTHN_ORIGINS), the
relying party id's hash (WEBAUTHN_RP_ID), the signature under the stored public key, user
presence *and user verification* (a PIN or biometric: the passkey alone must stand for two
factors). The signature counter is checked here, not in the library: a counter that does not go
up, when the authenticator keeps one, is refused (`passkey_counter_replayed`) and audited (a cloned
authenticator or a replay), and the new count is written by one conditional UPDATE, so of two
concurrent uses of one assertion only one passes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from audit.services import Action, record_event
from infra import single_use
from infra.errors import BadRequest, Conflict

from . import mfa
from .models import Passkey, User

MAX_PASSKEYS = 10  # per person: enough for every device, few enough to list
MAX_CREDENTIAL_ID_BYTES = 1023  # WebAuthn Level 3, §5.8.3: a longer id is to be refused
CEREMONY_SALT = "ghostflow.passkey-ceremony"
CEREMONY_KIND = "passkey_ceremony"


class Purpose(StrEnum):
    REGISTER = "register"
    SIGN_IN = "sign_in"  # passwordless: nobody is named yet
    SECOND_FACTOR = "second_factor"  # after a password or Google sign-in (the ticket names the person)
    REAUTHENTICATE = "reauthenticate"  # step-up


@dataclass(frozen=True)
class Ceremony:
    options: dict  # PublicKeyCredentialCreationOptionsJSON / ...RequestOptionsJSON, for the browser
    ceremony: str  # the signed token to send back with the browser's answer


class CounterReplayed(BadRequest):
    """The signature counter did not go up: a cloned authenticator, or a replayed answer. The
    caller records it against `user_id` (mfa.record_failure), after its transaction rolled back."""

    def __init__(self, *, user_id) -> None:
        super().__init__(
            "This passkey's signature counter did not go up: it may have been cloned. Use another factor.",
            code="passkey_counter_replayed",
        )
        self.user_id = user_id


class PasskeyRefused(Exception):
    """A passkey verified, but its person may not sign in (inactive, e-mail unverified)."""


def _invalid(message: str = "The passkey answer could not be verified.", code: str = "passkey_invalid") -> BadRequest:
    return BadRequest(message, code=code)


def _ceremony(*, purpose: Purpose, options, user: User | None, bound_to=None) -> Ceremony:
    token = signing.dumps(
        {
            "c": bytes_to_base64url(options.challenge),
            "p": purpose.value,
            "u": str(user.pk) if user is not None else "",
            "s": str(bound_to) if bound_to is not None else "",
            "j": uuid.uuid4().hex,
        },
        salt=CEREMONY_SALT,
    )
    return Ceremony(options=json.loads(options_to_json(options)), ceremony=token)


def _redeem(token: str, *, purpose: Purpose, user: User | None, bound_to=None) -> bytes:
    """The challenge of a ceremony token made for `purpose` (and `user`, and `bound_to`: the
    login stepping up, or the pending sign-in's ticket, so an answer made for one finishes no
    other), spent now; or 400
    `passkey_ceremony_invalid` / `_expired` / `_used`."""
    try:
        payload = signing.loads(token, salt=CEREMONY_SALT, max_age=settings.WEBAUTHN_CEREMONY_SECONDS)
    except signing.SignatureExpired as exc:
        raise _invalid("The passkey request has expired; try again.", "passkey_ceremony_expired") from exc
    except signing.BadSignature as exc:
        raise _invalid("The passkey request is invalid; try again.", "passkey_ceremony_invalid") from exc
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), str) for k in "cpuj"):
        raise _invalid("The passkey request is invalid; try again.", "passkey_ceremony_invalid")
    expected_user = str(user.pk) if user is not None else ""
    expected_bound_to = str(bound_to) if bound_to is not None else ""
    if payload["p"] != purpose.value or payload["u"] != expected_user or payload.get("s", "") != expected_bound_to:
        raise _invalid("The passkey request is invalid; try again.", "passkey_ceremony_invalid")
    expires_at = timezone.now() + timedelta(seconds=settings.WEBAUTHN_CEREMONY_SECONDS)
    if not single_use.use(kind=CEREMONY_KIND, issuer=purpose.value, jti=payload["j"], expires_at=expires_at):
        raise _invalid("This passkey request was already used; try again.", "passkey_ceremony_used")
    return base64url_to_bytes(payload["c"])


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for name in passkey.transports or []:
        try:
            transports.append(AuthenticatorTransport(name))
        except ValueError:
            continue  # a transport this library does not know: the browser tries them all anyway
    return PublicKeyCredentialDescriptor(id=bytes(passkey.credential_id), transports=transports or None)


def _timeout_ms() -> int:
    return settings.WEBAUTHN_CEREMONY_SECONDS * 1000


# --- registering -------------------------------------------------------------------------------


def registration_options(*, user: User) -> Ceremony:
    """Options for a new passkey of `user`: a discoverable credential with user verification,
    none of the person's existing authenticators again (excludeCredentials)."""
    existing = list(Passkey.objects.filter(user=user))
    if len(existing) >= MAX_PASSKEYS:
        raise Conflict(f"An account holds at most {MAX_PASSKEYS} passkeys; remove one first.", code="passkey_limit")
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_id=user.pk.bytes,  # the user handle: opaque, not the e-mail
        user_name=user.email or user.username,
        user_display_name=user.username,
        timeout=_timeout_ms(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(passkey) for passkey in existing],
    )
    return _ceremony(purpose=Purpose.REGISTER, options=options, user=user)


def register(*, user: User, name: str, ceremony: str, credential: dict) -> Passkey:
    """Check the browser's new credential against the ceremony and store it. Inside the caller's
    transaction (accounts.sessions.add_passkey also signs other sessions out when it is the
    person's first factor)."""
    challenge = _redeem(ceremony, purpose=Purpose.REGISTER, user=user)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=settings.WEBAUTHN_ORIGINS,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise _invalid(f"The passkey could not be verified: {exc}") from exc
    if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise _invalid(f"A passkey's credential id is at most {MAX_CREDENTIAL_ID_BYTES} bytes (WebAuthn §5.8.3).")
    if Passkey.objects.filter(credential_id=verified.credential_id).exists():
        raise Conflict("This passkey is already registered.", code="passkey_exists")
    transports = credential.get("response", {}).get("transports") if isinstance(credential, dict) else None
    try:
        with transaction.atomic():  # the same credential registered meanwhile: its unique index says so
            # The person's row, locked until the transaction ends: two registrations at once
            # count one after the other, so the cap holds (PostgreSQL; SQLite has one writer).
            User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
            if Passkey.objects.filter(user=user).count() >= MAX_PASSKEYS:
                raise Conflict(
                    f"An account holds at most {MAX_PASSKEYS} passkeys; remove one first.", code="passkey_limit"
                )
            passkey = Passkey.objects.create(
                user=user,
                name=name,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=[t for t in transports if isinstance(t, str)][:8] if isinstance(transports, list) else [],
                aaguid=verified.aaguid,
                backed_up=verified.credential_backed_up,
            )
    except IntegrityError as exc:
        raise Conflict("This passkey is already registered.", code="passkey_exists") from exc
    mfa.second_factors_changed(user=user)
    record_event(action=Action.MFA_PASSKEY_ADDED, actor_id=user.pk, status_code=201, data={"passkey": str(passkey.pk)})
    return passkey


def rename(*, user: User, passkey_id, name: str) -> Passkey:
    passkey = Passkey.objects.filter(user=user, pk=passkey_id).first()
    if passkey is None:
        raise NotFound("No such passkey.", code="not_found")
    # One conditional UPDATE: a passkey removed meanwhile is the same 404, not a failed save.
    if not Passkey.objects.filter(user=user, pk=passkey.pk).update(name=name):
        raise NotFound("No such passkey.", code="not_found")
    passkey.name = name
    return passkey


def remove(*, user: User, passkey_id, actor_id=None, reason: str = "user") -> bool:
    """Remove one passkey of `user` (the caller checked a recent authentication). False when
    there was none by that id."""
    with transaction.atomic():
        # Found first: a request naming nobody's passkey writes nothing.
        if not Passkey.objects.filter(user=user, pk=passkey_id).exists():
            return False
        deleted, _ = Passkey.objects.filter(user=user, pk=passkey_id).delete()
        if deleted:
            mfa.second_factors_changed(user=user)
            record_event(
                action=Action.MFA_PASSKEY_REMOVED,
                actor_id=actor_id if actor_id is not None else user.pk,
                data={"user": str(user.pk), "passkey": str(passkey_id), "reason": reason},
            )
    return bool(deleted)


# --- using one ----------------------------------------------------------------------------------


def authentication_options(*, purpose: Purpose, user: User | None = None, bound_to=None) -> Ceremony:
    """Options to sign a challenge: with `user`, one of their passkeys (allowCredentials); without
    (a passwordless sign-in), any discoverable passkey of this site. With `bound_to` (step-up: the
    login asking; a second factor: the ticket's id), only the same may redeem the answer."""
    allow = None
    if user is not None:
        allow = [_descriptor(passkey) for passkey in Passkey.objects.filter(user=user)]
        if not allow:
            raise Conflict("This account has no passkey.", code="passkey_not_registered")
    options = generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        timeout=_timeout_ms(),
        allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return _ceremony(purpose=purpose, options=options, user=user, bound_to=bound_to)


def _credential_id(credential) -> bytes:
    raw_id = (credential.get("rawId") or credential.get("id")) if isinstance(credential, dict) else None
    if not isinstance(raw_id, str):
        raise _invalid()
    try:
        return base64url_to_bytes(raw_id)
    except (ValueError, TypeError) as exc:
        raise _invalid() from exc


def verify(*, ceremony: str, credential, purpose: Purpose, user: User | None = None, bound_to=None) -> Passkey:
    """The passkey that signed this ceremony's challenge (with user verification), its counter
    moved on; or 400 `passkey_invalid`, `passkey_counter_replayed` (CounterReplayed) or a
    ceremony's refusal. With `user`, only a passkey of theirs passes. Inside the caller's
    transaction: the ceremony's use and the counter commit with what the assertion unlocks."""
    challenge = _redeem(ceremony, purpose=purpose, user=user, bound_to=bound_to)
    found = Passkey.objects.select_related("user").filter(credential_id=_credential_id(credential))
    if user is not None:
        found = found.filter(user=user)
    passkey = found.first()
    if passkey is None:
        raise _invalid()
    response = credential.get("response")  # credential is a dict: _credential_id checked it
    if not isinstance(response, dict):
        raise _invalid()
    handle = response.get("userHandle")
    if handle:
        try:
            if base64url_to_bytes(handle) != passkey.user.pk.bytes:
                raise _invalid()
        except (ValueError, TypeError) as exc:
            raise _invalid() from exc
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=settings.WEBAUTHN_ORIGINS,
            credential_public_key=bytes(passkey.public_key),
            # 0: the counter is checked below, where a refusal can be told apart and audited.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise _invalid() from exc
    stored, new = passkey.sign_count, verified.new_sign_count
    if (new > 0 or stored > 0) and new <= stored:
        raise CounterReplayed(user_id=passkey.user_id)
    moved = Passkey.objects.filter(pk=passkey.pk, sign_count=stored).update(sign_count=new, last_used_at=timezone.now())
    if not moved:  # another use of this passkey moved the counter meanwhile
        raise CounterReplayed(user_id=passkey.user_id)
    return passkey


def passkey_count(user: User) -> int:
    return Passkey.objects.filter(user=user).count()
