"""The usage answer's shape (usage.selectors.usage_of builds it; these document and render it)."""

from rest_framework import serializers

from .models import Subject
from .rollup import STATUS_CLASSES


class UsageSubjectSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Subject.choices)
    id = serializers.UUIDField()


class UsageCountsSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    refusals = serializers.DictField(
        child=serializers.IntegerField(), help_text="Refused requests by problem code (`key_rate_limited`, ...)."
    )

    def get_fields(self):
        # "2xx" is no Python name: the status classes are added here rather than declared.
        fields = super().get_fields()
        for status_class in STATUS_CLASSES:
            fields[status_class] = serializers.IntegerField(
                help_text=f"Requests answered with a {status_class} status."
            )
        return fields


class UsagePointSerializer(UsageCountsSerializer):
    start = serializers.DateTimeField(help_text="The period's start (UTC).")


class UsageRouteSerializer(serializers.Serializer):
    route = serializers.CharField(help_text="Method and path, ids as `{id}`: `GET /api/v1/campaigns/{id}`.")
    requests = serializers.IntegerField()


class LastUsedSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField(allow_blank=True)


class UsageSerializer(serializers.Serializer):
    subject = UsageSubjectSerializer()
    granularity = serializers.ChoiceField(choices=["hour", "day"])
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    as_of = serializers.DateTimeField(
        allow_null=True,
        help_text="The rollup includes the events recorded before this time; null before its first run.",
    )
    totals = UsageCountsSerializer()
    series = UsagePointSerializer(many=True)
    top_routes = UsageRouteSerializer(many=True)
    last_used = LastUsedSerializer(allow_null=True)
