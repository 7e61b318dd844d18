"""Reading rows through fields built once per serializer class (infra/representation.py) gives
exactly DRF's answer, for every resource serializer, with relations set and unset."""

from decimal import Decimal

import pytest
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from infra.representation import ListRepresentation, RepresentationFromClassFields, _plan
from tracking import serializers as tracking_serializers
from tracking.models import Campaign, Domain, Network, Offer, Source

RESOURCE_SERIALIZERS = [
    tracking_serializers.CampaignSerializer,
    tracking_serializers.DomainSerializer,
    tracking_serializers.NetworkSerializer,
    tracking_serializers.OfferSerializer,
    tracking_serializers.SourceSerializer,
]


def _drf(serializer_class, instance):
    return serializers.ModelSerializer.to_representation(serializer_class(), instance)


@pytest.fixture
def rows(team):
    network = Network.objects.create(team=team, name="Net \u00e9", postback_url="https://n.example.com/p?x=1")
    domain = Domain.objects.create(team=team, hostname="track.example.com")
    source = Source.objects.create(team=team, name="Ads", kind=Source.Kind.SOCIAL)
    offer = Offer.objects.create(
        team=team, name="O", url="https://o.example.com", payout=Decimal("12.50"), network=network
    )
    bare_offer = Offer.objects.create(team=team, name="O2", url="https://o2.example.com")
    campaign = Campaign.objects.create(team=team, name="C", domain=domain, offer=offer, source=source)
    bare_campaign = Campaign.objects.create(team=team, name="D")
    return [network, domain, source, offer, bare_offer, campaign, bare_campaign]


@pytest.mark.django_db
@pytest.mark.parametrize("serializer_class", RESOURCE_SERIALIZERS, ids=lambda c: c.__name__)
def test_it_answers_exactly_what_drf_answers(serializer_class, rows):
    assert issubclass(serializer_class, RepresentationFromClassFields)
    assert _plan(serializer_class) is not None  # the fast path is really taken
    model = serializer_class.Meta.model
    instances = list(model.objects.all())  # as a list view reads them
    assert instances
    for instance in instances:
        fast = serializer_class(instance).data
        assert fast == _drf(serializer_class, instance)
        assert list(fast) == list(_drf(serializer_class, instance))  # same key order
    many = serializer_class(instances, many=True).data
    assert JSONRenderer().render(many) == JSONRenderer().render([_drf(serializer_class, i) for i in instances])


def test_a_serializer_with_a_field_that_needs_context_keeps_drfs_path():
    class WithMethod(RepresentationFromClassFields, serializers.ModelSerializer):
        shout = serializers.SerializerMethodField()

        class Meta:
            model = Source
            fields = ["id", "name", "shout"]

        def get_shout(self, obj):
            return obj.name.upper()

    assert _plan(WithMethod) is None
    source = Source(name="ads")
    assert WithMethod(source).data["shout"] == "ADS"


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu", "America/St_Johns"])
def test_timestamps_follow_the_current_time_zone_as_drf_does(rows, zone):
    # A page looks the time zone up once (ListRepresentation); each row still says what DRF says.
    from django.utils import timezone

    campaigns = list(Campaign.objects.all())
    with timezone.override(zone):
        many = tracking_serializers.CampaignSerializer(campaigns, many=True)
        assert isinstance(many, ListRepresentation)
        assert many.data == [_drf(tracking_serializers.CampaignSerializer, c) for c in campaigns]
        assert tracking_serializers.CampaignSerializer(campaigns[0]).data == _drf(
            tracking_serializers.CampaignSerializer, campaigns[0]
        )
    if zone != "UTC":
        assert not many.data[0]["created_at"].endswith("Z")
