from rest_framework import serializers

from infra import strict
from infra.representation import ListRepresentation, RepresentationFromClassFields

from .models import Campaign, Domain, Network, Offer, Source


class TeamObjectField(serializers.PrimaryKeyRelatedField):
    """A reference to another object of the *current* team. Another team's id is "does not
    exist" (400), exactly like an unknown id, so references cannot probe other tenants."""

    def get_queryset(self):
        return self.queryset.model.objects.for_team(self.context["request"].access.team)


class TeamOwnedSerializer(RepresentationFromClassFields, strict.ModelSerializer):
    serializer_related_field = TeamObjectField

    class Meta:
        read_only_fields = ["id", "created_at", "updated_at"]
        list_serializer_class = ListRepresentation


class NetworkSerializer(TeamOwnedSerializer):
    class Meta(TeamOwnedSerializer.Meta):
        model = Network
        fields = ["id", "name", "postback_url", "created_at", "updated_at"]


class DomainSerializer(TeamOwnedSerializer):
    class Meta(TeamOwnedSerializer.Meta):
        model = Domain
        fields = ["id", "hostname", "created_at", "updated_at"]
        validators = []  # (team, hostname) uniqueness is checked below, within the team

    def validate_hostname(self, value: str) -> str:
        value = value.strip().lower().rstrip(".")
        labels = value.split(".")
        if len(labels) < 2 or not all(
            label and len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii() for label in labels
        ):
            raise serializers.ValidationError("Enter a valid hostname, e.g. track.example.com.")
        team = self.context["request"].access.team
        clash = Domain.objects.for_team(team).filter(hostname=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("This team already has this hostname.")
        return value


class SourceSerializer(TeamOwnedSerializer):
    class Meta(TeamOwnedSerializer.Meta):
        model = Source
        fields = ["id", "name", "kind", "created_at", "updated_at"]


class OfferSerializer(TeamOwnedSerializer):
    payout = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)

    class Meta(TeamOwnedSerializer.Meta):
        model = Offer
        fields = ["id", "name", "slug", "url", "payout", "network", "created_at", "updated_at"]
        read_only_fields = [*TeamOwnedSerializer.Meta.read_only_fields, "slug"]
        extra_kwargs = {"network": {"queryset": Network.objects.all()}}


class CampaignSerializer(TeamOwnedSerializer):
    class Meta(TeamOwnedSerializer.Meta):
        model = Campaign
        fields = ["id", "name", "slug", "status", "domain", "offer", "source", "created_at", "updated_at"]
        read_only_fields = [*TeamOwnedSerializer.Meta.read_only_fields, "slug"]


class StatsSerializer(serializers.Serializer):
    counts = serializers.DictField(child=serializers.IntegerField())
    campaigns_by_status = serializers.DictField(child=serializers.IntegerField())


class BillingSerializer(serializers.Serializer):
    plan = strict.CharField()
    seats_used = serializers.IntegerField()
    active_api_keys = serializers.IntegerField()
