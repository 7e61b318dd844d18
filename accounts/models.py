import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A person who logs in. E-mail is unique regardless of case; login accepts username or e-mail."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address")

    objects = UserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username


class RefreshFamilyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class RefreshFamily(models.Model):
    """One login: the chain of refresh tokens that descend from it by rotation.

    Only the token whose `jti` equals `current_jti` may be exchanged; exchanging it swaps
    `current_jti` in one conditional UPDATE, so of concurrent exchanges exactly one wins. A signed
    token of this family with any other jti was already used: presenting it revokes the family
    (RFC 9700 §4.14.2). `expires_at` is the absolute cap that rotation cannot extend.
    The raw refresh token is never stored, only its jti.
    """

    class RevokeReason(models.TextChoices):
        LOGOUT = "logout"
        REUSE = "reuse"
        PASSWORD_CHANGED = "password_changed"
        DEACTIVATED = "deactivated"
        ADMIN = "admin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_families")
    current_jti = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=32, choices=RevokeReason.choices, blank=True)
    # A keyed fingerprint of the password hash at login: a password changed by any path (API,
    # admin, `changepassword`) no longer matches, so the family cannot be refreshed.
    password_fingerprint = models.CharField(max_length=64)

    objects = RefreshFamilyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "refresh families"
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_family_user_revoked")]

    def __str__(self) -> str:
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M}"
