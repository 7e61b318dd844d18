from django.conf import settings
from rest_framework import serializers

from access.scopes import Role
from infra import strict
from teams.models import Membership

from .models import UsernameValidator


class LoginSerializer(serializers.Serializer):
    """`username` (a username or an e-mail address) or `email` (Ghostly's body): exactly one of
    them. Both at once is a 400 rather than a guess at which one was meant."""

    username = strict.CharField(
        max_length=254, required=False, help_text="Username or e-mail address. Send this or `email`, not both."
    )
    email = strict.EmailField(
        max_length=254, required=False, help_text="E-mail address (Ghostly's login body). Send this or `username`."
    )
    password = strict.CharField(max_length=settings.PASSWORD_MAX_LENGTH, trim_whitespace=False)

    IDENTIFIERS = ("username", "email")

    def to_internal_value(self, data):
        # Every problem at once: no identifier is reported beside any other field's error.
        errors = {}
        if isinstance(data, dict) and not any(field in data for field in self.IDENTIFIERS):
            errors["username"] = ["Send `username` (a username or an e-mail address) or `email`."]
        try:
            attrs = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError({**errors, **exc.detail}) from exc
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def validate(self, attrs):
        if all(field in attrs for field in self.IDENTIFIERS):
            message = "Send either `username` or `email`, not both."
            raise serializers.ValidationError({field: [message] for field in self.IDENTIFIERS})
        attrs["identifier"] = attrs.get("username", attrs.get("email"))
        return attrs


REFRESH_TOKEN_MAX_LENGTH = 4096


class RefreshSerializer(serializers.Serializer):
    refresh_token = strict.CharField(
        max_length=REFRESH_TOKEN_MAX_LENGTH,
        help_text="Body mode only; with `X-GhostFlow-Session: cookie` the body is not read.",
    )


