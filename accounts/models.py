import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.core import validators
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.deconstruct import deconstructible


class AccountManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        # An operator created on the command line vouches for their own address.
        extra_fields.setdefault("email_verified_at", timezone.now())
        return super().create_superuser(username, email, password, **extra_fields)


@deconstructible
class UsernameValidator(validators.RegexValidator):
    """Letters, digits and . + - _ : never `@`, so a username can never look like somebody's
    e-mail address (login takes either, and must not have to guess which one was meant)."""

    regex = r"^[\w.+-]+\Z"
    message = "Enter a valid username: letters, digits and . + - _ only (no @)."
    flags = 0


class User(AbstractUser):
    """A person who logs in. E-mail is unique regardless of case; login accepts username or e-mail.

    A self-registered account cannot log in until `email_verified_at` is set. A Google account is
    linked by Google's stable `sub`, never by e-mail alone.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = models.CharField(
        "username",
        max_length=150,
        unique=True,
        validators=[UsernameValidator()],
        help_text="150 characters or fewer: letters, digits and . + - _ (no @).",
        error_messages={"unique": "A user with that username already exists."},
    )
    email = models.EmailField("email address")
    email_verified_at = models.DateTimeField(null=True, blank=True)
    google_sub = models.CharField(max_length=255, unique=True, null=True, blank=True, editable=False)
    # Whether the person has a second factor now: denormalised from their factors, kept by
    # accounts.mfa.second_factors_changed (the one place that says so) in the same transaction as
    # the change, so a team's rule (access.context.team_rule_refusal) reads it on every team-scoped
    # request with the user row the request loads anyway: no query of its own.
    second_factor_enrolled = models.BooleanField(default=False, editable=False)

    objects = AccountManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def google_linked(self) -> bool:
        return bool(self.google_sub)

    def sign_in_methods(self) -> list[str]:
        methods = []
        if self.has_usable_password():
            methods.append("password")
        if self.google_linked:
            methods.append("google")
        return methods


class RefreshFamilyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def live(self):
        """Signed in: not revoked and not past the absolute cap (what a person's sessions list shows)."""
        return self.active().filter(expires_at__gt=timezone.now())


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
        ACCOUNT_CLAIMED = "account_claimed"
        USER_REVOKED = "user_revoked", "Revoked by the user (sessions list)"
        SECOND_FACTOR_ENABLED = "second_factor_enabled", "Another login turned two-step verification on"

    class SignedInWith(models.TextChoices):
        PASSWORD = "password"
        GOOGLE = "google"
        PASSKEY = "passkey"  # passwordless: the passkey verified the person (user verification)

    class SecondFactor(models.TextChoices):
        TOTP = "totp"
        RECOVERY_CODE = "recovery_code"
        PASSKEY = "passkey"

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
    # Where the login came from, as the request that started it said (shown in the sessions list).
    user_agent = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # When the person last proved who they are in this login: at the login itself, then at each
    # re-authentication (accounts.reauth). The acts that hand out power ask for it to be recent
    # (settings.REAUTH_SECONDS: access.permissions.RecentAuthentication). Never moved by refresh.
    authenticated_at = models.DateTimeField(null=True, blank=True)
    # How the login was made (the sessions list shows it); blank for logins made before these
    # were recorded.
    signed_in_with = models.CharField(max_length=16, choices=SignedInWith.choices, blank=True)
    second_factor = models.CharField(max_length=16, choices=SecondFactor.choices, blank=True)

    objects = RefreshFamilyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "refresh families"
        indexes = [models.Index(fields=["user", "revoked_at"], name="accounts_family_user_revoked")]

    def __str__(self) -> str:
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def last_used_at(self):
        """The last refresh, or the login itself (access tokens are not tracked)."""
        return self.last_refreshed_at or self.created_at


class OneTimeCode(models.Model):
    """A six-digit code (and, for password resets, a long link token) mailed to a user.

    Only keyed hashes are stored. Single use; expires; the short code dies after
    `MAX_ATTEMPTS` wrong guesses. The link token cannot be guessed, so guessing the code can never
    lock the real owner out of recovery: the link in the same mail keeps working.
    """

    MAX_ATTEMPTS = 5

    class Purpose(models.TextChoices):
        VERIFY_EMAIL = "verify_email"
        RESET_PASSWORD = "reset_password"
        CHANGE_EMAIL = "change_email"  # mailed to the new address (accounts.email_change)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="one_time_codes")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    code_hash = models.CharField(max_length=64)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    # CHANGE_EMAIL: the address the code was mailed to, which becomes the account's once confirmed.
    new_email = models.EmailField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose", "-created_at"], name="accounts_code_user_purpose")]

    def __str__(self) -> str:
        return f"{self.purpose} for {self.user_id}"


class TOTPFactor(models.Model):
    """A person's authenticator app (RFC 6238, accounts.mfa). The shared secret is encrypted at
    rest (infra.encryption, SECRETS_ENCRYPTION_KEYS) and never shown again after enrolment began.
    Active once `confirmed_at` is set (a code proved the app has the secret). `last_used_step` is
    the time step of the last code accepted: a code of that step or an earlier one is refused, so
    a code is never accepted twice (the step advances in one conditional UPDATE)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_factor")
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "TOTP factor"

    def __str__(self) -> str:
        return f"TOTP of {self.user_id} ({'active' if self.confirmed_at else 'pending'})"

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(models.Model):
    """One single-use recovery code: only its keyed hash (accounts.mfa.recovery_code_hash)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="accounts_recovery_code_unique")]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class Passkey(models.Model):
    """A WebAuthn credential of a person (accounts.passkeys): a second factor, and a way to sign
    in without a password (a discoverable credential, user verification required). Only public
    data is stored: the credential's id and public key (COSE), and its signature counter, which
    must go up at each use when the authenticator keeps one (a counter that goes back is a cloned
    authenticator and is refused)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=64)
    credential_id = models.BinaryField(max_length=1023, unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True)
    backed_up = models.BooleanField(default=False)  # synced (e.g. iCloud Keychain) rather than device-bound
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"passkey {self.name!r} of {self.user_id}"
