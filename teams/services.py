"""Team writes. Every team keeps at least one owner; nobody grants a role above their own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from rest_framework.exceptions import NotFound

from access import context, scopes
from access.scopes import ROLE_RANK, Role
from audit.services import Action, record_event
from infra import mail
from infra.errors import Conflict, Forbidden

from .models import Membership, Team

# What else ends when a member leaves a team, registered by the apps that keep per-member data in
# a team (apikeys: the member's keys there are revoked). An explicit list rather than a signal:
# each entry runs inside remove_member's transaction, so a failure undoes the removal too. teams
# cannot import those apps (they import teams), hence the registration, in their AppConfig.ready.
MEMBER_REMOVED: list[Callable[..., None]] = []


def create_team(*, user, name: str) -> Membership:
    with transaction.atomic():
        team = Team.objects.create(name=name)
        membership = Membership.objects.create(team=team, user=user, role=Role.OWNER)
        record_event(action=Action.TEAM_CREATED, team_id=team.pk, actor_id=user.pk, data={"name": name})
    return membership


def update_team(*, team: Team, name: str, actor) -> Team:
    with transaction.atomic():
        old = team.name
        team.name = name
        team.save(update_fields=["name"])
        record_event(
            action=Action.TEAM_UPDATED,
            team_id=team.pk,
            actor_id=actor.pk,
            data={"name": {"from": old, "to": name}},
        )
    return team


LEAKED_KEY_ACTIONS = ("revoke", "flag")


def set_leaked_key_action(*, team: Team, actor_membership: Membership, action: str) -> Team:
    """What a leaked-key report does to this team's live keys found in public: `revoke` them at
    once (the default) or only `flag` them (the team acts itself). Only an owner; audited. Flagging
    leaves a key that the world has seen working, so the choice is the owner's, with step-up."""
    if actor_membership.role != Role.OWNER:
        raise Forbidden("Only an owner can change what happens to leaked keys.", code="owner_required")
    if action not in LEAKED_KEY_ACTIONS:  # the serializer's choices: another value is a bug
        raise ValueError(f"leaked_key_action is one of {LEAKED_KEY_ACTIONS}, not {action!r}")
    with transaction.atomic():
        current = Team.objects.select_for_update().get(pk=team.pk)
        if current.leaked_key_action != action:
            previous = current.leaked_key_action
            current.leaked_key_action = action
            current.save(update_fields=["leaked_key_action"])
            record_event(
                action=Action.TEAM_UPDATED,
                team_id=current.pk,
                actor_id=actor_membership.user_id,
                data={"leaked_key_action": {"from": previous, "to": action}},
            )
    return current


KEY_POLICY_FIELDS = ("key_expiry_required", "key_max_lifetime_days", "key_unused_days", "key_unused_action")


def key_policy(team: Team) -> dict:
    return {
        "expiry_required": team.key_expiry_required or team.key_max_lifetime_days is not None,
        "max_lifetime_days": team.key_max_lifetime_days,
        "unused_days": team.key_unused_days,
        "unused_action": team.key_unused_action,
        "default_rate_limits": team.default_key_rate_limits,
        "default_monthly_quota": team.default_key_monthly_quota,
        "limits_on_cache_failure": team.key_limits_on_cache_failure,
    }


def set_key_policy(
    *,
    team: Team,
    actor_membership: Membership,
    expiry_required: bool,
    max_lifetime_days: int | None,
    unused_days: int | None,
    unused_action: str,
    default_rate_limits: list[dict] | None = None,
    default_monthly_quota: int | None = None,
    limits_on_cache_failure: str = "closed",
) -> dict:
    """The team's policy for API keys. The expiry rules are for new keys only (keys made before keep
    their expiry); the unused-key rule and the default rate limits and quota apply to every key
    without its own, from the next request (the save invalidates cached keys). Only an owner;
    audited with what changed."""
    if actor_membership.role != Role.OWNER:
        raise Forbidden("Only an owner can change the team's key policy.", code="owner_required")
    wanted = {
        "key_expiry_required": expiry_required or max_lifetime_days is not None,
        "key_max_lifetime_days": max_lifetime_days,
        "key_unused_days": unused_days,
        "key_unused_action": unused_action,
        "default_key_rate_limits": default_rate_limits or [],
        "default_key_monthly_quota": default_monthly_quota,
        "key_limits_on_cache_failure": limits_on_cache_failure,
    }
    with transaction.atomic():
        current = Team.objects.select_for_update().get(pk=team.pk)
        changed = {
            field: {"from": getattr(current, field), "to": value}
            for field, value in wanted.items()
            if getattr(current, field) != value
        }
        if changed:
            for field, value in wanted.items():
                setattr(current, field, value)
            current.save(update_fields=list(wanted))
            record_event(
                action=Action.TEAM_UPDATED, team_id=current.pk, actor_id=actor_membership.user_id, data=changed
            )
    return key_policy(current)


