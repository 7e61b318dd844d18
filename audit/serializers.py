from rest_framework import serializers

from infra import strict

from .models import AuditEvent


class AuditKeySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="api_key_id", allow_null=True, help_text="Null once the key is deleted.")
    prefix = strict.CharField(source="key_prefix")
    name = strict.CharField(source="key_name")


class AuditActorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = strict.CharField()


class AuditEventSerializer(strict.ModelSerializer):
    actor = AuditActorSerializer(read_only=True, allow_null=True)
    api_key = serializers.SerializerMethodField()
    integration = serializers.UUIDField(
        source="integration_id",
        allow_null=True,
        read_only=True,
        help_text="The integration that acted, or the subject.",
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "action",
            "actor",
            "api_key",
            "integration",
            "method",
            "path",
            "status_code",
            "ip",
            "user_agent",
            "request_id",
            "data",
        ]
        read_only_fields = fields

    def get_api_key(self, event) -> AuditKeySerializer(allow_null=True):  # type: ignore[valid-type]
        if not event.key_prefix:
            return None
        return AuditKeySerializer(event).data
