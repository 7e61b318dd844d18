"""API-key writes. The raw key exists only in the return value of create/regenerate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from access import scopes
from access.context import TEAM_FORBIDDEN
from audit.services import Action, record_event
from infra import coherence
from infra.errors import APIError, BadRequest, Conflict, Forbidden
from teams.models import Membership

from . import keys
from .models import APIKey


@dataclass(frozen=True)
class IssuedKey:
    key: APIKey
    raw: str


def check_permissions(*, permissions: list[str], role: str) -> None:
    """400 for anything outside the catalog (listing the valid values); 403 naming every scope
    the caller's role does not allow."""
    if not permissions:
        raise BadRequest(
            "Give the key at least one permission.", code="permissions_required", valid_scopes=scopes.VALID_PERMISSIONS
        )
    bad = scopes.unknown(permissions)
    if bad:
        raise BadRequest(
            f"Unknown permission(s): {', '.join(bad)}.",
            code="unknown_scope",
            unknown_scopes=bad,
            valid_scopes=list(scopes.VALID_PERMISSIONS),
        )
    excess = scopes.expand(permissions) - scopes.role_scopes(role)
    if excess:
        raise Forbidden(
            f"Your role ({role}) does not allow: {', '.join(scopes.sorted_scopes(excess))}.",
            code="scope_exceeds_role",
            excess_scopes=scopes.sorted_scopes(excess),
        )


def check_expiry_policy(*, team, expires_at: datetime | None) -> None:
    """The team's key policy (teams.Team.key_expiry_required, key_max_lifetime_days) for a new key:
    400 `key_expiry_required` / `key_lifetime_exceeded`, the policy in the problem."""
    policy = {"expiry_required": True, "max_lifetime_days": team.key_max_lifetime_days}
    required = team.key_expiry_required or team.key_max_lifetime_days is not None
    if required and expires_at is None:
        raise APIError(
            "This team requires every new key to expire: give `expires_at`.",
            code="key_expiry_required",
            status_code=400,
            policy=policy,
        )
    if team.key_max_lifetime_days is not None and expires_at is not None:
        latest = timezone.now() + timedelta(days=team.key_max_lifetime_days)
        if expires_at > latest:
            raise APIError(
                f"This team's keys live at most {team.key_max_lifetime_days} days: "
                f"`expires_at` must be on or before {latest.isoformat(timespec='seconds')}.",
                code="key_lifetime_exceeded",
                status_code=400,
                policy=policy,
            )


def default_permissions(role: str) -> list[str]:
    """The permissions of a key asked for without any (seed 004's `{"name"}`): least privilege,
    read-only, i.e. every `read:*` scope the creator's role has now (a viewer's or member's: all
    but `read:billing`). Listed one by one rather than as legacy `read`, so the key never widens
    when the catalog grows."""
    return scopes.sorted_scopes(scopes.READ_SCOPES & scopes.role_scopes(role))


def create_key(
    *,
    membership: Membership,
    name: str,
    permissions: list[str] | None = None,
    expires_at: datetime | None = None,
    allowed_ips: list[str] | None = None,
    rate_limits: list[dict] | None = None,
    monthly_quota: int | None = None,
) -> IssuedKey:
    """`permissions` None (left out): default_permissions; an empty list is refused."""
    if permissions is None:
        permissions = default_permissions(membership.role)
    check_permissions(permissions=permissions, role=membership.role)
    if expires_at is not None and expires_at <= timezone.now():
        raise BadRequest("expires_at must be in the future.", code="expires_in_past")
    check_expiry_policy(team=membership.team, expires_at=expires_at)
    permissions = list(dict.fromkeys(permissions))  # de-duplicated, order kept
    with transaction.atomic():
        # Lock the owner's membership row so two concurrent creations cannot both pass the cap; a
        # row removed meanwhile (the owner left the team) means no key: its removal already
        # revoked the owner's keys, and a key made now would outlive it.
        locked = Membership.objects.for_team(membership.team_id).select_for_update().filter(pk=membership.pk)
        if locked.values_list("pk", flat=True).first() is None:
            raise Forbidden(TEAM_FORBIDDEN, code="team_forbidden")
        active = APIKey.objects.for_team(membership.team_id).active().filter(user_id=membership.user_id).count()
        limit = settings.API_KEY_MAX_ACTIVE_PER_USER
        if active >= limit:
            raise APIError(
                f"You already have {active} active keys in this team (the limit is {limit}); "
                "revoke or delete one first.",
                code="key_limit_reached",
                status_code=409,
                limit=limit,
            )
        issued = keys.generate()
        key = APIKey.objects.create(
            team_id=membership.team_id,
            user_id=membership.user_id,
            name=name,
            permissions=permissions,
            prefix=issued.display_prefix,
            digest=issued.digest,
            pepper_id=keys.newest_pepper_id(),
            expires_at=expires_at,
            allowed_ips=allowed_ips or [],
            rate_limits=rate_limits or [],
            monthly_quota=monthly_quota,
        )
        record_event(
            action=Action.KEY_CREATED,
            status_code=201,
            team_id=key.team_id,
            actor_id=membership.user_id,
            api_key=key,
            data={
                "permissions": permissions,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "allowed_ips": allowed_ips or [],
            },
        )
    return IssuedKey(key=key, raw=issued.raw)


