"""Step-up ("sudo mode"): a signed-in person proves who they are again, and their *session* (the
refresh family of the login making the call) counts as recently authenticated for
settings.REAUTH_SECONDS (access.permissions.RecentAuthentication asks). Never a token: the time
is stored on the family, so a token copied to, or minted for, another session gains nothing.

The ways to re-authenticate are a registry, METHODS, keyed by the body field that carries the
proof (and a field of serializers.ReauthenticateSerializer, whose check, exactly one method per
request, reads this registry): `password`; `code`, a TOTP or recovery code (accounts.mfa);
`passkey`, a passkey's answer to the options of POST /auth/reauthenticate/passkey-options
(accounts.passkeys). A method either counts failures itself (the second factors, under the
account's `second_factor` limit, whose refusals keep their own codes) or names the limit here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from access import context
from audit.services import Action, record_event
from infra import ratelimit
from infra.errors import BadRequest, Forbidden, Unauthorized

from . import mfa, passkeys
from .models import RefreshFamily, User


@dataclass(frozen=True)
class Method:
    field: str  # the request body's field carrying the proof, and the method's name in audit rows
    # The scope of settings.RATE_LIMITS counting failures per account (fails closed); None when
    # `verify` counts them itself.
    rate_limit: str | None
    wrong_code: str  # the stable error code of a wrong proof (400), when `verify` answers False
    wrong_message: str
    available: Callable[[User], bool]  # whether this person can use it at all (else 403 `unavailable_code`)
    unavailable_code: str
    unavailable_message: str
    # True when the proof is right; False, or a BadRequest of its own, when it is not.
    verify: Callable[..., bool]


def _password_available(user: User) -> bool:
    return user.has_usable_password()


def _password_matches(*, request, user: User, proof: str) -> bool:
    return user.check_password(proof)


def _code_matches(*, request, user: User, proof: str) -> bool:
    mfa.checked_code(request=request, user=user, code=proof, purpose="reauthenticate")  # counted; raises
    return True


def _passkey_available(user: User) -> bool:
    return passkeys.passkey_count(user) > 0


def _passkey_matches(*, request, user: User, proof: dict) -> bool:
    with mfa.counted_guess(request=request, user=user, purpose="reauthenticate"), transaction.atomic():
        passkeys.verify(
            ceremony=proof["ceremony"],
            credential=proof["credential"],
            purpose=passkeys.Purpose.REAUTHENTICATE,
            user=user,
            bound_to=context.session_of(request.access),
        )
    return True


METHODS: dict[str, Method] = {
    "password": Method(
        field="password",
        rate_limit="reauthenticate",
        wrong_code="wrong_password",
        wrong_message="The password is wrong.",
        available=_password_available,
        unavailable_code="no_password",
        unavailable_message="This account has no password; sign out and sign in again (e.g. with Google) instead.",
        verify=_password_matches,
    ),
    "code": Method(
        field="code",
        rate_limit=None,
        wrong_code="second_factor_invalid",
        wrong_message="The code is wrong.",
        available=mfa.has_second_factor,
        unavailable_code="no_second_factor",
        unavailable_message="This account has no second factor; re-authenticate with the password.",
        verify=_code_matches,
    ),
    "passkey": Method(
        field="passkey",
        rate_limit=None,
        wrong_code="passkey_invalid",
        wrong_message="The passkey answer could not be verified.",
        available=_passkey_available,
        unavailable_code="no_passkey",
        unavailable_message="This account has no passkey.",
        verify=_passkey_matches,
    ),
}


def reauthenticate(*, request, user: User, family_id, method: Method, proof) -> datetime:
    """Check `proof` by `method` for `user` and, when right, mark the session `family_id` as
    authenticated now. Returns until when the session counts as recently authenticated.

    Failures are counted per account before the check (a stolen session cannot guess without
    limit: 429; the cache unreachable: 503, fail closed) and audited; a success gives the count
    back. 401 `token_revoked` when the session was signed out meanwhile."""
    if not method.available(user):
        raise Forbidden(method.unavailable_message, code=method.unavailable_code)
    attempt = ratelimit.attempt(request, method.rate_limit, accounts=[str(user.pk)]) if method.rate_limit else None
    try:
        if not method.verify(request=request, user=user, proof=proof):
            raise BadRequest(method.wrong_message, code=method.wrong_code)
    except BadRequest:
        record_event(
            action=Action.REAUTHENTICATION_FAILED,
            actor_id=user.pk,
            status_code=400,
            data={"method": method.field, "family": str(family_id)},
        )
        raise
    if attempt is not None:
        attempt.succeeded()
    now = timezone.now()
    with transaction.atomic():
        updated = RefreshFamily.objects.live().filter(pk=family_id, user=user).update(authenticated_at=now)
        if updated:
            record_event(
                action=Action.REAUTHENTICATED,
                actor_id=user.pk,
                status_code=200,
                data={"method": method.field, "family": str(family_id)},
            )
    if not updated:
        raise Unauthorized("This session has been signed out.", code="token_revoked")
    return now + timedelta(seconds=settings.REAUTH_SECONDS)
