import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from access import context
from access.scopes import Role
from access.tenancy import TenantQuerySet


class Team(models.Model):
    """A tenant. Every tenant-owned row carries `team_id` and every tenant query filters on it."""

    class Plan(models.TextChoices):
        FREE = "free"
        PRO = "pro"
        ENTERPRISE = "enterprise"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.FREE)
    created_at = models.DateTimeField(auto_now_add=True)
    # The team's rule that every member uses a second factor (teams.services.set_second_factor_rule;
    # enforced on every team-scoped request by access.context.team_rule_refusal).
    require_second_factor = models.BooleanField(default=False, editable=False)
    # What a leaked-key report (apikeys.leaks) does to a live key of this team found in public:
    # revoke it at once (the default), or only flag it (`leaked_at`) for the team to act on.
    leaked_key_action = models.CharField(
        max_length=8, choices=[("revoke", "Revoke"), ("flag", "Flag")], default="revoke", editable=False
    )
    # The team's policy for API keys (teams.services.set_key_policy; GitHub's organisation policy for
    # fine-grained tokens): every new key must expire, within `key_max_lifetime_days` (a cap implies
    # the expiry); a key unused for `key_unused_days` is flagged in the listing or, with
    # `key_unused_action` "disable", disabled by the worker (apikeys.maintenance).
    key_expiry_required = models.BooleanField(default=False, editable=False)
    key_max_lifetime_days = models.PositiveIntegerField(null=True, blank=True, editable=False)
    key_unused_days = models.PositiveIntegerField(null=True, blank=True, editable=False)
    key_unused_action = models.CharField(
        max_length=8, choices=[("flag", "Flag"), ("disable", "Disable")], default="flag", editable=False
    )
    # The rate limits and monthly quota of the team's keys that have none of their own
    # (apikeys.limits), and what their requests do while the cache cannot count them.
    default_key_rate_limits = models.JSONField(default=list, blank=True, editable=False)
    default_key_monthly_quota = models.PositiveIntegerField(null=True, blank=True, editable=False)
    key_limits_on_cache_failure = models.CharField(
        max_length=6, choices=[("closed", "Closed"), ("open", "Open")], default="closed", editable=False
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(TenantQuerySet):
    def of_user(self, user):
        """A person's memberships in every team they belong to: their own, across teams."""
        return self.across_teams(reason="a person's own memberships, in every team").filter(user=user)


class Membership(models.Model):
    """A user's role in a team. Every team keeps at least one owner (teams.services enforces it)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="teams_membership_team_user_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def second_factor_missing(self) -> bool:
        """The team requires a second factor and this member has none: every team-scoped request
        of theirs there is refused until they enrol (needs `team` and `user` loaded)."""
        return context.team_rule_refusal(self.user, self.team) is not None


class TeamOwned(models.Model):
    """Base of the team-owned resources (tracking). Like every model with a `team`, its manager is
    access.tenancy.TenantQuerySet: read with `objects.for_team(team)`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class InvitationQuerySet(TenantQuerySet):
    def with_token_hash(self, token_hash: str):
        """The invitation a token opens, whatever its team: its team is known only once it is found."""
        return self.across_teams(reason="accepting an invitation, found by its token's hash").filter(
            token_hash=token_hash
        )


class Invitation(models.Model):
    """An invitation to join a team, mailed as a single-use token (stored only as a hash)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["team", "-created_at"], name="teams_invitation_team_idx")]

    def __str__(self) -> str:
        return f"{self.email} → {self.team} ({self.role})"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
