"""Who holds a live audit stream, and whether they still may.

A stream is opened by a team admin, with a login (JWT), a gf_ key or an integration's Admin key
that has `admin` in the team, either directly (`Authorization` + `X-Team-Id`) or through a stream
token minted by one of those (livestream/tokens.py). Either way the stream remembers its *holder*:
the credential that opened it, by id. The right to watch is not frozen at open: the stream server
re-checks every holder it serves every AUDIT_STREAM_RECHECK_SECONDS (livestream/fanout.py), all
of them in a handful of queries, and ends the streams of those that no longer pass.

Whether a credential may still be used is decided by its own app, by the rule its authentication
class applies on every request (access.refusals names them): `APIKey.refusal`,
`Integration.refusal`, `accounts.authentication.login_refusal` and `accounts.sessions.signed_in`.
This module only loads the rows those rules read, for many holders at once, and adds the team's
part (the team still exists, the login is still a member, the scopes still include `admin`).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from access import scopes
from access.context import FAMILY_CLAIM, TEAM_FORBIDDEN, Access, Kind, check_signed_in, team_rule_refusal
from access.refusals import Refusal
from accounts import sessions
from accounts.authentication import login_refusal
from apikeys.models import APIKey
from integrations.authentication import IntegrationActor
from integrations.models import INTEGRATION_REVOKED, Integration
from teams.models import Membership, Team


@dataclass(frozen=True)
class Holder:
    """The credential behind a stream, by id (never a secret). `fingerprint` says what that
    credential was when the stream was asked for: a login's password stamp, as its access token
    carries it (accounts.authentication.password_stamp); a keyed hash of the digest of the key
    secret presented, or of an integration's Admin key id. A password change, a key regenerated
    past its grace period or an Admin key regenerated ends the streams (and voids the stream
    tokens) of the credential as it was, as it ends the credential itself."""

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
    stamp = access.credential.get(jwt_settings.REVOKE_TOKEN_CLAIM) if access.credential is not None else None
    return replace(holder, fingerprint=str(stamp or ""), session_id=uuid.UUID(str(family)) if family else None)


# What the team adds to a credential's own rule: the team still exists, the login is still a member,
# the scopes still include `admin` (the view's scope check answers that one at open).
TEAM_DELETED = Refusal("team_deleted", "team_forbidden", TEAM_FORBIDDEN, status=403)
NOT_MEMBER = Refusal("not_member", "team_forbidden", TEAM_FORBIDDEN, status=403)
NOT_ADMIN = Refusal("not_admin", "insufficient_scope", "This action needs the `admin` scope.", status=403)
SESSION_REVOKED = Refusal("session_revoked", "token_revoked", "This session has been signed out.")
KEY_DELETED = Refusal("key_revoked", "key_revoked", "The API key has been revoked.")


@dataclass(frozen=True)
class Standing:
    """A holder as the database has it now: `refusal` is None while it may watch."""

    refusal: Refusal | None
    user: object = None
    credential: object = None
    team: object = None
    membership: object = None
    scopes: frozenset[str] = frozenset()
    # Which of a key's secrets the holder presented: "current", or "previous" in a grace period.
    secret: str = "current"

    @property
    def reason(self) -> str | None:
        """The `event: revoked` reason, or None while it may watch."""
        return self.refusal.reason if self.refusal is not None else None


# The re-check is batched: the holders of every team a stream server serves, in a handful of queries.
RECHECK = "the live stream's re-check of its holders, every team's at once"


def standings(holders: Iterable[Holder]) -> dict[Holder, Standing]:
    """Every holder's standing, in at most six queries whatever their number."""
    holders = set(holders)
    if not holders:
        return {}
    team_ids = {holder.team_id for holder in holders}
    teams = {team.pk: team for team in Team.objects.filter(pk__in=team_ids)}
    key_ids = {holder.key_id for holder in holders if holder.key_id}
    keys = {}
    if key_ids:
        # The owner's *current* membership and role come with each key (the request path's query).
        keys = {
            key.pk: key
            for key in APIKey.objects.across_teams(reason=RECHECK)
            .with_owner_membership()
            .select_related("user", "team")
            .filter(pk__in=key_ids)
        }
    integration_ids = {holder.integration_id for holder in holders if holder.integration_id}
    integrations = {}
    if integration_ids:
        integrations = {
            integration.pk: integration
            for integration in Integration.objects.across_teams(reason=RECHECK)
            .select_related("team")
            .filter(pk__in=integration_ids)
        }
    login_ids = {holder.user_id for holder in holders if holder.kind == Kind.JWT}
    session_ids = {holder.session_id for holder in holders if holder.kind == Kind.JWT and holder.session_id}
    users, memberships, live_sessions = {}, {}, set()
    if session_ids:
        live_sessions = sessions.signed_in(session_ids)
    if login_ids:
        users = {user.pk: user for user in get_user_model().objects.filter(pk__in=login_ids)}
        memberships = {
            (membership.team_id, membership.user_id): membership
            for membership in Membership.objects.across_teams(reason=RECHECK).filter(
                team_id__in=team_ids, user_id__in=login_ids
            )
        }
    now = timezone.now()
    result = {}
    for holder in holders:
        team = teams.get(holder.team_id)
        if team is None:
            result[holder] = Standing(TEAM_DELETED)
        elif holder.kind == Kind.API_KEY:
            result[holder] = _key_standing(holder, keys.get(holder.key_id), now)
        elif holder.kind == Kind.INTEGRATION:
            result[holder] = _integration_standing(holder, integrations.get(holder.integration_id))
        else:
            standing = _login_standing(
                holder, users.get(holder.user_id), memberships.get((holder.team_id, holder.user_id)), team
            )
            if standing.reason in (None, "not_admin") and holder.session_id not in live_sessions:
                standing = Standing(SESSION_REVOKED)
            result[holder] = standing
    return result


