from django.http import HttpResponse
from django.urls import path
from rest_framework import generics, pagination, serializers
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework_api_key.permissions import HasAPIKey
from rest_framework_simplejwt.authentication import JWTAuthentication

from peers.catalog.models import Campaign


class CampaignSerializer(serializers.ModelSerializer):
    domain = serializers.UUIDField(source="domain_id")
    offer = serializers.UUIDField(source="offer_id")
    source = serializers.UUIDField(source="source_id")

    class Meta:
        model = Campaign
        fields = ["id", "name", "status", "domain", "offer", "source", "created_at", "updated_at"]


class Cursor(pagination.CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


def campaigns(authentication, permission):
    class CampaignList(generics.ListAPIView):
        authentication_classes = authentication
        permission_classes = [permission]
        serializer_class = CampaignSerializer
        pagination_class = Cursor

        def get_queryset(self):
            return Campaign.objects.filter(team_id=self.request.headers["X-Team-Id"])

    return CampaignList.as_view()


urlpatterns = [
    path("floor/campaigns", campaigns([], AllowAny)),
    path("api-key/campaigns", campaigns([], HasAPIKey)),
    path("token/campaigns", campaigns([TokenAuthentication], IsAuthenticated)),
    path("jwt/campaigns", campaigns([JWTAuthentication], IsAuthenticated)),
    path("healthz", lambda request: HttpResponse("ok")),
]
