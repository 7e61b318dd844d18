import uuid

from django.conf import settings
from django.db import models

from access import scopes
from access.refusals import Refusal
from access.scopes import Role
from access.tenancy import TenantQuerySet
from teams.models import Membership

INTEGRATION_REVOKED = Refusal("integration_revoked", "integration_revoked", "This integration has been revoked.")
# Its Admin key was regenerated: what the old key signed (a stream it opened) stops at once.
ADMIN_KEY_REPLACED = Refusal("kid_unknown", "kid_unknown", "The Admin key that signed this has been regenerated.")


class IntegrationQuerySet(TenantQuerySet):
    """Besides `for_team`: finding an integration by one of its keys, before its team is known."""

    def for_admin_key(self, admin_key_id: str):
        return self.across_teams(reason="authentication: an Admin key names its integration").filter(
            admin_key_id=admin_key_id
        )

    def for_content_key(self, digests: list[str]):
        """`digests`: the Content key's digest under each configured pepper."""
        return self.across_teams(reason="authentication: a Content key is found by its digest").filter(
            content_key_digest__in=digests
        )


class Integration(models.Model):
    """A team's own credential pair (Ghost's "custom integration"): it belongs to the team, not to
    a person, and keeps working when its creator leaves or is demoted.

    - The Admin key `{admin_key_id}:{secret}` never crosses the wire after it is issued: clients
      sign short-lived HS256 JWTs with the secret (`kid` = admin_key_id). The server must verify
      those signatures, so the secret is stored encrypted (integrations/secrets.py), never in plain
      text and never as something the database alone can reveal.
    - The Content key is publishable (read-only, public data, `?key=` on the Content API only). It
      is found by its HMAC digest, like a gf_ key, and kept encrypted so that admins can see it again.

    Effective scopes: its own `permissions`, capped at what the `admin` role allows.
    """

    # What an integration acts as in its team: the ceiling of its permissions.
    ROLE = Role.ADMIN

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="integrations")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    permissions = models.JSONField(default=list, help_text="As given; legacy values expand at check time.")
    admin_key_id = models.CharField(max_length=24, unique=True, editable=False)
    admin_secret_encrypted = models.TextField(editable=False)
    content_key_digest = models.CharField(max_length=64, unique=True, editable=False)
    content_key_pepper_id = models.PositiveSmallIntegerField(default=1, editable=False)
    content_key_encrypted = models.TextField(editable=False)
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="Browser origins allowed to call the Content API with the Content key."
    )
    # CIDR networks its Admin key may be used from (infra.allowlist); empty: anywhere. The Content
    # key is for browsers anywhere (allowed_origins narrows those).
    allowed_ips = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = IntegrationQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["team", "-created_at"], name="integrations_team_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.admin_key_id})"

    def effective_scopes(self) -> frozenset[str]:
        return scopes.effective_scopes(permissions=self.permissions, role=self.ROLE)

    # What the team step (access.context.enter_team) reads from a team-bound credential.
    @property
    def acting_role(self) -> str:
        return self.ROLE

    def acting_membership(self) -> Membership:
        """Nobody's membership (unsaved): the team's integration acts with the role that caps it."""
        return Membership(team=self.team, role=self.acting_role)

    def refusal(self, *, admin_key_current: bool) -> Refusal | None:
        """Why what this integration's Admin key signed is refused, or None: the one rule for an
        integration, which AdminTokenAuthentication applies on every request (tokens.verify, which
        found it by the key id it was signed with) and the live stream's re-check
        (livestream.holders) to every integration holding a stream. `admin_key_current`: the Admin
        key that signed is still the integration's."""
        if self.revoked_at is not None:
            return INTEGRATION_REVOKED
        if not admin_key_current:
            return ADMIN_KEY_REPLACED
        return None
