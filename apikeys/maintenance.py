"""What the worker does for API keys on its own (infra.background.PERIODIC, every hour; or
`manage.py key_maintenance`): it mails each owner 7 days and 1 day before a key expires, once each,
and disables the keys a team's policy says are unused for too long.

Each is safe on several workers at once and to repeat: a reminder is claimed by one conditional
UPDATE of the key's `expiry_reminders_sent` before its mail is queued, and disabling is the
`disable_key` service, which changes (and records) a key only once."""

from __future__ import annotations

from datetime import timedelta

from django.db.models.functions import Coalesce
from django.utils import timezone

from infra import background, mail
from teams.models import Team

from . import services
from .models import APIKey

# (stage, how long before the expiry): the nearer one first, so a key made to expire within a day
# gets the 1-day mail only, not both at once.
REMINDERS = ((2, timedelta(days=1)), (1, timedelta(days=7)))
EVERY_SECONDS = 3600


def send_expiry_reminders(now=None) -> int:
    """Mail the owner of each live key entering its last 7 days, then its last day (once each);
    how many mails were queued."""
    now = now or timezone.now()
    sent = 0
    for stage, ahead in REMINDERS:
        due = (
            APIKey.objects.across_teams(reason="expiry reminders: every team's keys about to expire")
            .filter(
                revoked_at__isnull=True,
                expires_at__gt=now,
                expires_at__lte=now + ahead,
                expiry_reminders_sent__lt=stage,
            )
            .select_related("user", "team")
        )
        for key in due:
            claimed = (
                APIKey.objects.for_team(key.team_id)
                .filter(pk=key.pk, expiry_reminders_sent__lt=stage)
                .update(expiry_reminders_sent=stage)
            )
            if not claimed or not key.user.email:
                continue  # another worker took it (or there is nobody to tell)
            mail.send(
                "key_expiring",
                key.user.email,
                username=key.user.username,
                key_name=key.name,
                key_prefix=key.prefix,
                team_name=key.team.name,
                expires_at=key.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
                days=max(1, round((key.expires_at - now) / timedelta(days=1))),
            )
            sent += 1
    return sent


def disable_unused_keys(now=None) -> int:
    """Disable the keys unused (since their last use, or their creation) for longer than their
    team's `key_unused_days`, where the team's `key_unused_action` is "disable"; how many."""
    now = now or timezone.now()
    count = 0
    for team in Team.objects.filter(key_unused_action="disable", key_unused_days__isnull=False):
        stale = (
            APIKey.objects.for_team(team)
            .filter(revoked_at__isnull=True, disabled_at__isnull=True)
            .alias(idle_since=Coalesce("last_used_at", "created_at"))
            .filter(idle_since__lt=now - timedelta(days=team.key_unused_days))
        )
        for key in stale:
            services.disable_key(key=key, actor=None, reason="unused")
            count += 1
    return count


@background.periodic(EVERY_SECONDS)
def run() -> None:
    send_expiry_reminders()
    disable_unused_keys()
