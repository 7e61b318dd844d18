"""The access value of a request: who is calling, with which credential, in which team, with which
scopes. Built once after authentication (`establish`) and, on team-scoped endpoints, bound to the
team named by X-Team-Id (`enter_team`), right after authentication and before permissions.

The team step runs inside DRF rather than as a Django middleware because the principal (JWT user
or API key) is only known after DRF authentication; a middleware would have to authenticate a
second time. `access.views.AccessMixin` is the one place that calls it, and a test walks every
URL under /api/v1/ to prove no view skips it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from infra.coherence import ProcessCache
from infra.errors import BadRequest, Forbidden, Unauthorized

from .refusals import Refusal
from .scopes import effective_scopes

TEAM_HEADER = "X-Team-Id"
# A login's membership in a team, per process, coherent like the principal cache (a membership
# saved or deleted replaces the generation): infra.coherence.
_memberships = ProcessCache()
TEAM_FORBIDDEN = "The team does not exist or you are not a member of it."


class Kind(StrEnum):
    """Credential kinds, as authentication classes declare them (`credential_kind`)."""

    JWT = "jwt"
    API_KEY = "api_key"
    INTEGRATION = "integration"  # a team's Admin key (client-signed JWT): integrations/


# The claim of a login's access token naming its session (accounts.models.RefreshFamily); here,
# below accounts, so that what checks a login from below (audit's live streams) can read it.
FAMILY_CLAIM = "fam"


@dataclass(frozen=True)
class KindRules:
    interactive: bool  # a person logged in (may manage keys, members, the account)
    bound_to_team: bool  # the credential itself names one team (a key)
    has_permissions: bool  # carries its own permissions, intersected with the owner's role
    personal: bool  # a person's credential: the rules a team sets for its members apply to it


# What each credential kind may do: one line per kind.
KINDS: dict[str, KindRules] = {
    Kind.JWT: KindRules(interactive=True, bound_to_team=False, has_permissions=False, personal=True),
    Kind.API_KEY: KindRules(interactive=False, bound_to_team=True, has_permissions=True, personal=True),
    # The team's own credential: its permissions ∩ the `admin` role, whoever created it; nobody's,
    # so a team's rules for its members (a second factor) do not apply to it.
    Kind.INTEGRATION: KindRules(interactive=False, bound_to_team=True, has_permissions=True, personal=False),
}
_NOBODY = KindRules(interactive=False, bound_to_team=False, has_permissions=False, personal=False)


@dataclass(frozen=True)
class Access:
    """Immutable. `credential` is what the authentication class returned as `request.auth` (the
    APIKey, the access token); `membership` and `scopes` are set only inside a team."""

    user: Any = None
    kind: str | None = None
    credential: Any = None
    team: Any = None
    membership: Any = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def rules(self) -> KindRules:
        return KINDS.get(self.kind or "", _NOBODY)

    @property
    def is_authenticated(self) -> bool:
        return self.kind is not None

    @property
    def is_interactive(self) -> bool:
        return self.rules.interactive

    @property
    def key(self):
        """The API key of a key request, else None."""
        return self.credential if self.kind == Kind.API_KEY else None

    @property
    def role(self) -> str | None:
        return self.membership.role if self.membership is not None else None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


ANONYMOUS = Access()


def _set(request, access: Access) -> Access:
    # On the DRF request and on the Django request under it: middleware sees the latter.
    request.access = access
    request._request.access = access
    return access


def clear() -> None:
    _memberships.clear()


def of(request) -> Access:
    """The request's access (ANONYMOUS before authentication or without a credential)."""
    return getattr(request, "access", ANONYMOUS)


def establish(request) -> Access:
    """After DRF authentication: the caller and their credential, no team yet."""
    authenticator = getattr(request, "_authenticator", None)
    if authenticator is None or not request.user.is_authenticated:
        return _set(request, ANONYMOUS)
    kind = authenticator.credential_kind
    return _set(request, Access(user=request.user, kind=kind, credential=request.auth))


def parse_team_header(request) -> uuid.UUID:
    raw = request.headers.get(TEAM_HEADER)
    if raw is None or not raw.strip():
        raise BadRequest(f"The {TEAM_HEADER} header is required on this endpoint.", code="team_required")
    try:
        return uuid.UUID(raw.strip())
    except ValueError as exc:
        raise BadRequest(f"The {TEAM_HEADER} header must be a team UUID.", code="team_invalid") from exc


def enter_team(request) -> Access:
    """Bind the access to the team of X-Team-Id, or raise 400/403.

    Unknown team and "not a member" answer the same 403, so team ids cannot be probed. A
    credential bound to a team (a key) works only there; its effective scopes are its own
    permissions ∩ its owner's *current* role, a login's are its role's.
    """
    access = of(request)
    team_id = parse_team_header(request)
    if access.rules.bound_to_team:
        credential = access.credential
        if credential.team_id != team_id:
            raise Forbidden(
                "This credential belongs to another team; send the X-Team-Id of its team.",
                code="key_team_mismatch",
            )
        # The credential's query already brought the team (and a key's owner membership): no query.
        # An integration acts with nobody's membership, with the role that caps it.
        membership = (
            credential.acting_membership() if access.kind == Kind.INTEGRATION else credential.owner_membership()
        )
    else:
        # Through the user's reverse relation (teams' Membership.user): access sits below teams.
        membership = _memberships.get(
            (access.user.pk, team_id),
            lambda: access.user.memberships.for_team(team_id).select_related("team").first(),
        )
        if membership is None:
            raise Forbidden(TEAM_FORBIDDEN, code="team_forbidden")
    # The team's own rule for its members: read from the team and the user rows the credential's
    # query (or the membership's) brought, so no query; the team's flag first, off for most teams.
    if membership.team.require_second_factor and access.rules.personal:
        refusal = team_rule_refusal(access.user, membership.team)
        if refusal is not None:
            raise refusal.error()
    permissions = access.credential.permissions if access.rules.has_permissions else None
    scopes = effective_scopes(permissions=permissions, role=membership.role)
    return _set(request, replace(access, team=membership.team, membership=membership, scopes=scopes))


