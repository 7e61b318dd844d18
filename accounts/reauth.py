"""Step-up ("sudo mode"): a signed-in person proves who they are again, and their *session* (the
refresh family of the login making the call) counts as recently authenticated for
settings.REAUTH_SECONDS (access.permissions.RecentAuthentication asks). Never a token: the time
is stored on the family, so a token copied to, or minted for, another session gains nothing.

The ways to re-authenticate are a registry, METHODS, keyed by the body field that carries the
proof. `password` is the first; a second factor is one more entry, e.g.

    METHODS["code"] = Method(
        field="code", rate_limit="reauthenticate", wrong_code="code_invalid",
        wrong_message="The code is wrong or was already used.",
        available=lambda user: mfa.has_totp(user), verify=mfa.verify_second_factor,
    )

plus the optional `code` field of serializers.ReauthenticateSerializer (whose check, exactly one
method per request, reads this registry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import Action, record_event
from infra import ratelimit
from infra.errors import BadRequest, Forbidden, Unauthorized

from .models import RefreshFamily, User


@dataclass(frozen=True)
class Method:
    field: str  # the request body's field carrying the proof, and the method's name in audit rows
    rate_limit: str  # the scope of settings.RATE_LIMITS counting failures per account (fails closed)
    wrong_code: str  # the stable error code of a wrong proof (400)
    wrong_message: str
    available: Callable[[User], bool]  # whether this person can use it at all (else 403 `unavailable_code`)
    unavailable_code: str
    unavailable_message: str
    verify: Callable[[User, str], bool]


def _password_available(user: User) -> bool:
    return user.has_usable_password()


def _password_matches(user: User, password: str) -> bool:
    return user.check_password(password)


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
}


def reauthenticate(*, request, user: User, family_id, method: Method, proof: str) -> datetime:
    """Check `proof` by `method` for `user` and, when right, mark the session `family_id` as
    authenticated now. Returns until when the session counts as recently authenticated.

    Failures are counted per account before the check (a stolen session cannot guess without
    limit: 429; the cache unreachable: 503, fail closed) and audited; a success gives the count
    back. 401 `token_revoked` when the session was signed out meanwhile."""
    if not method.available(user):
        raise Forbidden(method.unavailable_message, code=method.unavailable_code)
    attempt = ratelimit.attempt(request, method.rate_limit, accounts=[str(user.pk)])
    if not method.verify(user, proof):
        record_event(
            action=Action.REAUTHENTICATION_FAILED,
            actor_id=user.pk,
            status_code=400,
            data={"method": method.field, "family": str(family_id)},
        )
        raise BadRequest(method.wrong_message, code=method.wrong_code)
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
