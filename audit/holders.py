"""Who holds a live audit stream, and whether they still may.

A stream is opened by a team admin, with a login (JWT), a gf_ key or an integration's Admin key
that has `admin` in the team, either directly (`Authorization` + `X-Team-Id`) or through a stream
token minted by one of those (audit/tokens.py). Either way the stream remembers its *holder*: the
credential that opened it, by id. The right to watch is not frozen at open: the stream server
re-checks every holder it serves every AUDIT_STREAM_RECHECK_SECONDS (audit/fanout.py), all of them
in a handful of queries, and ends the streams of those that no longer pass. The rules are the
request path's own: a login needs an active user, the password it logged in with and a membership
whose role grants `admin`; a key needs to be usable (APIKey.refusal), an active owner who is
still a member, and `admin` among its permissions ∩ the owner's role; an integration must not be
revoked. Scopes come from access.scopes, like everywhere else.

audit sits below teams, apikeys and integrations (tests/test_layout.py), so their models are
reached by name, as access.context does.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from access import scopes
from access.context import FAMILY_CLAIM, TEAM_FORBIDDEN, Access, Kind, check_signed_in, signed_in
from infra.errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Holder:
    """The credential behind a stream, by id (never a secret). `fingerprint` is a keyed hash of
    what that credential was when the stream was asked for: a login's password hash, the digest
    of the key secret presented, an integration's Admin key id. A password change, a key
    regenerated past its grace period or an Admin key regenerated ends the streams (and voids the
    stream tokens) of the credential as it was, as it ends the credential itself."""

    kind: str
    team_id: uuid.UUID
    user_id: uuid.UUID | None = None
    key_id: uuid.UUID | None = None
    integration_id: uuid.UUID | None = None
    fingerprint: str = ""
    # A login's session (refresh family): signing out, or revoking the session, ends its streams.
    session_id: uuid.UUID | None = None


def fingerprint(purpose: str, value: str) -> str:
    key = hmac.new(settings.SECRET_KEY.encode(), f"ghostflow audit stream: {purpose}".encode(), hashlib.sha256)
    return hmac.new(key.digest(), value.encode(), hashlib.sha256).hexdigest()[:32]


def _fingerprint_is(holder: Holder, purpose: str, value: str | None) -> bool:
    return bool(value) and hmac.compare_digest(holder.fingerprint, fingerprint(purpose, value))


def holder_of(access: Access, *, secret_used: str) -> Holder:
    """The holder of a request's access, bound to its team by the team step. `secret_used`: which
    secret of a key the request presented ("current" or "previous", infra.request_context)."""
    holder = Holder(kind=access.kind, team_id=access.team.pk)
    if access.kind == Kind.INTEGRATION:
        integration = access.credential
        return replace(
            holder, integration_id=integration.pk, fingerprint=fingerprint("admin key", integration.admin_key_id)
        )
    holder = replace(holder, user_id=access.user.pk)
    if access.kind == Kind.API_KEY:
        key = access.credential
        digest = key.digest if secret_used == "current" else key.previous_digest
        return replace(holder, key_id=key.pk, fingerprint=fingerprint("key", digest))
    # A signed-out session's access token lives on for minutes: it must not start a stream (nor
    # get a stream token), which would replay the log before the first re-check ends it.
    check_signed_in(access)
    family = access.credential.get(FAMILY_CLAIM) if access.credential is not None else None
    return replace(
        holder,
        fingerprint=fingerprint("password", access.user.password),
        session_id=uuid.UUID(str(family)) if family else None,
    )


# Why a holder may no longer watch, as the `revoked` event's `reason`, and the 401/403 a stream
# token presented for it answers at open.
REASONS: dict[str, tuple[int, str, str]] = {
    "team_deleted": (403, "team_forbidden", TEAM_FORBIDDEN),
    "not_member": (403, "team_forbidden", TEAM_FORBIDDEN),
    "not_admin": (403, "insufficient_scope", "This action needs the `admin` scope."),
    "user_inactive": (401, "authentication_failed", "User is inactive"),
    "password_changed": (401, "token_revoked", "The password changed since this stream was opened."),
    "session_revoked": (401, "token_revoked", "This session has been signed out."),
    "key_revoked": (401, "key_revoked", "The API key has been revoked."),
    "key_invalid": (401, "key_invalid", "The API key is not valid."),
    "key_expired": (401, "key_expired", "The API key has expired."),
    "key_owner_inactive": (401, "key_owner_inactive", "The owner of this API key is inactive."),
    "key_owner_removed": (
        401,
        "key_owner_removed",
        "The owner of this API key is no longer a member of its team.",
    ),
    "integration_revoked": (401, "integration_revoked", "This integration has been revoked."),
    "kid_unknown": (401, "kid_unknown", "The Admin key that asked for this stream has been regenerated."),
}


@dataclass(frozen=True)
class Standing:
    """A holder as the database has it now: `reason` is None while it may watch."""

    reason: str | None
    user: object = None
    credential: object = None
    team: object = None
    membership: object = None
    scopes: frozenset[str] = frozenset()
    # Which of a key's secrets the holder presented: "current", or "previous" in a grace period.
    secret: str = "current"


def standings(holders: Iterable[Holder]) -> dict[Holder, Standing]:
    """Every holder's standing, in at most six queries whatever their number."""
    holders = set(holders)
    if not holders:
        return {}
    team_model = apps.get_model("teams", "Team")
    membership_model = apps.get_model("teams", "Membership")
    key_model = apps.get_model("apikeys", "APIKey")
    integration_model = apps.get_model("integrations", "Integration")
    team_ids = {holder.team_id for holder in holders}
    teams = {team.pk: team for team in team_model.objects.filter(pk__in=team_ids)}
    key_ids = {holder.key_id for holder in holders if holder.key_id}
    keys = {}
    if key_ids:
        # The owner's *current* membership and role come with each key (the request path's query).
        keys = {
            key.pk: key
            for key in key_model.objects.with_owner_membership().select_related("user", "team").filter(pk__in=key_ids)
        }
    integration_ids = {holder.integration_id for holder in holders if holder.integration_id}
    integrations = {}
    if integration_ids:
        integrations = {
            integration.pk: integration for integration in integration_model.objects.filter(pk__in=integration_ids)
        }
    login_ids = {holder.user_id for holder in holders if holder.kind == Kind.JWT}
    session_ids = {holder.session_id for holder in holders if holder.kind == Kind.JWT and holder.session_id}
    users, memberships, live_sessions = {}, {}, set()
    if session_ids:
        live_sessions = signed_in(session_ids)
    if login_ids:
        users = {user.pk: user for user in get_user_model().objects.filter(pk__in=login_ids)}
        memberships = {
            (membership.team_id, membership.user_id): membership
            for membership in membership_model.objects.filter(team_id__in=team_ids, user_id__in=login_ids)
        }
    now = timezone.now()
    result = {}
    for holder in holders:
        team = teams.get(holder.team_id)
        if team is None:
            result[holder] = Standing("team_deleted")
        elif holder.kind == Kind.API_KEY:
            result[holder] = _key_standing(holder, keys.get(holder.key_id), team, now)
        elif holder.kind == Kind.INTEGRATION:
            result[holder] = _integration_standing(holder, integrations.get(holder.integration_id), team)
        else:
            standing = _login_standing(
                holder, users.get(holder.user_id), memberships.get((holder.team_id, holder.user_id)), team
            )
            if standing.reason in (None, "not_admin") and holder.session_id not in live_sessions:
                standing = Standing("session_revoked")
            result[holder] = standing
    return result