@dataclass(frozen=True)
class SecondFactorRule:
    required: bool
    members_without_second_factor: int


def second_factor_rule(team: Team) -> SecondFactorRule:
    """The team's rule and how many members it shuts out now (one query)."""
    return _rule(team, list(Membership.objects.for_team(team).select_related("user")))


def _rule(team: Team, members: list[Membership]) -> SecondFactorRule:
    return SecondFactorRule(
        required=team.require_second_factor,
        members_without_second_factor=sum(not context.has_second_factor(m.user) for m in members),
    )


def set_second_factor_rule(*, team: Team, actor_membership: Membership, required: bool) -> SecondFactorRule:
    """Require (or stop requiring) a second factor of every member of the team (GitHub's and
    Sentry's organisation setting): from the next request on, a member without one is refused in
    the team with their login and their keys (access.context.team_rule_refusal); integrations are
    the team's and carry on. Only an owner, and an owner turning it on must have a second factor
    themself (else they would shut themself out). A change is audited and mailed to every member;
    setting the value the team already has changes nothing and tells nobody."""
    if actor_membership.role != Role.OWNER:
        raise Forbidden("Only an owner can change the team's two-step verification rule.", code="owner_required")
    actor = actor_membership.user
    if required and not context.has_second_factor(actor):
        raise Conflict(
            "Turn on two-step verification for your own account first: the rule would shut you out of the team.",
            code="own_second_factor_required",
        )
    with transaction.atomic():
        current = Team.objects.select_for_update().get(pk=team.pk)
        team.require_second_factor = required
        if current.require_second_factor == required:
            return second_factor_rule(current)
        # A save, not an update(): the Team's signals replace the principal cache's generation
        # (apikeys.invalidation), so cached keys and memberships see the rule on the next request.
        current.require_second_factor = required
        current.save(update_fields=["require_second_factor"])
        members = list(Membership.objects.for_team(current).select_related("user"))
        rule = _rule(current, members)
        record_event(
            action=Action.TEAM_SECOND_FACTOR_REQUIRED if required else Action.TEAM_SECOND_FACTOR_NOT_REQUIRED,
            team_id=current.pk,
            actor_id=actor.pk,
            data={"members_without_second_factor": rule.members_without_second_factor},
        )
        template = "team_second_factor_required" if required else "team_second_factor_not_required"
        for member in members:  # sent after the commit (infra.mail)
            if member.user.email:
                mail.send(
                    template,
                    member.user.email,
                    username=member.user.username,
                    team=current.name,
                    actor=actor.username,
                    enrolled=context.has_second_factor(member.user),
                )
    return rule


def delete_team(*, team: Team, actor_membership: Membership) -> None:
    if actor_membership.role != Role.OWNER:
        raise Forbidden("Only an owner can delete the team.", code="owner_required")
    with transaction.atomic():
        # Audit events keep their team_id after the team is gone (no cascade on that column).
        record_event(
            action=Action.TEAM_DELETED,
            team_id=team.pk,
            actor_id=actor_membership.user_id,
            data={"name": team.name},
        )
        team.delete()


def add_member(*, team: Team, user, role: str, actor=None, data: dict | None = None) -> Membership:
    """`actor` is whoever made the change (the invitee, when accepting an invitation); `data`
    adds facts to the event (e.g. who sent the invitation)."""
    with transaction.atomic():
        membership = Membership.objects.create(team=team, user=user, role=role)
        record_event(
            action=Action.MEMBER_ADDED,
            team_id=team.pk,
            actor_id=getattr(actor, "pk", None),
            data={"user_id": str(user.pk), "role": role, **(data or {})},
        )
    return membership


