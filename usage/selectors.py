"""Reading usage: a subject's series, totals, refusals, busiest routes and last use, from its
rolled-up hours (usage.models.UsageHour). Two or three queries, whatever the audit log's size."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from infra.errors import BadRequest

from .models import RollupState, Subject, UsageHour
from .rollup import STATUS_CLASSES, hour_of

ROUTES_SHOWN = 10


@dataclass(frozen=True)
class Granularity:
    name: str
    step: timedelta
    default_periods: int
    max_periods: int

    def start_of(self, moment: datetime) -> datetime:
        start = hour_of(moment)
        return start.replace(hour=0) if self.name == "day" else start


GRANULARITIES = {
    "hour": Granularity("hour", timedelta(hours=1), 24, 24 * 7),
    "day": Granularity("day", timedelta(days=1), 30, 90),
}


def window(params) -> tuple[Granularity, int]:
    """`granularity` (hour or day) and `periods` (how many, ending with the current one) of the
    query string; a bad value is a 400 `invalid_filter`."""
    name = params.get("granularity", "hour")
    granularity = GRANULARITIES.get(name)
    if granularity is None:
        raise BadRequest("granularity must be hour or day.", code="invalid_filter")
    raw = params.get("periods")
    if raw is None:
        return granularity, granularity.default_periods
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= granularity.max_periods:
        raise BadRequest(
            f"periods must be a whole number from 1 to {granularity.max_periods} for {name}.", code="invalid_filter"
        )
    return granularity, int(raw)


def usage_of(
    *, team, subject: str, subject_id, granularity: Granularity, periods: int, now: datetime | None = None
) -> dict:
    now = now or timezone.now()
    last_start = granularity.start_of(now)
    since = last_start - granularity.step * (periods - 1)
    hours = UsageHour.objects.for_team(team).filter(subject=subject, subject_id=subject_id)
    rows = list(  # 1. the window's hours
        hours.filter(hour__gte=since)
        .order_by("hour")
        .values_list("hour", "requests", "by_status", "refusals", "routes", "last_at", "last_ip", "last_user_agent")
    )
    series = {since + granularity.step * n: _point(since + granularity.step * n) for n in range(periods)}
    totals = _point(None)
    routes: Counter[str] = Counter()
    last = None
    for hour, requests, by_status, refusals, hour_routes, last_at, last_ip, last_user_agent in rows:
        for point in (series[granularity.start_of(hour)], totals):
            point["requests"] += requests
            for status_class, count in by_status.items():
                point[status_class] = point.get(status_class, 0) + count
            for code, count in refusals.items():
                point["refusals"][code] = point["refusals"].get(code, 0) + count
        routes.update(hour_routes)
        if last_at is not None:
            last = (last_at, last_ip, last_user_agent)
    if last is None:  # 2. not used in the window: when was it last?
        last = (
            hours.filter(last_at__isnull=False)
            .order_by("-hour")
            .values_list("last_at", "last_ip", "last_user_agent")
            .first()
        )
    as_of = RollupState.objects.filter(pk=1).values_list("counted_until", flat=True).first()  # 3. as of when
    del totals["start"]
    return {
        "subject": {"type": subject, "id": subject_id},
        "granularity": granularity.name,
        "since": since,
        "until": last_start + granularity.step,
        "as_of": as_of,
        "totals": totals,
        "series": list(series.values()),
        "top_routes": [{"route": route, "requests": count} for route, count in routes.most_common(ROUTES_SHOWN)],
        "last_used": {"at": last[0], "ip": last[1], "user_agent": last[2]} if last else None,
    }


def _point(start: datetime | None) -> dict:
    return {"start": start, "requests": 0, **dict.fromkeys(STATUS_CLASSES, 0), "refusals": {}}


def team_usage(*, team, granularity: Granularity, periods: int, now: datetime | None = None) -> dict:
    return usage_of(
        team=team, subject=Subject.TEAM, subject_id=team.pk, granularity=granularity, periods=periods, now=now
    )
