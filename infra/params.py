"""Parsing query parameters: a bad value is a 400 `invalid_filter`, never a 500 or an empty page."""

import contextlib
import uuid
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

from infra.errors import BadRequest


def uuid_param(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a UUID.", code="invalid_filter") from exc


def datetime_param(value: str, name: str) -> datetime:
    """An aware datetime, converted to UTC here: an offset that pushes it out of the representable
    range (`0001-01-01T00:00:00+23:59`) is a 400, and the database never sees an exotic offset."""
    parsed = None
    with contextlib.suppress(ValueError):
        parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise BadRequest(f"{name} must be an ISO 8601 datetime with a timezone.", code="invalid_filter")
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise BadRequest(
            f"{name} is out of the supported date range once converted to UTC.", code="invalid_filter"
        ) from exc
