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


class StreamTokenSerializer(serializers.Serializer):
    token = strict.CharField(help_text="For `GET /api/v1/audit-log/stream?token=`: once, within `expires_in`.")
    expires_in = serializers.IntegerField(help_text="Seconds left to open the stream with it.")


class AuditStreamMessageSerializer(serializers.Serializer):
    """One message of the live audit stream (documentation only: audit/stream.py writes them)."""

    id = serializers.UUIDField(required=False, help_text="The audit event's id (what Last-Event-ID resumes after).")
    event = strict.CharField(
        required=False,
        help_text=(
            "Absent on audit events. `revoked`: the holder may no longer watch (`reason`), the stream ends; "
            "`end`: the server ends the stream (`reason`), reconnect with Last-Event-ID; `gap`: events before "
            "the replay window were not replayed."
        ),
    )
    data = strict.CharField(
        help_text=(
            'JSON: the audit event exactly as an item of GET /api/v1/audit-log; `{"reason"}` or `{"detail"}` otherwise.'
        )
    )