class TokenPairSerializer(serializers.Serializer):
    access_token = strict.CharField()
    refresh_token = strict.CharField()
    token_type = serializers.ChoiceField(choices=["bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = strict.CharField()
    email = strict.EmailField()
    first_name = strict.CharField()
    last_name = strict.CharField()
    date_joined = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    user = UserSerializer(allow_null=True, help_text="Null for an integration (nobody's account).")
    auth = serializers.ChoiceField(
        choices=["jwt", "api_key", "integration"], help_text="Which credential made this call."
    )
    api_key = serializers.DictField(required=False, help_text="With an API key: id, name, team and scopes.")
    integration = serializers.DictField(
        required=False, help_text="With an integration's Admin key: id, name, team, admin_key_id and scopes."
    )


PASSWORD = {"max_length": settings.PASSWORD_MAX_LENGTH, "trim_whitespace": False}


class RegisterSerializer(serializers.Serializer):
    username = strict.CharField(max_length=150, validators=[UsernameValidator()])
    email = strict.EmailField(max_length=254)
    password = strict.CharField(**PASSWORD)
    role = serializers.ChoiceField(
        choices=Role.choices,
        required=False,
        help_text=(
            "An admin registering someone into the team in X-Team-Id: the new account's role there (default "
            "`member`), never above the registrar's own (403 `role_above_own`). Without such a team: 400 "
            "`role_needs_team`."
        ),
    )


class EmailSerializer(serializers.Serializer):
    email = strict.EmailField(max_length=254)


class VerifyEmailSerializer(EmailSerializer):
    code = strict.RegexField(r"^[0-9]{6}$", max_length=6, error_messages={"invalid": "Enter the 6-digit code."})


class ResetPasswordSerializer(EmailSerializer):
    code = strict.RegexField(r"^[0-9]{6}$", max_length=6, required=False)
    token = strict.CharField(max_length=200, required=False)
    new_password = strict.CharField(**PASSWORD)

    def validate(self, attrs):
        if ("code" in attrs) == ("token" in attrs):
            raise serializers.ValidationError("Send either the code or the token from the e-mail.")
        return attrs


class ChangePasswordSerializer(serializers.Serializer):
    current_password = strict.CharField(**PASSWORD)
    new_password = strict.CharField(**PASSWORD)


class ReauthenticatedSerializer(serializers.Serializer):
    reauthenticated_until = serializers.DateTimeField(
        help_text="Until when this session may do the acts that need a recent authentication."
    )


class GoogleSerializer(serializers.Serializer):
    credential = strict.CharField(max_length=8192, help_text="The ID token from Google Identity Services.")


class DetailSerializer(serializers.Serializer):
    detail = strict.CharField()


class AccessTokenSerializer(serializers.Serializer):
    access_token = strict.CharField()
    token_type = serializers.ChoiceField(choices=["bearer"])
    expires_in = serializers.IntegerField()


class AccountSerializer(serializers.Serializer):
    username = strict.CharField()
    email = strict.EmailField()
    email_verified = serializers.BooleanField()
    google_linked = serializers.BooleanField()
    has_password = serializers.BooleanField(source="has_usable_password")
    can_unlink_google = serializers.SerializerMethodField()
    available_sign_in_methods = serializers.ListField(child=strict.CharField(), source="sign_in_methods")
    teams = serializers.SerializerMethodField(help_text="Number of teams the account belongs to.")

    def get_can_unlink_google(self, user) -> bool:
        return user.google_linked and user.has_usable_password()

    def get_teams(self, user) -> int:
        return Membership.objects.of_user(user).count()


class SessionSerializer(serializers.Serializer):
    """One login (refresh family) in the caller's sessions list."""

    id = serializers.UUIDField()
    created_at = serializers.DateTimeField(help_text="When the login happened.")
    last_used_at = serializers.DateTimeField(help_text="The last refresh, or the login itself.")
    expires_at = serializers.DateTimeField(help_text="The login's absolute cap; refresh cannot extend it.")
    user_agent = strict.CharField(help_text="The User-Agent of the login request (truncated).")
    ip = serializers.IPAddressField(allow_null=True, help_text="The client address of the login request.")
    current = serializers.SerializerMethodField(help_text="True for the login making this call.")
    signed_in_with = serializers.SerializerMethodField(
        help_text="How the login began: `password`, `google` or `passkey` (null for logins older than this field)."
    )
    second_factor = serializers.SerializerMethodField(
        help_text="The second factor the login passed: `totp`, `recovery_code`, `passkey`, or null (none)."
    )

    def get_current(self, family) -> bool:
        return str(family.pk) == self.context.get("current_family")

    def get_signed_in_with(self, family) -> str | None:
        return family.signed_in_with or None

    def get_second_factor(self, family) -> str | None:
        return family.second_factor or None


class RevokedSessionsSerializer(serializers.Serializer):
    revoked = serializers.IntegerField(help_text="How many other logins were signed out.")


# --- second factors (accounts/mfa.py) ---

SECOND_FACTOR_CODE_MAX_LENGTH = 32
SECOND_FACTOR_TICKET_MAX_LENGTH = 512


class SecondFactorCodeSerializer(serializers.Serializer):
    code = strict.CharField(
        max_length=SECOND_FACTOR_CODE_MAX_LENGTH,
        help_text="A six-digit code from the authenticator app, or an unused recovery code (xxxxx-xxxxx).",
    )


PASSKEY_CEREMONY_MAX_LENGTH = 512
PASSKEY_CREDENTIAL_MAX_BYTES = 16384


class PasskeyAnswerSerializer(serializers.Serializer):
    """The browser's answer to a passkey ceremony (accounts/passkeys.py)."""

    ceremony = strict.CharField(
        max_length=PASSKEY_CEREMONY_MAX_LENGTH, help_text="The `ceremony` of the options answer, as it was."
    )
    credential = serializers.DictField(
        help_text="The PublicKeyCredential as JSON (`credential.toJSON()` in the browser: id, rawId, type, response)."
    )

    def validate_credential(self, value):
        import json

        if len(json.dumps(value)) > PASSKEY_CREDENTIAL_MAX_BYTES:
            raise serializers.ValidationError("The credential is too large.")
        return value


class PasskeyOptionsSerializer(serializers.Serializer):
    options = serializers.DictField(
        help_text="PublicKeyCredentialCreationOptionsJSON (registering) or PublicKeyCredentialRequestOptionsJSON "
        "(signing in): give it to `PublicKeyCredential.parseCreationOptionsFromJSON` / "
        "`parseRequestOptionsFromJSON`, then to navigator.credentials.create / get."
    )
    ceremony = strict.CharField(help_text="Send it back with the browser's answer. Single use; expires.")


class PasskeyRegisterSerializer(PasskeyAnswerSerializer):
    name = strict.CharField(max_length=64, help_text='A name to tell this passkey apart ("Laptop", "Phone").')


class PasskeyRenameSerializer(serializers.Serializer):
    name = strict.CharField(max_length=64)


class PasskeySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = strict.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    backed_up = serializers.BooleanField(help_text="Synced by a passkey provider rather than bound to one device.")


class PasskeyRegisteredSerializer(PasskeySerializer):
    recovery_codes = serializers.ListField(
        child=strict.CharField(),
        required=False,
        help_text="When this is the account's first second factor: ten single-use recovery codes, shown only here.",
    )
    other_sessions_revoked = serializers.IntegerField(
        required=False,
        help_text="When this is the account's first second factor: how many other logins were signed out.",
    )


class SecondFactorTicketSerializer(serializers.Serializer):
    ticket = strict.CharField(
        max_length=SECOND_FACTOR_TICKET_MAX_LENGTH, help_text="The `ticket` of the sign-in answer."
    )


class SecondFactorSignInSerializer(SecondFactorTicketSerializer):
    code = strict.CharField(
        max_length=SECOND_FACTOR_CODE_MAX_LENGTH,
        required=False,
        help_text="A six-digit code from the authenticator app, or an unused recovery code (xxxxx-xxxxx).",
    )
    passkey = PasskeyAnswerSerializer(
        required=False, help_text="Or a passkey's answer to POST /api/v1/auth/second-factor/passkey-options."
    )

    def validate(self, attrs):
        if bool(attrs.get("code")) == bool(attrs.get("passkey")):
            raise serializers.ValidationError("Give exactly one of: code, passkey.")
        return attrs


class SecondFactorPendingSerializer(serializers.Serializer):
    """A right password (or Google credential) for an account with a second factor: no tokens
    yet. POST the ticket with a code to /api/v1/auth/second-factor within `expires_in` seconds."""

    second_factor_required = serializers.ChoiceField(choices=[True])
    ticket = strict.CharField(help_text="Single use; expires after `expires_in` seconds.")
    methods = serializers.ListField(
        child=serializers.ChoiceField(choices=["totp", "passkey", "recovery_code"]),
        help_text="What the second factor may be.",
    )
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid.")


class SecondFactorStatusSerializer(serializers.Serializer):
    totp = serializers.BooleanField(help_text="True when an authenticator app is enrolled and confirmed.")
    totp_pending = serializers.BooleanField(help_text="True while an enrolment is begun but not confirmed.")
    totp_enabled_at = serializers.DateTimeField(allow_null=True)
    passkeys = serializers.IntegerField(help_text="Passkeys registered (GET /api/v1/me/passkeys lists them).")
    recovery_codes_left = serializers.IntegerField(help_text="Unused recovery codes.")
    methods = serializers.ListField(
        child=serializers.ChoiceField(choices=["totp", "passkey", "recovery_code"]),
        help_text="What a sign-in asks for after the password; empty when no second factor is on.",
    )


class TOTPEnrolmentSerializer(serializers.Serializer):
    secret = strict.CharField(help_text="The shared secret (base32), for typing into the app. Shown only here.")
    otpauth_uri = strict.CharField(help_text="The otpauth:// URI the QR code holds.")
    qr_svg = strict.CharField(help_text="The QR code of `otpauth_uri`, an inline SVG rendered by the server.")


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=strict.CharField(), help_text="Ten single-use codes. Shown only in this answer: store them."
    )
    other_sessions_revoked = serializers.IntegerField(
        required=False, help_text="On enrolment: how many other logins were signed out."
    )


class ReauthenticateSerializer(serializers.Serializer):
    """One proof, by one of the methods of accounts.reauth.METHODS (each an optional field here)."""

    password = strict.CharField(**PASSWORD, required=False)
    code = strict.CharField(
        max_length=32, required=False, help_text="A six-digit code from the authenticator app, or a recovery code."
    )
    passkey = PasskeyAnswerSerializer(
        required=False, help_text="A passkey's answer to POST /api/v1/auth/reauthenticate/passkey-options."
    )

    def validate(self, attrs):
        from .reauth import METHODS

        given = [name for name in METHODS if attrs.get(name)]
        if len(given) != 1:
            raise serializers.ValidationError(f"Give exactly one of: {', '.join(METHODS)}.")
        return attrs


class EmailChangeSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="The new address; a code is mailed to it.")


class EmailChangeConfirmSerializer(serializers.Serializer):
    code = strict.CharField(max_length=16, help_text="The six-digit code mailed to the new address.")


class EmailSerializer(serializers.Serializer):
    email = serializers.EmailField(help_text="The account's address from now on.")
