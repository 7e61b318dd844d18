import functools
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Case, OuterRef, Q, Subquery, Value, When
from django.utils import timezone
from django.utils.functional import cached_property

from access import scopes
from access.refusals import Refusal
from access.tenancy import TenantQuerySet
from infra import allowlist
from teams.models import Membership

KEY_REVOKED = Refusal("key_revoked", "key_revoked", "The API key has been revoked.")
KEY_INVALID = Refusal("key_invalid", "key_invalid", "The API key is not valid.")
KEY_EXPIRED = Refusal("key_expired", "key_expired", "The API key has expired.")
KEY_DISABLED = Refusal(
    "key_disabled", "key_disabled", "The API key is disabled; a team admin or its owner can enable it."
)
KEY_OWNER_INACTIVE = Refusal("key_owner_inactive", "key_owner_inactive", "The owner of this API key is inactive.")
KEY_OWNER_REMOVED = Refusal(
    "key_owner_removed", "key_owner_removed", "The owner of this API key is no longer a member of its team."
)


class APIKeyQuerySet(TenantQuerySet):
    def with_owner_membership(self):
        """Annotate the owner's *current* membership in the key's team (None when removed)."""
        membership = Membership.objects.for_team(OuterRef("team_id")).filter(user_id=OuterRef("user_id"))
        return self.annotate(
            owner_membership_id=Subquery(membership.values("pk")[:1]),
            owner_role=Subquery(membership.values("role")[:1]),
        )

    def for_authentication(self, digests):
        """The key with one of these digests (one per configured pepper) as its current or, during
        a regeneration grace period and after, previous digest; its owner, team and the owner's
        membership: one query through the unique digest indexes. Across teams: the key names its
        team only once it is found."""
        return _authentication_base().filter(Q(digest__in=digests) | Q(previous_digest__in=digests))

    def with_status(self):
        """Annotate `current_status`: the SQL spelling of APIKey.status_at, the one rule."""
        now = timezone.now()
        return self.annotate(
            current_status=Case(
                When(revoked_at__isnull=False, then=Value(APIKey.Status.REVOKED)),
                When(expires_at__lte=now, then=Value(APIKey.Status.EXPIRED)),
                When(disabled_at__isnull=False, then=Value(APIKey.Status.DISABLED)),
                default=Value(APIKey.Status.ACTIVE),
                output_field=models.CharField(),
            )
        )

    def in_status(self, *statuses: str):
        return self.with_status().filter(current_status__in=statuses)

    def active(self):
        return self.in_status(APIKey.Status.ACTIVE)


@functools.cache
def _authentication_base():
    # Built once per process: composing the annotated, joined queryset cost more than running it
    # (bench/); each request only clones it and adds the digest filter.
    return (
        APIKey.objects.across_teams(reason="authentication: a key is found by its digest")
        .with_owner_membership()
        .select_related("user", "team")
    )


