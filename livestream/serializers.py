from rest_framework import serializers

from infra import strict


class StreamTokenSerializer(serializers.Serializer):
    token = strict.CharField(help_text="For `GET /api/v1/audit-log/stream?token=`: once, within `expires_in`.")
    expires_in = serializers.IntegerField(help_text="Seconds left to open the stream with it.")


class AuditStreamMessageSerializer(serializers.Serializer):
    """One message of the live audit stream (documentation only: livestream/sse.py writes them)."""

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
