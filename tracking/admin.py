"""Operators see every team's resources; filters and search make one team's rows easy to find.
Foreign keys are raw-id inputs: a team can have thousands of rows and the admin must not list them
all in a select box."""

from django.contrib import admin

from .models import Campaign, Domain, Network, Offer, Source


class TeamOwnedAdmin(admin.ModelAdmin):
    list_filter = ("team",)
    list_select_related = ("team",)
    raw_id_fields = ("team",)
    readonly_fields = ("id", "created_at", "updated_at")
    show_full_result_count = False


@admin.register(Campaign)
class CampaignAdmin(TeamOwnedAdmin):
    list_display = ("name", "status", "team", "created_at")
    list_filter = ("status", "team")
    search_fields = ("name",)
    raw_id_fields = ("team", "domain", "offer", "source")


@admin.register(Domain)
class DomainAdmin(TeamOwnedAdmin):
    list_display = ("hostname", "team", "created_at")
    search_fields = ("hostname",)


@admin.register(Offer)
class OfferAdmin(TeamOwnedAdmin):
    list_display = ("name", "payout", "network", "team", "created_at")
    search_fields = ("name", "url")
    raw_id_fields = ("team", "network")


@admin.register(Source)
class SourceAdmin(TeamOwnedAdmin):
    list_display = ("name", "kind", "team", "created_at")
    list_filter = ("kind", "team")
    search_fields = ("name",)


@admin.register(Network)
class NetworkAdmin(TeamOwnedAdmin):
    list_display = ("name", "team", "created_at")
    search_fields = ("name",)