def _login_standing(holder: Holder, user, membership, team) -> Standing:
    refusal = login_refusal(user, stamp=holder.fingerprint)
    if refusal is not None:
        return Standing(refusal)
    if membership is None:
        return Standing(NOT_MEMBER)
    refusal = team_rule_refusal(user, team)  # the team requires a second factor and they have none
    if refusal is not None:
        return Standing(refusal)
    membership.team = team
    granted = scopes.effective_scopes(permissions=None, role=membership.role)
    return _admin_or_not(Standing(None, user, None, team, membership, granted))


def _key_standing(holder: Holder, key: APIKey | None, now) -> Standing:
    if key is None or key.team_id != holder.team_id:
        return Standing(KEY_DELETED)
    # The secret the holder presented, if the key still has it: a secret regenerated away (past
    # its grace period, or replaced twice) is not the key any more.
    if _fingerprint_is(holder, "key", key.digest):
        digest, secret = key.digest, "current"
    elif _fingerprint_is(holder, "key", key.previous_digest):
        digest, secret = key.previous_digest, "previous"
    else:
        digest, secret = None, "previous"
    refusal = key.refusal(digest=digest, now=now)
    # A refused key is still named (`credential`): the audit log records the refusal against it.
    if refusal is None:
        # The team requires a second factor and the key's owner has none.
        refusal = team_rule_refusal(key.user, key.team)
    if refusal is not None:
        return Standing(refusal, credential=key, secret=secret)
    return _admin_or_not(
        Standing(None, key.user, key, key.team, key.owner_membership(), key.effective_scopes(), secret)
    )


def _integration_standing(holder: Holder, integration: Integration | None) -> Standing:
    if integration is None or integration.team_id != holder.team_id:
        return Standing(INTEGRATION_REVOKED)
    refusal = integration.refusal(admin_key_current=_fingerprint_is(holder, "admin key", integration.admin_key_id))
    if refusal is not None:
        return Standing(refusal, credential=integration)
    return _admin_or_not(
        Standing(
            None,
            IntegrationActor(integration),
            integration,
            integration.team,
            integration.acting_membership(),
            integration.effective_scopes(),
        )
    )


def _admin_or_not(standing: Standing) -> Standing:
    return standing if scopes.ADMIN in standing.scopes else replace(standing, refusal=NOT_ADMIN)


def access_of(holder: Holder, standing: Standing) -> Access:
    """The access a stream token's holder has in its team now (its `standing`), as the team step
    would have bound it; 401/403 when its credential no longer works there. Whether it still has
    `admin` is left to the view's scope check (HasScope), as for every other request."""
    if standing.refusal is not None and standing.refusal is not NOT_ADMIN:
        raise standing.refusal.error()
    return Access(
        user=standing.user,
        kind=holder.kind,
        credential=standing.credential,
        team=standing.team,
        membership=standing.membership,
        scopes=standing.scopes,
    )
