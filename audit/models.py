import secrets
import threading
import time
import uuid

from django.conf import settings
from django.db import models

from access.tenancy import TenantQuerySet


class Action(models.TextChoices):
    API_REQUEST = "api_request", "API request with a key"
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    KEY_REGENERATED = "key.regenerated"
    KEY_DELETED = "key.deleted"
    KEY_UPDATED = "key.updated"
    KEY_RATE_LIMITED = "key.rate_limited", "A key's requests refused by its rate limit or quota (counted per minute)"
    KEY_DISABLED = "key.disabled"
    KEY_ENABLED = "key.enabled"
    KEY_LEAKED = "key.leaked", "A key was reported found in public (secret scanning)"
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGIN_SECOND_FACTOR_REQUIRED = "login.second_factor_required"
    LOGOUT = "logout"
    REFRESH_REUSE = "refresh.reuse_detected"
    SESSION_REVOKED = "session.revoked"
    REAUTHENTICATED = "reauth.succeeded"
    REAUTHENTICATION_FAILED = "reauth.failed"
    PASSWORD_CHANGED = "password.changed"
    PASSWORD_RESET_REQUESTED = "password.reset_requested"
    PASSWORD_RESET = "password.reset"
    PASSWORD_RESET_FAILED = "password.reset_failed"
    USER_REGISTERED = "user.registered"
    EMAIL_VERIFICATION_SENT = "email.verification_sent"
    EMAIL_VERIFIED = "email.verified"
    EMAIL_CHANGE_REQUESTED = "email.change_requested"
    EMAIL_CHANGED = "email.changed"
    EMAIL_VERIFICATION_FAILED = "email.verification_failed"
    GOOGLE_LINKED = "google.linked"
    GOOGLE_UNLINKED = "google.unlinked"
    MFA_TOTP_ENABLED = "mfa.totp_enabled"
    MFA_TOTP_DISABLED = "mfa.totp_disabled"
    MFA_RECOVERY_CODES_REGENERATED = "mfa.recovery_codes_regenerated"
    MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used"
    MFA_PASSKEY_ADDED = "mfa.passkey_added"
    MFA_PASSKEY_REMOVED = "mfa.passkey_removed"
    MFA_FAILED = "mfa.failed"
    MFA_LOCKED = "mfa.locked", "Second-factor attempts over the limit (a failure burst)"
    MEMBER_ADDED = "member.added"
    MEMBER_REMOVED = "member.removed"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    INVITATION_CREATED = "invitation.created"
    INVITATION_REVOKED = "invitation.revoked"
    INVITATION_ACCEPTED = "invitation.accepted"
    TEAM_CREATED = "team.created"
    TEAM_UPDATED = "team.updated"
    TEAM_DELETED = "team.deleted"
    TEAM_SECOND_FACTOR_REQUIRED = "team.second_factor_required", "Team requires a second factor of every member"
    TEAM_SECOND_FACTOR_NOT_REQUIRED = "team.second_factor_not_required", "Team no longer requires a second factor"
    RATE_LIMITED = "rate_limited"
    INTEGRATION_CREATED = "integration.created"
    INTEGRATION_UPDATED = "integration.updated"
    INTEGRATION_ADMIN_KEY_REGENERATED = "integration.admin_key_regenerated"
    INTEGRATION_CONTENT_KEY_REGENERATED = "integration.content_key_regenerated"
    INTEGRATION_REVOKED = "integration.revoked"
    INTEGRATION_DELETED = "integration.deleted"
    CONTENT_API_REQUESTS = "content_api.requests"


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48-bit Unix milliseconds, then 74 random bits.

    The log only ever grows at "now", so ordered ids keep primary-key inserts at the right edge
    of the index instead of a random page of a large table. Within a process each id is greater
    than the one before (RFC 9562 §6.2, method 2: the random part counts up within one
    millisecond), so events written one after the other are in id order, which the live stream's
    resume point (Last-Event-ID) relies on.
    """
    global _last_uuid7
    random_bits = secrets.randbits(74)
    value = (time.time_ns() // 1_000_000) << 80
    value |= 0x7 << 76 | (random_bits >> 62) << 64
    value |= 0b10 << 62 | (random_bits & ((1 << 62) - 1))
    with _uuid7_lock:
        # Only within the same millisecond: after the clock stepped back (NTP, or a test's time
        # travel) ids follow the clock again rather than stay in the future.
        if value >> 80 == _last_uuid7 >> 80 and value <= _last_uuid7:
            value = _last_uuid7 + 1
        _last_uuid7 = value
    return uuid.UUID(int=value)


_last_uuid7 = 0
_uuid7_lock = threading.Lock()


class AuditEvent(models.Model):
    """One thing that happened: a request made with an API key, or a security event.

    Append-only. The key is a SET_NULL foreign key plus a snapshot of its prefix and name, so the
    history outlives the key. Never holds a raw key, password, code or token: `data` carries only
    identifiers and small facts, and `path` never carries the query string.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # No database constraint and no cascade: a team's history outlives the team (operators can
    # still find it by id), and deleting a big team does not rewrite millions of audit rows.
    team = models.ForeignKey(
        "teams.Team",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # the (team, created_at) index serves every lookup by team
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        "apikeys.APIKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,  # the (api_key, created_at) index serves every lookup by key
        related_name="audit_events",
    )
    # A team's integration (integrations/), for events made with one of its keys or about it;
    # which key is in `data["integration_key"]` ("admin" or "content").
    integration = models.ForeignKey(
        "integrations.Integration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,  # the (integration, created_at) index serves every lookup by integration
        related_name="audit_events",
    )
    key_prefix = models.CharField(max_length=16, blank=True)
    key_name = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(max_length=255, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    # Read with `objects.for_team(team)`; events without a team (a failed login) are in no listing.
    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["api_key", "-created_at"], name="audit_key_created_idx"),
            models.Index(fields=["team", "-created_at"], name="audit_team_created_idx"),
            models.Index(fields=["integration", "-created_at"], name="audit_integration_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.status_code or ''}".strip()
