"""The Content API (integrations/content.py): read-only public data, `?key=` Content keys only."""

from django.urls import path

from integrations import content

urlpatterns = [
    path("campaigns", content.ContentCampaignList.as_view(), name="content-campaigns"),
    path("offers", content.ContentOfferList.as_view(), name="content-offers"),
    path("team", content.ContentTeamView.as_view(), name="content-team"),
]
