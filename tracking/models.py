"""The GhostFlow resources that scopes guard. Every one is team-owned (teams.models.TeamOwned)."""

from django.db import IntegrityError, models, transaction

from access.tenancy import TenantQuerySet
from teams.models import TeamOwned

from . import slugs


class SluggedQuerySet(TenantQuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        slugs.fill(objs, lambda team_id: set(self.model.objects.for_team(team_id).values_list("slug", flat=True)))
        return super().bulk_create(objs, *args, **kwargs)


class Slugged(TeamOwned):
    """A resource the Content API reads by slug (tracking/slugs.py): unique within its team, made
    from the name on creation when none is given, unchanged by a rename."""

    slug = models.SlugField(max_length=slugs.MAX_LENGTH, blank=True)

    objects = SluggedQuerySet.as_manager()

    class Meta(TeamOwned.Meta):
        abstract = True

    # Two rows of one team created at once with the same name may both find `name` free: the
    # unique constraint refuses the second, which then takes the next free slug.
    SLUG_ATTEMPTS = 5

    def save(self, *args, **kwargs):
        if self.slug or not self._state.adding:
            return super().save(*args, **kwargs)
        siblings = type(self).objects.for_team(self.team_id)
        for attempt in range(self.SLUG_ATTEMPTS):
            self.slug = slugs.first_free(self.name, lambda slug: siblings.filter(slug=slug).exists())
            try:
                with transaction.atomic():
                    return super().save(*args, **kwargs)
            except IntegrityError:
                taken = siblings.filter(slug=self.slug).exists()
                self.slug = ""
                if not taken or attempt == self.SLUG_ATTEMPTS - 1:
                    raise
        return None


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


class Offer(Slugged):
    """Something promoted, paid `payout` per conversion by its network."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    payout = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    network = models.ForeignKey(Network, null=True, blank=True, on_delete=models.SET_NULL, related_name="offers")

    class Meta(Slugged.Meta):
        constraints = [models.UniqueConstraint(fields=["team", "slug"], name="tracking_offer_team_slug_unique")]
        indexes = [models.Index(fields=["team", "-created_at"], name="tracking_offer_team_idx")]

    def __str__(self) -> str:
        return self.name


class Campaign(Slugged):
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

    class Meta(Slugged.Meta):
        constraints = [models.UniqueConstraint(fields=["team", "slug"], name="tracking_campaign_team_slug_unique")]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="tracking_campaign_team_idx"),
            models.Index(fields=["team", "status"], name="tracking_campaign_status_idx"),
        ]

    def __str__(self) -> str:
        return self.name
