"""The usage rollup: the worker turns the audit log's request events into one row per key,
integration and team per hour (usage.models.UsageHour), which is all the usage pages read.

Why rolled up by the worker and not counted by the recorder: a key request already writes its
audit event, and a counter per request (in the database or the cache) would add a write or a
round trip to the hot path that the event already carries. The worker reads each hour once per
run instead, through the primary key: audit ids are UUIDv7 (audit.models.uuid7), so an hour of
events is one range of the primary-key index, on every monthly partition of PostgreSQL and on
SQLite, and the cost of a run is the hour's events, not the table's.

Each run recomputes, whole, every hour that is not settled yet (usually the current one; also
the previous one during the first USAGE_SETTLE_SECONDS of a new hour, so an event that commits
late still counts) and replaces its rows: the result never depends on how often it runs, and two
workers cannot double count (the state row is locked; a second worker skips the run).

What counts as a request of a subject:
- `api_request` events: the key's (or the Admin key's integration's) requests, with status,
  route and refusal code, and the last address and user agent;
- `key.rate_limited` events: the requests refused by a key's own limits, counted per minute
  (audit.middleware), as 4xx with their code;
- `content_api.requests` events: a Content key's requests, counted per minute
  (integrations.usage), by status class.
The per-minute counts are recorded by the first request of the following minute, so they land in
the hour of that request. Every subject's requests are also its team's.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.db.models.fields.json import KT
from django.utils import timezone

from audit.models import Action, AuditEvent
from infra import background

from .models import RollupState, Subject, UsageHour

logger = logging.getLogger("ghostflow.usage")

HOUR = timedelta(hours=1)
ROUTES_KEPT = 20  # per subject and hour: the busiest routes (the pages show the top 10)
MAX_HOURS_PER_RUN = 24 * 7  # a first run (or a worker back after days) catches up a week per run
# An event's id is made just before its row is written, so its time is at most this much earlier
# than its created_at: the id range is widened by it, and created_at decides the hour.
ID_MARGIN = timedelta(minutes=1)
KEY_LIMIT_CODES = ("key_rate_limited", "key_quota_exhausted")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")

_ID_SEGMENT = re.compile(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}|\d+|[0-9a-fA-F]{24,}")


def route_of(method: str, path: str) -> str:
    """`GET /api/v1/campaigns/{id}`: the path with its ids taken out, so a route's requests add
    up whatever object each one asked for."""
    segments = ("{id}" if _ID_SEGMENT.fullmatch(segment) else segment for segment in path.split("/"))
    return f"{method} {'/'.join(segments)}".strip()


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def uuid7_floor(moment: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of `moment`'s millisecond: ids at or after it were made at or after it."""
    return uuid.UUID(int=int(moment.timestamp() * 1000) << 80)


class _Tally:
    __slots__ = ("by_status", "last", "refusals", "requests", "routes")

    def __init__(self) -> None:
        self.requests = 0
        self.by_status: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.last: tuple[datetime, str | None, str] | None = None  # (at, ip, user agent)

    def add(self, other: _Tally) -> None:
        self.requests += other.requests
        self.by_status.update(other.by_status)
        self.refusals.update(other.refusals)
        self.routes.update(other.routes)
        if other.last is not None and (self.last is None or other.last[0] > self.last[0]):
            self.last = other.last

    def row(self, *, team_id, subject: str, subject_id, hour: datetime) -> UsageHour:
        return UsageHour(
            team_id=team_id,
            subject=subject,
            subject_id=subject_id,
            hour=hour,
            requests=self.requests,
            by_status={name: self.by_status[name] for name in STATUS_CLASSES if self.by_status[name]},
            refusals=dict(self.refusals.most_common()),
            routes=dict(self.routes.most_common(ROUTES_KEPT)),
            last_at=self.last[0] if self.last else None,
            last_ip=self.last[1] if self.last else None,
            last_user_agent=self.last[2] if self.last else "",
        )


def _events(start: datetime, end: datetime):
    """The events of [start, end) of every team: one range of the primary key (and, on
    PostgreSQL, of the partitions that hold it)."""
    return AuditEvent.objects.across_teams(reason="the usage rollup reads every team's requests of an hour").filter(
        id__gte=uuid7_floor(start - ID_MARGIN),
        id__lt=uuid7_floor(end),
        created_at__gte=start,
        created_at__lt=end,
        team_id__isnull=False,
    )


def _subject(key_id, integration_id) -> tuple[str, uuid.UUID] | None:
    if key_id is not None:
        return Subject.KEY, key_id
    if integration_id is not None:
        return Subject.INTEGRATION, integration_id
    return None  # a deleted key's request: its team's alone


