import uuid

from django.db import models


class Campaign(models.Model):
    """The same row as tracking.Campaign: UUID id, team, the same 8 fields in the list."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team_id = models.UUIDField()
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, default="draft")
    domain_id = models.UUIDField(null=True)
    offer_id = models.UUIDField(null=True)
    source_id = models.UUIDField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "catalog"
        indexes = [models.Index(fields=["team_id", "-created_at"], name="peer_campaign_team_idx")]

    def __str__(self) -> str:
        return self.name
