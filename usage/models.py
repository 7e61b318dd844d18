"""Usage at a glance: how many requests each key, integration and team made per hour, rolled up
from the audit log by the worker (usage.rollup), so that no page ever scans the audit table."""

from __future__ import annotations

from django.db import models

from access.tenancy import TenantQuerySet


class Subject(models.TextChoices):
    TEAM = "team", "The whole team"
    KEY = "key", "An API key"
    INTEGRATION = "integration", "An integration (its Admin and Content keys)"


class UsageHour(models.Model):
    """One subject's requests in one hour (UTC).

    `subject_id` is the key's or the integration's id, or the team's own for the team's row: a
    plain id, not a foreign key, so a deleted key's history stays in its team's numbers. The
    rollup adds each event once (usage.rollup).
    """

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    subject = models.CharField(max_length=12, choices=Subject.choices)
    subject_id = models.UUIDField()
    hour = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    # {"2xx": n, "3xx": n, "4xx": n, "5xx": n}, only the classes seen.
    by_status = models.JSONField(default=dict)
    # {problem code: n} of the refused requests (`key_rate_limited`, `ip_not_allowed`, ...).
    refusals = models.JSONField(default=dict)
    # {"GET /api/v1/campaigns/{id}": n}: the hour's busiest routes (usage.rollup.ROUTES_KEPT).
    routes = models.JSONField(default=dict)
    last_at = models.DateTimeField(null=True, blank=True)
    last_ip = models.GenericIPAddressField(null=True, blank=True)
    last_user_agent = models.CharField(max_length=255, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "subject", "subject_id", "hour"], name="usage_hour_unique"),
        ]
        # The rollup finds an hour's rows by subject; retention drops the old hours.
        indexes = [models.Index(fields=["hour", "subject_id"], name="usage_hour_subject_idx")]

    def __str__(self) -> str:
        return f"{self.subject} {self.subject_id} {self.hour:%Y-%m-%d %H}:00 {self.requests}"


class RollupState(models.Model):
    """Where the rollup stands (one row): the events made before `counted_until` are counted
    (the answers' `as_of`); null before its first run."""

    counted_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"usage counted until {self.counted_until}"
