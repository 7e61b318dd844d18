from rest_framework import serializers

from .models import AuditEvent


class AuditKeySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="api_key_id", allow_null=True, help_text="Null once the key is deleted.")
    prefix = serializers.CharField(source="key_prefix")
    name = serializers.CharField(source="key_name")


class AuditActorSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()


class AuditEventSerializer(serializers.ModelSerializer):
    actor = AuditActorSerializer(read_only=True, allow_null=True)
    api_key = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "action",
            "actor",
            "api_key",
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
