"""Parsing query parameters: a bad value is a 400 `invalid_filter`, never a 500 or an empty page."""

import contextlib
import uuid
from datetime import datetime

from django.utils.dateparse import parse_datetime

from .errors import BadRequest


def uuid_param(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a UUID.", code="invalid_filter") from exc


def datetime_param(value: str, name: str) -> datetime:
    parsed = None
    with contextlib.suppress(ValueError):
        parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise BadRequest(f"{name} must be an ISO 8601 datetime with a timezone.", code="invalid_filter")
    return parsed