def _lock_team(team_id) -> None:
    # Serialises membership changes of one team, so two owners cannot demote each other at once
    # and leave the team ownerless (a no-op on SQLite, which serialises writers anyway).
    Team.objects.select_for_update().filter(pk=team_id).values_list("pk", flat=True).first()


def _current(target: Membership) -> Membership:
    """The membership as it is now, under the team lock: a concurrent request may have removed it
    since the view looked it up (then it is simply not found)."""
    current = Membership.objects.for_team(target.team_id).filter(pk=target.pk).first()
    if current is None:
        raise NotFound("This member is no longer in the team.")
    return current


def _other_owners_exist(membership: Membership) -> bool:
    others = Membership.objects.for_team(membership.team_id).filter(role=Role.OWNER).exclude(pk=membership.pk)
    return others.exists()


def may_grant(actor_role: str, role: str) -> bool:
    """The one rule for what a member may hand out (a role change, an invitation, accepting an
    invitation later): only with `admin`, and never a role above their own."""
    return scopes.ADMIN in scopes.role_scopes(actor_role) and ROLE_RANK[role] <= ROLE_RANK[actor_role]


def may_manage(actor_role: str, target_role: str) -> bool:
    """Whether a member may change or remove another: never one whose role is above their own."""
    return ROLE_RANK[target_role] <= ROLE_RANK[actor_role]


def check_may_grant(actor_role: str, role: str) -> None:
    if not may_grant(actor_role, role):
        raise Forbidden("You cannot grant a role above your own.", code="role_above_own")


@dataclass(frozen=True)
class Actor:
    """Who changes a membership: a member of the team (their role is the ceiling), or an operator
    in Django admin (staff; no ceiling, but the same lock, last-owner rule and audit event)."""

    user_id: object
    role: str | None = None  # None: an operator

    @classmethod
    def member(cls, membership: Membership) -> Actor:
        return cls(user_id=membership.user_id, role=membership.role)

    @classmethod
    def operator(cls, user) -> Actor:
        return cls(user_id=user.pk)

    @property
    def via(self) -> dict:
        return {} if self.role is not None else {"via": "admin"}


def change_role(*, actor: Actor, target: Membership, role: str) -> Membership:
    if actor.role is not None:
        check_may_grant(actor.role, role)
        if not may_manage(actor.role, target.role):
            raise Forbidden("You cannot manage a member whose role is above yours.", code="role_above_own")
    with transaction.atomic():
        _lock_team(target.team_id)
        target = _current(target)
        old = target.role
        if old == Role.OWNER and role != Role.OWNER and not _other_owners_exist(target):
            raise Conflict("The team must keep at least one owner; promote another owner first.", code="last_owner")
        target.role = role
        target.save(update_fields=["role"])
        record_event(
            action=Action.MEMBER_ROLE_CHANGED,
            team_id=target.team_id,
            actor_id=actor.user_id,
            data={"user_id": str(target.user_id), "from": old, "to": role, **actor.via},
        )
    return target


def remove_member(*, actor: Actor, target: Membership) -> None:
    """Anyone may leave; removing someone else needs `admin` (checked by the view) and a role at
    least theirs. The last owner never leaves."""
    if actor.role is not None and target.user_id != actor.user_id and not may_manage(actor.role, target.role):
        raise Forbidden("You cannot manage a member whose role is above yours.", code="role_above_own")
    with transaction.atomic():
        _lock_team(target.team_id)
        target = _current(target)
        if target.role == Role.OWNER and not _other_owners_exist(target):
            raise Conflict("The team must keep at least one owner; promote another owner first.", code="last_owner")
        target.delete()
        record_event(
            action=Action.MEMBER_REMOVED,
            team_id=target.team_id,
            actor_id=actor.user_id,
            data={"user_id": str(target.user_id), "role": target.role, **actor.via},
        )
        for consequence in MEMBER_REMOVED:
            consequence(team_id=target.team_id, user_id=target.user_id, actor_id=actor.user_id)