def revoke_key(*, key: APIKey, actor) -> APIKey:
    """Instant and final. Revoking a revoked key changes nothing and records nothing."""
    with transaction.atomic():
        now = timezone.now()
        # The previous digest of a regenerated key stays: a call with that old secret then still
        # finds the key, and is refused as revoked and recorded against it.
        live = APIKey.objects.for_team(key.team_id).filter(pk=key.pk, revoked_at__isnull=True)
        updated = coherence.invalidate_around(lambda: live.update(revoked_at=now))
        if updated:
            record_event(
                action=Action.KEY_REVOKED,
                team_id=key.team_id,
                actor_id=actor.pk,
                api_key=key,
                status_code=200,
            )
    key.refresh_from_db()
    return key


def disable_key(*, key: APIKey, actor, reason: str | None = None) -> APIKey:
    """Switch a live key off: every request with it is refused (401 `key_disabled`) on every node
    from the next one, until it is enabled. Disabling a disabled, revoked or expired key changes
    nothing and records nothing. `actor` None: the platform did it (`reason`, e.g. "unused")."""
    with transaction.atomic():
        live = APIKey.objects.for_team(key.team_id).filter(pk=key.pk, revoked_at__isnull=True, disabled_at__isnull=True)
        updated = coherence.invalidate_around(lambda: live.update(disabled_at=timezone.now()))
        if updated:
            record_event(
                action=Action.KEY_DISABLED,
                team_id=key.team_id,
                actor_id=actor.pk if actor is not None else None,
                api_key=key,
                data={"reason": reason} if reason else None,
            )
    key.refresh_from_db()
    return key


def enable_key(*, key: APIKey, actor) -> APIKey:
    """Switch a disabled key back on (409 `key_revoked` for a revoked key: revocation is final)."""
    with transaction.atomic():
        if APIKey.objects.for_team(key.team_id).filter(pk=key.pk, revoked_at__isnull=False).exists():
            raise Conflict("A revoked key stays revoked; create a new one.", code="key_is_revoked")
        disabled = APIKey.objects.for_team(key.team_id).filter(pk=key.pk, disabled_at__isnull=False)
        updated = coherence.invalidate_around(lambda: disabled.update(disabled_at=None))
        if updated:
            record_event(action=Action.KEY_ENABLED, team_id=key.team_id, actor_id=actor.pk, api_key=key)
    key.refresh_from_db()
    return key


def delete_key(*, key: APIKey, actor) -> None:
    """Gone for good; its audit events stay (their key link is nulled, the snapshot remains)."""
    with transaction.atomic():
        record_event(
            action=Action.KEY_DELETED,
            team_id=key.team_id,
            actor_id=actor.pk,
            api_key=key,
            status_code=204,
        )
        key.delete()


