import functools
import uuid

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from access import scopes
from teams.models import Membership, TeamOwnedQuerySet


class APIKeyQuerySet(TeamOwnedQuerySet):
    def with_owner_membership(self):
        """Annotate the owner's *current* membership in the key's team (None when removed)."""
        membership = Membership.objects.filter(team_id=OuterRef("team_id"), user_id=OuterRef("user_id"))
        return self.annotate(
            owner_membership_id=Subquery(membership.values("pk")[:1]),
            owner_role=Subquery(membership.values("role")[:1]),
        )

    def for_authentication(self, digest: str):
        """The key with this digest (or, during a regeneration grace period, previous digest), its
        owner, team and the owner's membership: one query through the unique digest indexes."""
        return _authentication_base().filter(Q(digest=digest) | Q(previous_digest=digest))

    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


@functools.cache
def _authentication_base():
    # Built once per process: composing the annotated, joined queryset cost more than running it
    # (bench/); each request only clones it and adds the digest filter.
    return APIKey.objects.with_owner_membership().select_related("user", "team")


class APIKey(models.Model):
    """A gf_ API key: bound to one team and one owner, limited to `permissions` ∩ the owner's role.

    Only the HMAC digest of the key is stored. During a regeneration grace period the previous
    digest keeps working until `previous_digest_expires_at`.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        REVOKED = "revoked"
        EXPIRED = "expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    permissions = models.JSONField(default=list, help_text="As given at creation; legacy values expand at check time.")
    prefix = models.CharField(max_length=16, help_text="gf_ + the first 8 characters, for display.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    previous_digest = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    previous_digest_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
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

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.ACTIVE

    def granted_scopes(self) -> frozenset[str]:
        return scopes.expand(self.permissions)

    def effective_scopes(self) -> frozenset[str]:
        """Needs `owner_role` (annotated by with_owner_membership)."""
        return scopes.effective_scopes(permissions=self.permissions, role=getattr(self, "owner_role", None))
