"""The floor: the same campaigns list (serializer, cursor pagination, the /api/ middleware path) with no
authentication, for one team named by a header. Bench only; never installed in the project."""

from django.urls import include, path
from rest_framework import generics
from rest_framework.permissions import AllowAny

from tracking.models import Campaign
from tracking.serializers import CampaignSerializer


class FloorCampaignList(generics.ListAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = CampaignSerializer

    def get_queryset(self):
        return Campaign.objects.filter(team_id=self.request.headers["X-Bench-Team"])


urlpatterns = [
    path("api/bench/floor/campaigns", FloorCampaignList.as_view()),
    path("", include("config.urls")),
]
