"""The usage rollup: the worker turns the audit log's request events into one row per key,
integration and team per hour (usage.models.UsageHour), which is all the usage pages read.

Why rolled up by the worker and not counted by the recorder: a key request already writes its
audit event, and a counter per request (in the database or the cache) would add a write or a
round trip to the hot path that the event already carries.

Incremental, each event counted once: a run reads the events recorded since the last run, up to
USAGE_LAG_SECONDS ago, adds them to their hours' rows and moves the state's mark past them, all
in one transaction (a second worker skips the run: the state row is locked). So a run costs the
events of the last minute, not the hour's nor the table's. The slice is one range of the audit
table's primary key: its ids are UUIDv7 (audit.models.uuid7), made by the recorder just before
the row is written, and the lag leaves time for a transaction to commit (and for app servers'
clocks to differ) before its ids are passed: an event committed later than that is not counted.

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
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.db.models.fields.json import KT
from django.db.models.functions import TruncHour
from django.utils import timezone

from audit.models import Action, AuditEvent
from infra import background

from .models import RollupState, Subject, UsageHour

logger = logging.getLogger("ghostflow.usage")

HOUR = timedelta(hours=1)
ROUTES_KEPT = 20  # per subject and hour: the busiest routes (the pages show the top 10)
SLICE = timedelta(hours=1)  # at most this much of the log per transaction (a first run catches up in slices)
MAX_SLICES_PER_RUN = 24 * 7  # a first run (or a worker back after days) catches up a week per run
# An event's id is made just before its row is written: its created_at is at most this much later.
ID_MARGIN = timedelta(minutes=1)
KEY_LIMIT_CODES = ("key_rate_limited", "key_quota_exhausted")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
IN_BATCH = 500  # ids per `IN (...)` (SQLite's bound on a statement's parameters)

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


def moment_of(event_id: uuid.UUID) -> datetime:
    """The millisecond a UUIDv7 was made in."""
    return datetime.fromtimestamp((event_id.int >> 80) / 1000, tz=UTC)


class _Tally:
    __slots__ = ("by_status", "last", "refusals", "requests", "routes")

    def __init__(self) -> None:
        self.requests = 0
        self.by_status: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.last: tuple[datetime, str | None, str] | None = None  # (at, ip, user agent)

    @classmethod
    def of(cls, row: UsageHour) -> _Tally:
        tally = cls()
        tally.requests = row.requests
        tally.by_status.update(row.by_status)
        tally.refusals.update(row.refusals)
        tally.routes.update(row.routes)
        if row.last_at is not None:
            tally.last = (row.last_at, row.last_ip, row.last_user_agent)
        return tally

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


def _events(start_id: uuid.UUID, end_id: uuid.UUID):
    """The events with ids in [start_id, end_id) of every team: one range of the primary key
    (and, on PostgreSQL, of the month partitions its created_at bounds select)."""
    return AuditEvent.objects.across_teams(reason="the usage rollup reads every team's new requests").filter(
        id__gte=start_id,
        id__lt=end_id,
        created_at__gte=moment_of(start_id),
        created_at__lt=moment_of(end_id) + ID_MARGIN,
        team_id__isnull=False,
    )


def _subject(key_id, integration_id) -> tuple[str, uuid.UUID] | None:
    if key_id is not None:
        return Subject.KEY, key_id
    if integration_id is not None:
        return Subject.INTEGRATION, integration_id
    return None  # a deleted key's request: its team's alone


Slot = tuple  # (team id, subject, subject id, hour)


def tally_events(start_id: uuid.UUID, end_id: uuid.UUID) -> dict[Slot, _Tally]:
    """What the events with ids in [start_id, end_id) add, per subject and hour (teams included).
    Three queries, each grouped by the database: requests by subject, hour, status, code and
    path; the last address and user agent of each subject and hour; the per-minute counts."""
    events = _events(start_id, end_id)
    tallies: dict[Slot, _Tally] = {}

    def tally(team_id, subject: tuple[str, uuid.UUID] | None, hour: datetime) -> _Tally:
        slot = (team_id, *subject, hour) if subject else (team_id, Subject.TEAM, team_id, hour)
        found = tallies.get(slot)
        if found is None:
            found = tallies[slot] = _Tally()
        return found

    requests = (
        events.filter(action=Action.API_REQUEST)
        .values("team_id", "api_key_id", "integration_id", "status_code", "method", "path", code=KT("data__code"))
        .annotate(hour=TruncHour("created_at", tzinfo=UTC), count=Count("id"))
        .order_by()
    )
    for row in requests:
        count = row["count"]
        counted = tally(row["team_id"], _subject(row["api_key_id"], row["integration_id"]), row["hour"])
        counted.requests += count
        if row["status_code"]:
            counted.by_status[f"{row['status_code'] // 100}xx"] += count
        if row["code"] and (row["status_code"] or 0) >= 400:
            counted.refusals[row["code"]] += count
        counted.routes[route_of(row["method"], row["path"])] += count

    last_seen = (
        events.filter(action=Action.API_REQUEST)
        .values("team_id", "api_key_id", "integration_id", "ip", "user_agent")
        .annotate(hour=TruncHour("created_at", tzinfo=UTC), at=Max("created_at"))
        .order_by()
    )
    for row in last_seen:
        counted = tally(row["team_id"], _subject(row["api_key_id"], row["integration_id"]), row["hour"])
        if counted.last is None or row["at"] > counted.last[0]:
            counted.last = (row["at"], row["ip"], row["user_agent"])

    summaries = events.filter(action__in=[Action.KEY_RATE_LIMITED, Action.CONTENT_API_REQUESTS]).values_list(
        "team_id", "api_key_id", "integration_id", "action", "data", "created_at"
    )
    for team_id, key_id, integration_id, action, data, created_at in summaries:
        counted = tally(team_id, _subject(key_id, integration_id), hour_of(created_at.astimezone(UTC)))
        if action == Action.KEY_RATE_LIMITED:
            for code in KEY_LIMIT_CODES:
                refused = int(data.get(code) or 0)
                if refused:
                    counted.requests += refused
                    counted.by_status["4xx"] += refused
                    counted.refusals[code] += refused
        else:
            for status_class, number in (data.get("by_status") or {}).items():
                if status_class in STATUS_CLASSES:
                    counted.requests += int(number)
                    counted.by_status[status_class] += int(number)

    teams: dict[tuple, _Tally] = {}
    for (team_id, subject, _, hour), counted in tallies.items():
        if subject != Subject.TEAM:
            teams.setdefault((team_id, hour), _Tally()).add(counted)
    for (team_id, hour), counted in teams.items():
        tally(team_id, None, hour).add(counted)
    return tallies


def add_to_rows(tallies: dict[Slot, _Tally]) -> None:
    """Add `tallies` to the rows of their slots: the existing rows are read, merged and written
    again (deleted and inserted, in the caller's transaction), the others inserted."""
    reason = "the usage rollup adds to every team's rows"
    by_hour: dict[datetime, list[uuid.UUID]] = {}
    for _, _, subject_id, hour in tallies:
        by_hour.setdefault(hour, []).append(subject_id)
    existing: list[UsageHour] = []
    for hour, ids in by_hour.items():
        for start in range(0, len(ids), IN_BATCH):
            batch = ids[start : start + IN_BATCH]
            existing += UsageHour.objects.across_teams(reason=reason).filter(hour=hour, subject_id__in=batch)
    merged = dict(tallies)
    for row in existing:
        slot = (row.team_id, row.subject, row.subject_id, row.hour)
        if slot in merged:
            before = _Tally.of(row)
            before.add(merged[slot])
            merged[slot] = before
    for start in range(0, len(existing), IN_BATCH):
        batch = [row.pk for row in existing[start : start + IN_BATCH]]
        UsageHour.objects.across_teams(reason=reason).filter(pk__in=batch).delete()
    UsageHour.objects.bulk_create(
        [
            counted.row(team_id=team_id, subject=subject, subject_id=subject_id, hour=hour)
            for (team_id, subject, subject_id, hour), counted in merged.items()
        ],
        batch_size=1000,
    )


def _start(now: datetime) -> datetime:
    """Where a first run starts: the oldest event within USAGE_RETENTION_DAYS (or now)."""
    since = now - timedelta(days=settings.USAGE_RETENTION_DAYS)
    first = (
        AuditEvent.objects.across_teams(reason="the usage rollup finds where the log starts")
        .filter(id__gte=uuid7_floor(since), created_at__gte=since)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    return moment_of(first) if first else now


def roll_up(*, now: datetime | None = None, max_slices: int = MAX_SLICES_PER_RUN) -> int:
    """Count the events recorded since the last run, up to USAGE_LAG_SECONDS before `now`, in
    slices of at most SLICE, each in its own transaction; then drop the rows past
    USAGE_RETENTION_DAYS. Returns how many slices it counted (0: nothing new, or another worker
    holds the state row)."""
    now = now or timezone.now()
    until = now - timedelta(seconds=settings.USAGE_LAG_SECONDS)
    RollupState.objects.get_or_create(pk=1)
    slices = 0
    while slices < max_slices:
        with transaction.atomic():
            # One worker at a time (PostgreSQL; SQLite has one writer anyway): the others skip.
            state = RollupState.objects.select_for_update(skip_locked=True).filter(pk=1).first()
            if state is None:
                break
            start = state.counted_until or _start(now)
            if start >= until:
                if state.counted_until is None:  # a first run with nothing to count yet
                    state.counted_until = until
                    state.save(update_fields=["counted_until"])
                break
            end = min(until, start + SLICE)
            add_to_rows(tally_events(uuid7_floor(start), uuid7_floor(end)))
            state.counted_until = end
            state.save(update_fields=["counted_until"])
            slices += 1
    cutoff = hour_of(now) - timedelta(days=settings.USAGE_RETENTION_DAYS)
    rows = UsageHour.objects.across_teams(reason="usage retention drops every team's old rows")
    # The oldest hour first (one step down the hour index): most runs have nothing to drop, and a
    # DELETE planned on stale statistics would scan the table to find that out.
    oldest = rows.order_by("hour").values_list("hour", flat=True).first()
    if oldest is not None and oldest < cutoff:
        rows.filter(hour__lt=cutoff).delete()
    return slices


@background.periodic(settings.USAGE_ROLLUP_SECONDS)
def run() -> None:
    started = timezone.now()
    slices = roll_up()
    logger.info("Usage rolled up: %d slice(s) in %.2fs", slices, (timezone.now() - started).total_seconds())