class APIKey(models.Model):
    """A gf_ API key: bound to one team and one owner, limited to `permissions` ∩ the owner's role.

    Only the HMAC digest of the key is stored. During a regeneration grace period the previous
    digest keeps working until `previous_digest_expires_at`.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        REVOKED = "revoked"
        EXPIRED = "expired"
        DISABLED = "disabled"  # switched off, not revoked: enabling it brings it back

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    permissions = models.JSONField(default=list, help_text="As given at creation; legacy values expand at check time.")
    prefix = models.CharField(max_length=16, help_text="gf_ + the first 8 characters, for display.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    pepper_id = models.PositiveSmallIntegerField(
        default=1, editable=False, help_text="Which API_KEY_PEPPERS entry the digest was made with."
    )
    previous_digest = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    previous_digest_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Switched off by its owner or a team admin (NetBox's `enabled`): refused like a revoked key, but
    # enabling it (apikeys.services.enable_key) brings it back.
    disabled_at = models.DateTimeField(null=True, blank=True)
    # The expiry reminders mailed to the owner (apikeys.maintenance): 0 none, 1 the 7-day one, 2 the
    # 1-day one. Each is claimed by one conditional UPDATE, so each goes out once, whatever runs it.
    expiry_reminders_sent = models.PositiveSmallIntegerField(default=0, editable=False)
    # When a leaked-key report found it in public and the team flags such keys rather than
    # revoking them (teams.Team.leaked_key_action): shown on the key, it keeps working.
    leaked_at = models.DateTimeField(null=True, blank=True)
    # Its own rate limits and monthly quota (apikeys.limits): [{"limit": 10, "seconds": 1}, ...] and
    # requests per calendar month; empty / None: the team's defaults.
    rate_limits = models.JSONField(default=list, blank=True)
    monthly_quota = models.PositiveIntegerField(null=True, blank=True)
    # CIDR networks the key may be used from (infra.allowlist); empty: anywhere.
    allowed_ips = models.JSONField(default=list, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_rotated_at = models.DateTimeField(null=True, blank=True)

    objects = APIKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        indexes = [models.Index(fields=["team", "user", "revoked_at"], name="apikeys_team_user_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"

    @property
    def masked(self) -> str:
        return f"{self.prefix}…"

    def status_at(self, now) -> str:
        """Revoked, expired, disabled or active, in that order: the one rule
        (APIKeyQuerySet.with_status is its SQL)."""
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return self.Status.EXPIRED
        if self.disabled_at is not None:
            return self.Status.DISABLED
        return self.Status.ACTIVE

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())

    def unused_at(self, now) -> bool:
        """Unused for longer than its team's policy allows (teams.Team.key_unused_days): flagged in
        the listing (and disabled by the worker where the team says so). Needs the team."""
        days = self.team.key_unused_days
        if days is None or self.status_at(now) != self.Status.ACTIVE:
            return False
        return (self.last_used_at or self.created_at) < now - timedelta(days=days)

    def previous_secret_usable_at(self, now) -> bool:
        """During a regeneration grace period the replaced secret still works."""
        return self.previous_digest_expires_at is not None and now < self.previous_digest_expires_at

    def refusal(self, *, digest: str | None, now) -> Refusal | None:
        """Why a request presenting this key (as `digest`; None when the secret presented is
        neither of the key's any more) is refused, or None when the key may be used: the one rule
        for a key, which APIKeyAuthentication applies on every request and the live stream's
        re-check (livestream.holders) to every key holding a stream. Needs the owner and their
        current membership in the key's team, as `for_authentication` and `with_owner_membership`
        load them."""
        status = self.status_at(now)
        if status == self.Status.REVOKED:
            return KEY_REVOKED
        if digest != self.digest and not (digest is not None and self.previous_secret_usable_at(now)):
            return KEY_INVALID  # an old secret, after its grace period
        if status == self.Status.EXPIRED:
            return KEY_EXPIRED
        if status == self.Status.DISABLED:
            return KEY_DISABLED
        if not self.user.is_active:
            return KEY_OWNER_INACTIVE
        if self.owner_membership_id is None:
            # The owner left (or was removed from) the key's team: the key dies with it, everywhere.
            return KEY_OWNER_REMOVED
        return None

    @cached_property
    def allowed_networks(self):
        """`allowed_ips`, parsed once per loaded key (the principal cache keeps loaded keys)."""
        return allowlist.parse(self.allowed_ips)

    @cached_property
    def _owner_membership(self) -> Membership:
        return Membership(id=self.owner_membership_id, team=self.team, user=self.user, role=self.owner_role)

    def owner_membership(self) -> Membership:
        """The owner's current membership in the key's team, as `with_owner_membership` annotated
        it (unsaved: no query), which caps what the key may do. Built once per loaded key (a key the
        principal cache keeps is replaced, not changed, when its owner's role changes); read only."""
        return self._owner_membership

    def granted_scopes(self) -> frozenset[str]:
        return scopes.expand(self.permissions)

    def effective_scopes(self) -> frozenset[str]:
        """Needs `owner_role` (annotated by with_owner_membership)."""
        return scopes.effective_scopes(permissions=self.permissions, role=getattr(self, "owner_role", None))