def tally_hour(hour: datetime) -> list[UsageHour]:
    """The rows of `hour` (its start), computed from the audit log. Three queries, each grouped by
    the database: requests by subject, status, code and path; the last address and user agent of
    each subject; the per-minute counts."""
    end = hour + HOUR
    events = _events(hour, end)
    tallies: dict[tuple, _Tally] = {}

    def tally(team_id, subject: tuple[str, uuid.UUID] | None) -> _Tally:
        key = (team_id, *subject) if subject else (team_id, Subject.TEAM, team_id)
        found = tallies.get(key)
        if found is None:
            found = tallies[key] = _Tally()
        return found

    requests = (
        events.filter(action=Action.API_REQUEST)
        .values("team_id", "api_key_id", "integration_id", "status_code", "method", "path", code=KT("data__code"))
        .annotate(count=Count("id"))
        .order_by()
    )
    for row in requests:
        count = row["count"]
        counted = tally(row["team_id"], _subject(row["api_key_id"], row["integration_id"]))
        counted.requests += count
        if row["status_code"]:
            counted.by_status[f"{row['status_code'] // 100}xx"] += count
        if row["code"] and (row["status_code"] or 0) >= 400:
            counted.refusals[row["code"]] += count
        counted.routes[route_of(row["method"], row["path"])] += count

    last_seen = (
        events.filter(action=Action.API_REQUEST)
        .values("team_id", "api_key_id", "integration_id", "ip", "user_agent")
        .annotate(at=Max("created_at"))
        .order_by()
    )
    for row in last_seen:
        counted = tally(row["team_id"], _subject(row["api_key_id"], row["integration_id"]))
        if counted.last is None or row["at"] > counted.last[0]:
            counted.last = (row["at"], row["ip"], row["user_agent"])

    summaries = events.filter(action__in=[Action.KEY_RATE_LIMITED, Action.CONTENT_API_REQUESTS]).values_list(
        "team_id", "api_key_id", "integration_id", "action", "data"
    )
    for team_id, key_id, integration_id, action, data in summaries:
        counted = tally(team_id, _subject(key_id, integration_id))
        if action == Action.KEY_RATE_LIMITED:
            for code in KEY_LIMIT_CODES:
                refused = int(data.get(code) or 0)
                if not refused:
                    continue
                counted.requests += refused
                counted.by_status["4xx"] += refused
                counted.refusals[code] += refused
        else:
            for status_class, number in (data.get("by_status") or {}).items():
                if status_class in STATUS_CLASSES:
                    counted.requests += int(number)
                    counted.by_status[status_class] += int(number)

    teams: dict = {}
    for (team_id, subject, _), counted in tallies.items():
        if subject != Subject.TEAM:
            teams.setdefault(team_id, _Tally()).add(counted)
    for team_id, counted in teams.items():
        tally(team_id, None).add(counted)
    return [
        counted.row(team_id=team_id, subject=subject, subject_id=subject_id, hour=hour)
        for (team_id, subject, subject_id), counted in tallies.items()
    ]


def _first_hour(now: datetime) -> datetime:
    """Where a first run starts: the oldest event still within USAGE_RETENTION_DAYS."""
    since = now - timedelta(days=settings.USAGE_RETENTION_DAYS)
    first = (
        AuditEvent.objects.across_teams(reason="the usage rollup finds where the log starts")
        .filter(id__gte=uuid7_floor(since), created_at__gte=since)
        .order_by("id")
        .values_list("created_at", flat=True)
        .first()
    )
    return hour_of(first or now)


def roll_up(*, now: datetime | None = None, max_hours: int = MAX_HOURS_PER_RUN) -> int:
    """Recompute the hours not settled yet (at most `max_hours`, oldest first) and drop the rows
    past USAGE_RETENTION_DAYS. Returns how many hours it recomputed (0 when another worker holds
    the state row)."""
    now = now or timezone.now()
    RollupState.objects.get_or_create(pk=1)
    with transaction.atomic():
        # One worker at a time (PostgreSQL; SQLite has one writer anyway): the others skip.
        state = RollupState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if state is None:
            return 0
        hour = state.settled_until or _first_hour(now)
        hours = []
        while hour <= now and len(hours) < max_hours:
            hours.append(hour)
            hour += HOUR
        reason = "the usage rollup replaces every team's rows of an hour"
        for hour in hours:
            rows = tally_hour(hour)
            UsageHour.objects.across_teams(reason=reason).filter(hour=hour).delete()
            UsageHour.objects.bulk_create(rows, batch_size=1000)
        settle = timedelta(seconds=settings.USAGE_SETTLE_SECONDS)
        settled = [hour + HOUR for hour in hours if hour + HOUR + settle <= now]
        if settled:
            state.settled_until = settled[-1]
        if hours:
            state.rolled_up_at = min(now, hours[-1] + HOUR)
        state.save(update_fields=["settled_until", "rolled_up_at"])
        cutoff = hour_of(now) - timedelta(days=settings.USAGE_RETENTION_DAYS)
        UsageHour.objects.across_teams(reason="usage retention drops every team's old rows").filter(
            hour__lt=cutoff
        ).delete()
    return len(hours)


@background.periodic(settings.USAGE_ROLLUP_SECONDS)
def run() -> None:
    started = timezone.now()
    hours = roll_up()
    logger.info("Usage rolled up: %d hour(s) in %.2fs", hours, (timezone.now() - started).total_seconds())