def _login_standing(holder: Holder, user, membership, team) -> Standing:
    if user is None or not user.is_active:
        return Standing("user_inactive")
    if not _fingerprint_is(holder, "password", user.password):
        return Standing("password_changed")
    if membership is None:
        return Standing("not_member")
    granted = scopes.effective_scopes(permissions=None, role=membership.role)
    return _admin_or_not(Standing(None, user, None, team, membership, granted))


def _key_standing(holder: Holder, key, team, now) -> Standing:
    if key is None or key.team_id != holder.team_id:
        return Standing("key_revoked")  # deleted
    # The secret the holder presented, if the key still has it: a secret regenerated away (past
    # its grace period, or replaced twice) is not the key any more.
    if _fingerprint_is(holder, "key", key.digest):
        digest, secret = key.digest, "current"
    elif _fingerprint_is(holder, "key", key.previous_digest):
        digest, secret = key.previous_digest, "previous"
    else:
        return Standing("key_invalid", credential=key, secret="previous")
    refusal = key.refusal(digest=digest, now=now)
    # A refused key is still named (`credential`): the audit log records the refusal against it.
    if refusal is not None:
        return Standing(refusal[0], credential=key, secret=secret)
    if not key.user.is_active:
        return Standing("key_owner_inactive", credential=key)
    if key.owner_membership_id is None:
        return Standing("key_owner_removed", credential=key)
    membership = apps.get_model("teams", "Membership")(
        id=key.owner_membership_id, team=team, user=key.user, role=key.owner_role
    )
    return _admin_or_not(Standing(None, key.user, key, team, membership, key.effective_scopes(), secret))


def _integration_standing(holder: Holder, integration, team) -> Standing:
    if integration is None or integration.team_id != holder.team_id:
        return Standing("integration_revoked")
    if integration.revoked_at is not None:
        return Standing("integration_revoked", credential=integration)
    if not _fingerprint_is(holder, "admin key", integration.admin_key_id):
        # Its Admin key was regenerated: what the old key signed stops at once.
        return Standing("kid_unknown", credential=integration)
    membership = apps.get_model("teams", "Membership")(team=team, role=integration.acting_role)
    actor_class = _integration_actor()
    return _admin_or_not(
        Standing(None, actor_class(integration), integration, team, membership, integration.effective_scopes())
    )


def _integration_actor():
    # The `request.user` of an integration's requests (integrations.authentication), by path:
    # audit does not import the apps above it.
    from django.utils.module_loading import import_string

    return import_string("integrations.authentication.IntegrationActor")


def _admin_or_not(standing: Standing) -> Standing:
    return standing if scopes.ADMIN in standing.scopes else replace(standing, reason="not_admin")


def access_of(holder: Holder, standing: Standing) -> Access:
    """The access a stream token's holder has in its team now (its `standing`), as the team step
    would have bound it; 401/403 when its credential no longer works there. Whether it still has
    `admin` is left to the view's scope check (HasScope), as for every other request."""
    if standing.reason is not None and standing.reason != "not_admin":
        status, code, detail = REASONS[standing.reason]
        if status == 403:
            raise Forbidden(detail, code=code)
        raise Unauthorized(detail, code=code)
    return Access(
        user=standing.user,
        kind=holder.kind,
        credential=standing.credential,
        team=standing.team,
        membership=standing.membership,
        scopes=standing.scopes,
    )
