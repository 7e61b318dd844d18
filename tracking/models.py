"""The GhostFlow resources that scopes guard. Every one is team-owned (teams.models.TeamOwned)."""

from django.db import models

from teams.models import TeamOwned


class Network(TeamOwned):
    """An affiliate network; conversions are reported to `postback_url`."""

    name = models.CharField(max_length=100)
    postback_url = models.URLField(max_length=500, blank=True)

    class Meta(TeamOwned.Meta):
        indexes = [models.Index(fields=["team", "-created_at"], name="tracking_network_team_idx")]

    def __str__(self) -> str:
        return self.name


class Domain(TeamOwned):
    """A tracking domain."""

    hostname = models.CharField(max_length=253)

    class Meta(TeamOwned.Meta):
        constraints = [models.UniqueConstraint(fields=["team", "hostname"], name="tracking_domain_team_host_unique")]
        indexes = [models.Index(fields=["team", "-created_at"], name="tracking_domain_team_idx")]

    def __str__(self) -> str:
        return self.hostname


class Source(TeamOwned):
    """A traffic source."""

    class Kind(models.TextChoices):
        SEARCH = "search"
        SOCIAL = "social"
        DISPLAY = "display"
        NATIVE = "native"
        EMAIL = "email"
        OTHER = "other"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)

    class Meta(TeamOwned.Meta):
        indexes = [models.Index(fields=["team", "-created_at"], name="tracking_source_team_idx")]

    def __str__(self) -> str:
        return self.name


class Offer(TeamOwned):
    """Something promoted, paid `payout` per conversion by its network."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    payout = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    network = models.ForeignKey(Network, null=True, blank=True, on_delete=models.SET_NULL, related_name="offers")

    class Meta(TeamOwned.Meta):
        indexes = [models.Index(fields=["team", "-created_at"], name="tracking_offer_team_idx")]

    def __str__(self) -> str:
        return self.name


class Campaign(TeamOwned):
    """Traffic from a source, on a domain, sent to an offer."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        PAUSED = "paused"
        ARCHIVED = "archived"

    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    domain = models.ForeignKey(Domain, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns")
    offer = models.ForeignKey(Offer, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns")

    class Meta(TeamOwned.Meta):
        indexes = [
            models.Index(fields=["team", "-created_at"], name="tracking_campaign_team_idx"),
            models.Index(fields=["team", "status"], name="tracking_campaign_status_idx"),
        ]

    def __str__(self) -> str:
        return self.name
