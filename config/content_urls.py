"""The Content API (integrations/content.py): read-only public data, `?key=` Content keys only.
Paths as Ghost's: `campaigns`, `campaigns/{id}`, `campaigns/slug/{slug}`; a trailing slash (as
Ghost's clients send) is tolerated and left out of the schema."""

from django.urls import path

from integrations import content


def route(pattern: str, view, name: str):
    handler = view.as_view()
    return [path(pattern, handler, name=name), path(pattern + "/", handler)]


urlpatterns = [
    *route("campaigns", content.ContentCampaignList, "content-campaigns"),
    *route("campaigns/slug/<str:slug>", content.ContentCampaignBySlug, "content-campaign-by-slug"),
    *route("campaigns/<str:object_id>", content.ContentCampaignById, "content-campaign"),
    *route("offers", content.ContentOfferList, "content-offers"),
    *route("offers/slug/<str:slug>", content.ContentOfferBySlug, "content-offer-by-slug"),
    *route("offers/<str:object_id>", content.ContentOfferById, "content-offer"),
    *route("team", content.ContentTeamView, "content-team"),
]
