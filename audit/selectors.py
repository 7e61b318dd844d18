"""Reading the audit log: always inside one team, filtered only by indexed columns first."""

from __future__ import annotations

from infra.errors import BadRequest
from infra.params import datetime_param, uuid_param

from .models import Action, AuditEvent

STATUS_CLASSES = {"2xx": (200, 300), "3xx": (300, 400), "4xx": (400, 500), "5xx": (500, 600)}


def events_of_team(team):
    return AuditEvent.objects.filter(team=team).select_related("actor")


def events_of_key(key):
    return AuditEvent.objects.filter(team_id=key.team_id, api_key=key).select_related("actor")


def apply_filters(queryset, params):
    """`action`, `key`, `integration`, `actor`, `status` (2xx/3xx/4xx/5xx), `since`, `until`. Bad values are 400."""
    if (action := params.get("action")) is not None:
        if action not in Action.values:
            raise BadRequest("Unknown action.", code="invalid_filter", valid_actions=Action.values)
        queryset = queryset.filter(action=action)
    if (key := params.get("key")) is not None:
        queryset = queryset.filter(api_key_id=uuid_param(key, "key"))
    if (integration := params.get("integration")) is not None:
        queryset = queryset.filter(integration_id=uuid_param(integration, "integration"))
    if (actor := params.get("actor")) is not None:
        queryset = queryset.filter(actor_id=uuid_param(actor, "actor"))
    if (status := params.get("status")) is not None:
        if status not in STATUS_CLASSES:
            raise BadRequest("status must be one of 2xx, 3xx, 4xx, 5xx.", code="invalid_filter")
        low, high = STATUS_CLASSES[status]
        queryset = queryset.filter(status_code__gte=low, status_code__lt=high)
    if (since := params.get("since")) is not None:
        queryset = queryset.filter(created_at__gte=datetime_param(since, "since"))
    if (until := params.get("until")) is not None:
        queryset = queryset.filter(created_at__lt=datetime_param(until, "until"))
    return queryset
