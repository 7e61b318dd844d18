from rest_framework import serializers

from access import scopes
from apikeys.serializers import PermissionField
from infra import strict
from infra.allowlist import AllowlistField

from . import services
from .models import Integration


class IntegrationSerializer(strict.ModelSerializer):
    """An integration as listed: the Admin key's id only (its secret is shown once), the
    publishable Content key in full."""

    scopes = serializers.SerializerMethodField(help_text="What it may do: its permissions, capped at `admin`.")
    content_key = serializers.SerializerMethodField(help_text="Publishable: read-only, `?key=` on the Content API.")
    created_by = serializers.UUIDField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Integration
        fields = [
            "id",
            "name",
            "description",
            "permissions",
            "scopes",
            "admin_key_id",
            "content_key",
            "allowed_origins",
            "allowed_ips",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_scopes(self, integration: Integration) -> list[str]:
        return scopes.sorted_scopes(integration.effective_scopes())

    def get_content_key(self, integration: Integration) -> str:
        return services.content_key_of(integration)


class IssuedIntegrationSerializer(IntegrationSerializer):
    """The responses of create and regenerate-admin-key: the one time the Admin key is shown."""

    admin_key = strict.CharField(
        help_text="`{id}:{secret}`: sign tokens with it. Shown once; store it now.", allow_null=True
    )

    class Meta(IntegrationSerializer.Meta):
        fields = [*IntegrationSerializer.Meta.fields, "admin_key"]
        read_only_fields = fields


class CreateIntegrationSerializer(serializers.Serializer):
    name = strict.CharField(max_length=100)
    description = strict.CharField(max_length=500, required=False, allow_blank=True, default="")
    permissions = serializers.ListField(
        child=PermissionField(max_length=40), allow_empty=False, min_length=1, max_length=len(scopes.VALID_PERMISSIONS)
    )
    allowed_origins = serializers.ListField(
        child=strict.CharField(max_length=200), required=False, default=list, max_length=services.MAX_ORIGINS
    )
    allowed_ips = AllowlistField(required=False, default=list)


class UpdateIntegrationSerializer(serializers.Serializer):
    name = strict.CharField(max_length=100, required=False)
    description = strict.CharField(max_length=500, required=False, allow_blank=True)
    permissions = serializers.ListField(
        child=PermissionField(max_length=40),
        allow_empty=False,
        min_length=1,
        max_length=len(scopes.VALID_PERMISSIONS),
        required=False,
    )
    allowed_origins = serializers.ListField(
        child=strict.CharField(max_length=200), required=False, max_length=services.MAX_ORIGINS
    )
    allowed_ips = AllowlistField(required=False)
