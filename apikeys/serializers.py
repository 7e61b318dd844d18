from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from access import scopes
from infra import strict
from infra.allowlist import AllowlistField
from infra.limit_fields import MONTHLY_QUOTA, RateLimitsField

from .models import APIKey


class OwnerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = strict.CharField()


class APIKeySerializer(strict.ModelSerializer):
    """A key as listed: masked, never the secret or its digest."""

    prefix = strict.CharField(
        read_only=True, help_text="`gf_` + the key's first 8 characters: how a key is shown everywhere."
    )
    scopes = serializers.SerializerMethodField(help_text="The permissions with legacy values expanded.")
    owner = OwnerSerializer(source="user", read_only=True)
    status = serializers.ChoiceField(choices=APIKey.Status.choices, read_only=True)
    unused = serializers.SerializerMethodField(
        help_text="Unused for longer than the team's key policy allows (`unused_days`): a candidate to revoke."
    )

    class Meta:
        model = APIKey
        fields = [
            "id",
            "name",
            "prefix",
            "permissions",
            "scopes",
            "owner",
            "team",
            "status",
            "created_at",
            "expires_at",
            "last_used_at",
            "last_rotated_at",
            "revoked_at",
            "disabled_at",
            "leaked_at",
            "unused",
            "allowed_ips",
            "rate_limits",
            "monthly_quota",
        ]
        read_only_fields = fields

    def get_unused(self, key: APIKey) -> bool:
        return key.unused_at(timezone.now())

    def get_scopes(self, key: APIKey) -> list[str]:
        return scopes.sorted_scopes(key.granted_scopes())


class IssuedAPIKeySerializer(APIKeySerializer):
    """The one response that carries the raw key."""

    raw_key = strict.CharField(help_text="The full gf_ key. Shown once; store it now.")

    class Meta(APIKeySerializer.Meta):
        fields = [*APIKeySerializer.Meta.fields, "raw_key"]
        read_only_fields = fields


@extend_schema_field({"type": "string", "enum": list(scopes.VALID_PERMISSIONS)})
class PermissionField(strict.CharField):
    """A scope or legacy permission. Checked against the catalog by the service (400
    `unknown_scope` listing the valid values); the schema states the catalog as an enum."""


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Production key",
            value={"name": "Production Key", "permissions": ["read:campaigns", "write:campaigns", "read:stats"]},
            request_only=True,
        ),
        OpenApiExample("Legacy read-only key", value={"name": "Reporting", "permissions": ["read"]}, request_only=True),
        OpenApiExample(
            "Name only: a read-only key (every read:* scope of your role)",
            value={"name": "ci-pipeline"},
            request_only=True,
        ),
    ]
)
class CreateAPIKeySerializer(serializers.Serializer):
    name = strict.CharField(max_length=100)
    permissions = serializers.ListField(
        child=PermissionField(max_length=40),
        allow_empty=False,
        min_length=1,
        max_length=len(scopes.VALID_PERMISSIONS),
        required=False,
        help_text=(
            "Scopes (`read:campaigns`, ...) or legacy `read`/`write`/`admin`. Left out: least privilege, "
            "read-only: every `read:*` scope your role has (a viewer's or member's: all but `read:billing`), "
            "listed in the answer's `permissions`. An empty list is a 400."
        ),
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    allowed_ips = AllowlistField(required=False)
    rate_limits = RateLimitsField(required=False)
    monthly_quota = serializers.IntegerField(required=False, **MONTHLY_QUOTA)


class UpdateAPIKeySerializer(serializers.Serializer):
    """Only the name and the IP allowlist of an existing key can change; its team, owner, secret
    and scopes cannot."""

    IMMUTABLE = (
        "team",
        "user",
        "owner",
        "digest",
        "key",
        "raw_key",
        "prefix",
        "permissions",
        "scopes",
        "expires_at",
        "id",
    )

    name = strict.CharField(max_length=100)
    allowed_ips = AllowlistField()
    rate_limits = RateLimitsField()
    monthly_quota = serializers.IntegerField(**MONTHLY_QUOTA)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            refused = sorted(set(data) & set(self.IMMUTABLE))
            if refused:
                raise serializers.ValidationError(
                    {field: ["This field cannot be changed on an existing key."] for field in refused}
                )
        return super().to_internal_value(data)


class RegenerateSerializer(serializers.Serializer):
    grace_seconds = serializers.IntegerField(
        min_value=0,
        max_value=settings.API_KEY_MAX_GRACE_SECONDS,
        default=0,
        help_text="Keep the old secret working this long (at most 86400 s). 0: it stops now.",
    )


class LeakFindingSerializer(serializers.Serializer):
    """One finding of a leaked-key report (documentation only: apikeys/leaks.py reads the raw body)."""

    token = serializers.CharField(help_text="The token found: a gf_ key, `gf_[0-9A-Za-z]{38}`.")
    type = serializers.CharField(help_text="The reporter's name for the token type.")
    url = serializers.CharField(help_text="Where it was found.")
    source = serializers.CharField(required=False, help_text="What kind of place (content, commit, ...).")


class LeakLabelSerializer(serializers.Serializer):
    token_raw = serializers.CharField()
    token_type = serializers.CharField()
    label = serializers.ChoiceField(choices=["true_positive", "false_positive"])