def regenerate_key(*, key: APIKey, actor, grace_seconds: int = 0) -> IssuedKey:
    """A new secret for the same key (id, name, scopes). The old secret stops now, or after
    `grace_seconds` (at most a day) so a deployment can roll over without downtime."""
    if not 0 <= grace_seconds <= settings.API_KEY_MAX_GRACE_SECONDS:
        raise BadRequest(
            f"grace_seconds must be between 0 and {settings.API_KEY_MAX_GRACE_SECONDS}.", code="invalid_grace"
        )
    with transaction.atomic():
        key = APIKey.objects.for_team(key.team_id).select_for_update().get(pk=key.pk)
        now = timezone.now()
        status = key.status_at(now)
        if status == APIKey.Status.REVOKED:
            raise Conflict("A revoked key cannot be regenerated.", code="key_already_revoked")
        if status == APIKey.Status.EXPIRED:
            raise Conflict("An expired key cannot be regenerated; create a new one.", code="key_already_expired")
        issued = keys.generate()
        # The replaced digest is kept (usable until the grace period ends, possibly at once): a
        # call with the old secret then still finds its key and is refused and recorded against it.
        key.previous_digest = key.digest
        key.previous_digest_expires_at = now + timedelta(seconds=grace_seconds)
        key.digest = issued.digest
        key.pepper_id = keys.newest_pepper_id()
        key.prefix = issued.display_prefix
        key.last_rotated_at = now
        key.save(
            update_fields=[
                *("digest", "pepper_id", "prefix", "previous_digest", "previous_digest_expires_at"),
                "last_rotated_at",
            ]
        )
        record_event(
            action=Action.KEY_REGENERATED,
            status_code=200,
            team_id=key.team_id,
            actor_id=actor.pk,
            api_key=key,
            data={"grace_seconds": grace_seconds},
        )
    return IssuedKey(key=key, raw=issued.raw)


def rename_key(*, key: APIKey, name: str) -> APIKey:
    key.name = name
    key.save(update_fields=["name"])
    return key


GOVERNED_FIELDS = ("allowed_ips", "rate_limits", "monthly_quota")


def govern_key(*, key: APIKey, actor, **changes) -> APIKey:
    """Replace what governs the key's use: its IP allowlist (validated by
    infra.allowlist.AllowlistField), rate limits and monthly quota (apikeys.limits); effective on
    every node from the next request (the save invalidates cached principals). Audited."""
    changes = {field: value for field, value in changes.items() if field in GOVERNED_FIELDS}
    if not changes:
        return key
    with transaction.atomic():
        for field, value in changes.items():
            setattr(key, field, value)
        key.save(update_fields=list(changes))
        key.__dict__.pop("allowed_networks", None)
        record_event(action=Action.KEY_UPDATED, team_id=key.team_id, actor_id=actor.pk, api_key=key, data=changes)
    return key


def revoke_keys_of(*, user_id, team_id=None, reason: str, actor_id=None) -> int:
    """Revoke every live key of a person, in one team or (team_id=None) everywhere, with one
    `key.revoked` event each. Used when the person leaves a team, is deactivated, or their account
    is claimed by the owner of its address: a key never outlives its owner's right to it, and
    re-joining or reactivation never brings it back (revocation is final)."""
    with transaction.atomic():
        if team_id is None:
            keys_of_person = APIKey.objects.across_teams(reason="a person's keys in every team, revoked")
        else:
            keys_of_person = APIKey.objects.for_team(team_id)
        live = keys_of_person.select_for_update().filter(user_id=user_id, revoked_at__isnull=True)
        revoked = list(live)
        if not revoked:
            return 0
        coherence.invalidate_around(
            lambda: keys_of_person.filter(pk__in=[key.pk for key in revoked]).update(revoked_at=timezone.now())
        )
        for key in revoked:
            record_event(
                action=Action.KEY_REVOKED,
                team_id=key.team_id,
                actor_id=actor_id,
                api_key=key,
                data={"reason": reason},
            )
    return len(revoked)


def revoke_keys_of_removed_member(*, team_id, user_id, actor_id) -> None:
    """teams.services.MEMBER_REMOVED: a person who leaves a team loses their keys in it, for good."""
    revoke_keys_of(user_id=user_id, team_id=team_id, reason="member_removed", actor_id=actor_id)
