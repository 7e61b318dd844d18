"""The request fields that declare rate limits and quotas (an API key's own, and a team's defaults
for its keys: apikeys.limits counts them)."""

from rest_framework import serializers


class RateLimitSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1_000_000_000, help_text="Requests per window.")
    seconds = serializers.IntegerField(min_value=1, max_value=31 * 86400, help_text="The window, in seconds.")


class RateLimitsField(serializers.ListField):
    """Up to five windows, each `{"limit", "seconds"}`, no two of the same length."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", RateLimitSerializer())
        kwargs.setdefault("max_length", 5)
        kwargs.setdefault(
            "help_text", 'Rate limits, e.g. [{"limit": 10, "seconds": 1}, {"limit": 1000, "seconds": 3600}].'
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        windows = [dict(window) for window in super().to_internal_value(data)]
        if len({window["seconds"] for window in windows}) != len(windows):
            raise serializers.ValidationError("Two windows of the same length.")
        return sorted(windows, key=lambda window: window["seconds"])


MONTHLY_QUOTA = {
    "min_value": 1,
    "max_value": 2_000_000_000,
    "allow_null": True,
    "help_text": "Requests per calendar month (UTC); null: none.",
}
