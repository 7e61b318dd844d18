"""Reading the audit log: always inside one team, filtered only by indexed columns first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from infra.errors import BadRequest
from infra.params import datetime_param, uuid_param

from .models import Action, AuditEvent

STATUS_CLASSES = {"2xx": (200, 300), "3xx": (300, 400), "4xx": (400, 500), "5xx": (500, 600)}


def events_of_team(team):
    return AuditEvent.objects.for_team(team).select_related("actor")


def events_of_key(key):
    return AuditEvent.objects.for_team(key.team_id).filter(api_key=key).select_related("actor")


def apply_filters(queryset, params):
    """`action`, `key`, `integration`, `actor`, `status` (2xx/3xx/4xx/5xx), `since`, `until`. Bad values are 400."""
    return parse_filters(params).apply(queryset)


# The filters a live stream takes: the listing's, less the time range (a stream has no end, and
# where it starts is Last-Event-ID).
STREAM_FILTERS = ("action", "key", "integration", "actor", "status")
_ALL_FILTERS = (*STREAM_FILTERS, "since", "until")


@dataclass(frozen=True)
class EventFilter:
    """The audit log's filters, parsed once. The listing and a stream's replay apply them in SQL
    (`apply`); a live stream matches each event as it arrives (`matches`). Both read the same
    fields of this value, and tests/test_audit_stream.py checks that they agree."""

    action: str | None = None
    api_key_id: uuid.UUID | None = None
    integration_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    status: tuple[int, int] | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, queryset):
        if self.action is not None:
            queryset = queryset.filter(action=self.action)
        if self.api_key_id is not None:
            queryset = queryset.filter(api_key_id=self.api_key_id)
        if self.integration_id is not None:
            queryset = queryset.filter(integration_id=self.integration_id)
        if self.actor_id is not None:
            queryset = queryset.filter(actor_id=self.actor_id)
        if self.status is not None:
            queryset = queryset.filter(status_code__gte=self.status[0], status_code__lt=self.status[1])
        if self.since is not None:
            queryset = queryset.filter(created_at__gte=self.since)
        if self.until is not None:
            queryset = queryset.filter(created_at__lt=self.until)
        return queryset

    def matches(self, event: AuditEvent) -> bool:
        if self.action is not None and event.action != self.action:
            return False
        if self.api_key_id is not None and event.api_key_id != self.api_key_id:
            return False
        if self.integration_id is not None and event.integration_id != self.integration_id:
            return False
        if self.actor_id is not None and event.actor_id != self.actor_id:
            return False
        if self.status is not None and not (
            event.status_code is not None and self.status[0] <= event.status_code < self.status[1]
        ):
            return False
        if self.since is not None and event.created_at < self.since:
            return False
        return not (self.until is not None and event.created_at >= self.until)


def parse_filters(params, names: tuple[str, ...] = _ALL_FILTERS) -> EventFilter:
    """The filters among `names` in `params`; a bad value is a 400 `invalid_filter`."""
    values = {}
    if "action" in names and (action := params.get("action")) is not None:
        if action not in Action.values:
            raise BadRequest("Unknown action.", code="invalid_filter", valid_actions=Action.values)
        values["action"] = action
    if "key" in names and (key := params.get("key")) is not None:
        values["api_key_id"] = uuid_param(key, "key")
    if "integration" in names and (integration := params.get("integration")) is not None:
        values["integration_id"] = uuid_param(integration, "integration")
    if "actor" in names and (actor := params.get("actor")) is not None:
        values["actor_id"] = uuid_param(actor, "actor")
    if "status" in names and (status := params.get("status")) is not None:
        if status not in STATUS_CLASSES:
            raise BadRequest("status must be one of 2xx, 3xx, 4xx, 5xx.", code="invalid_filter")
        values["status"] = STATUS_CLASSES[status]
    if "since" in names and (since := params.get("since")) is not None:
        values["since"] = datetime_param(since, "since")
    if "until" in names and (until := params.get("until")) is not None:
        values["until"] = datetime_param(until, "until")
    return EventFilter(**values)


# --- the live stream (livestream/sse.py) -----------------------------------------------------------
# Event ids are UUIDv7: their first 48 bits are the Unix milliseconds at which the event was
# stamped, just before its INSERT, and `created_at` is set right after on the same host. So an id
# names a point in time too, and every query by id range below also bounds `created_at`, which is
# what the (team, created_at) index and the monthly partitions of PostgreSQL are organised by.
# The slack covers events whose created_at was set by hand (fixtures, imports).
STAMP_SLACK = timedelta(minutes=1)


_LAST_MILLISECOND = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp() * 1000)


def stamp_of(event_id: uuid.UUID) -> datetime:
    """When an event id was stamped (UUIDv7 milliseconds); any UUID maps to some instant (one that
    is not a UUIDv7 may say year 10000: it is kept within what a datetime holds)."""
    return datetime.fromtimestamp(min(event_id.int >> 80, _LAST_MILLISECOND) / 1000, tz=UTC)


def id_floor(moment: datetime) -> uuid.UUID:
    """The smallest id stamped at `moment` (its millisecond): `id > id_floor(t)` is every event
    stamped at t or later."""
    return uuid.UUID(int=int(moment.timestamp() * 1000) << 80)


# A stream server serves the streams of many teams at once, each team's only to its own streams.
STREAM_HUB = "a stream server's events of the teams it serves"


def events_after(*, team_id, after: uuid.UUID, event_filter: EventFilter, limit: int) -> list[AuditEvent]:
    """The team's events with an id after `after`, oldest first, at most `limit` (a stream's
    replay, one page at a time)."""
    queryset = AuditEvent.objects.for_team(team_id).filter(id__gt=after, created_at__gte=stamp_of(after) - STAMP_SLACK)
    return list(event_filter.apply(queryset).select_related("actor").order_by("id")[:limit])


def events_by_id(*, team_ids, ids: list[uuid.UUID]) -> list[AuditEvent]:
    """These events (announced as committed) of these teams, oldest first."""
    if not ids or not team_ids:
        return []
    oldest = min(stamp_of(event_id) for event_id in ids) - STAMP_SLACK
    queryset = AuditEvent.objects.across_teams(reason=STREAM_HUB).filter(
        id__in=ids, team_id__in=team_ids, created_at__gte=oldest
    )
    return list(queryset.select_related("actor").order_by("id"))


def recent_event_ids(*, team_ids, since: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(id, team id) of these teams' events created since `since`: what a stream server polls
    for, so that an announcement lost on the way never loses an event."""
    if not team_ids:
        return []
    queryset = AuditEvent.objects.across_teams(reason=STREAM_HUB).filter(team_id__in=team_ids, created_at__gte=since)
    return list(queryset.values_list("id", "team_id"))
