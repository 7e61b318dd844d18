from rest_framework import serializers

from access.scopes import Role
from infra import strict
from infra.limit_fields import MONTHLY_QUOTA, RateLimitsField

from .models import Invitation, Membership, Team


class TeamSerializer(strict.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "plan", "require_second_factor", "leaked_key_action", "created_at"]
        read_only_fields = ["id", "plan", "require_second_factor", "leaked_key_action", "created_at"]


class TeamWithRoleSerializer(serializers.Serializer):
    """A team as one member sees it."""

    id = serializers.UUIDField(source="team.id")
    name = strict.CharField(source="team.name")
    plan = strict.CharField(source="team.plan")
    created_at = serializers.DateTimeField(source="team.created_at")
    role = serializers.ChoiceField(choices=Role.choices)
    require_second_factor = serializers.BooleanField(
        source="team.require_second_factor", help_text="The team requires a second factor of every member."
    )
    second_factor_missing = serializers.BooleanField(
        help_text="The team requires a second factor and you have none: the team answers 403 "
        "`second_factor_required` until you turn on two-step verification."
    )


class SecondFactorRuleSerializer(serializers.Serializer):
    required = strict.BooleanField(
        help_text="Every member must have a second factor to work in the team (with their login or their keys)."
    )
    members_without_second_factor = serializers.IntegerField(
        read_only=True, help_text="How many members the rule shuts out now, until they enrol."
    )


class LeakedKeyPolicySerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=["revoke", "flag"],
        help_text="What a leaked-key report does to a live key of the team found in public: `revoke` it at once "
        "(the default), or `flag` it (`leaked_at`; it keeps working) and mail the owner and admins either way.",
    )


class KeyPolicySerializer(serializers.Serializer):
    expiry_required = strict.BooleanField(help_text="Every new key must have an `expires_at`.")
    max_lifetime_days = serializers.IntegerField(
        min_value=1,
        max_value=3650,
        allow_null=True,
        help_text="A new key expires within this many days of its creation (implies `expiry_required`); null: no cap.",
    )
    unused_days = serializers.IntegerField(
        min_value=1,
        max_value=3650,
        allow_null=True,
        help_text="A key unused this many days (since its last use, or its creation) is flagged (`unused`), or "
        "disabled; null: never.",
    )
    unused_action = serializers.ChoiceField(choices=["flag", "disable"])
    default_rate_limits = RateLimitsField(
        required=False, help_text="The rate limits of every key without its own, as a key's `rate_limits`."
    )
    default_monthly_quota = serializers.IntegerField(required=False, **MONTHLY_QUOTA)
    limits_on_cache_failure = serializers.ChoiceField(
        choices=["closed", "open"],
        required=False,
        help_text="While the cache cannot count: `closed` (503, the default) or `open` (uncounted).",
    )


class TeamNameSerializer(serializers.Serializer):
    name = strict.CharField(max_length=100)


class MemberSerializer(strict.ModelSerializer):
    user_id = serializers.UUIDField(source="user.id", read_only=True)
    username = strict.CharField(source="user.username", read_only=True)
    email = strict.EmailField(source="user.email", read_only=True)
    joined_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "email", "role", "joined_at"]


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(strict.ModelSerializer):
    invited_by = strict.CharField(source="invited_by.username", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=["pending", "accepted", "expired"], read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "invited_by", "created_at", "expires_at", "accepted_at"]
        read_only_fields = fields


class CreateInvitationSerializer(serializers.Serializer):
    email = strict.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


class AcceptInvitationSerializer(serializers.Serializer):
    token = strict.CharField(max_length=200)