# --- the team's rule: every member uses a second factor --------------------------------------

SECOND_FACTOR_REQUIRED = Refusal(
    "second_factor_required",
    "second_factor_required",
    "This team requires two-step verification and your account has none: turn it on (the "
    "dashboard's Account page, or POST /api/v1/me/second-factors/totp), then try again.",
    status=403,
)

# Whether a person has a second factor now, by accounts' rule (accounts.mfa.has_enrolled: the
# flag accounts.mfa.second_factors_changed keeps on the user row, so asking costs no query);
# registered by accounts like SESSION_RULE: access and teams sit below accounts.
SECOND_FACTOR_RULE: list[Callable[[Any], bool]] = []


def has_second_factor(user) -> bool:
    if len(SECOND_FACTOR_RULE) != 1:
        raise ImproperlyConfigured("accounts must register exactly one rule (access.context.SECOND_FACTOR_RULE).")
    return SECOND_FACTOR_RULE[0](user)


def team_rule_refusal(user, team) -> Refusal | None:
    """Why `user` may not act in `team` by the team's own rule, or None: a team that requires a
    second factor (Team.require_second_factor) refuses a member without one, with their login and
    with the keys they own alike (never an integration: the team's own credential, nobody's). The
    one rule, which the team step (enter_team) applies on every team-scoped request and the live
    stream's re-check (livestream.holders) to every holder; it takes effect on the next request
    after a factor is added or removed or the rule changes (both replace the principal cache's
    generation)."""
    if team.require_second_factor and not has_second_factor(user):
        return SECOND_FACTOR_REQUIRED
    return None


SIGNED_OUT = "This session has been signed out."

# The rule that says which logins (refresh families) are still signed in lives in accounts
# (accounts.sessions.signed_in); accounts registers it here in its AppConfig.ready, as apps above
# teams register teams.services.MEMBER_REMOVED: access and audit sit below accounts.
SESSION_RULE: list[Callable[[Iterable[uuid.UUID]], set[uuid.UUID]]] = []


def signed_in(session_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these sessions are still signed in (one query), by accounts' rule."""
    if len(SESSION_RULE) != 1:
        raise ImproperlyConfigured("accounts must register exactly one session rule (access.context.SESSION_RULE).")
    return SESSION_RULE[0](session_ids)


def session_of(access: Access) -> uuid.UUID | None:
    """The session (refresh family) a login's access token belongs to; None for other credentials
    or a token without a well-formed one."""
    if access.kind != Kind.JWT or access.credential is None:
        return None
    try:
        return uuid.UUID(str(access.credential.get(FAMILY_CLAIM)))
    except ValueError:
        return None


def check_signed_in(access: Access) -> None:
    """401 `token_revoked` unless the login making this request is still signed in: an access
    token outlives its session by up to its lifetime (5 minutes), and what needs an interactive
    login (access.permissions.InteractiveLoginOnly) must not be done by one that was signed out.
    Only for logins; other credentials have their own state."""
    if access.kind != Kind.JWT:
        return
    session = session_of(access)
    if session is None or session not in signed_in([session]):
        raise Unauthorized(SIGNED_OUT, code="token_revoked")


REAUTHENTICATION_REQUIRED = "Confirm it is you: re-authenticate (POST /api/v1/auth/reauthenticate), then try again."

# When a session last proved who it is (accounts.sessions.authenticated_at), registered by
# accounts like SESSION_RULE: None when the session is not signed in (or never proved it).
AUTHENTICATED_AT_RULE: list[Callable[[uuid.UUID], datetime | None]] = []


def check_recently_authenticated(access: Access, *, within_seconds: int) -> None:
    """403 `reauthentication_required` unless the *session* of this login (its refresh family,
    named by the access token, never the token itself) proved who it is within the last
    `within_seconds`: at its login, or at a re-authentication. Bound to the session, so a token of
    another session of the same person does not lend it its recent authentication; a refresh keeps
    the session's time and never moves it. 401 `token_revoked` for a session signed out. Only for
    logins (access.permissions.RecentAuthentication lets no other credential this far)."""
    if len(AUTHENTICATED_AT_RULE) != 1:
        raise ImproperlyConfigured("accounts must register exactly one rule (access.context.AUTHENTICATED_AT_RULE).")
    session = session_of(access)
    if access.kind != Kind.JWT or session is None:
        raise Unauthorized(SIGNED_OUT, code="token_revoked")
    authenticated_at = AUTHENTICATED_AT_RULE[0](session)
    if authenticated_at is None:
        raise Unauthorized(SIGNED_OUT, code="token_revoked")
    if timezone.now() - authenticated_at > timedelta(seconds=within_seconds):
        raise Forbidden(REAUTHENTICATION_REQUIRED, code="reauthentication_required")
