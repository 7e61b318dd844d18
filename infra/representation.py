"""Serializing rows for reading without rebuilding the serializer's fields on every request.

DRF builds a ModelSerializer's fields for every serializer instance: `get_fields()` introspects
the model and deep-copies the declared fields, once per request for a list. On the key request of
bench/ that was a tenth of the CPU. A representation only reads the instance, so the fields built
once per class give the same answer: each field's own `get_attribute` and `to_representation`,
with DRF's rules for None. Only field classes whose output depends on nothing but the value are
reused (see _PURE); a serializer with any other readable field keeps DRF's path.

A timestamp's text depends on one more thing, the current time zone, which Django keeps in an
asgiref Local: reading it cost about 10 µs, twice per row of a page. A list reads it once for the
whole page (ListRepresentation), and a timestamp in DRF's default ISO 8601 format is written the
way DRF writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from rest_framework import ISO_8601, fields, relations, serializers
from rest_framework.fields import SkipField
from rest_framework.settings import api_settings

# Field classes whose to_representation is a pure function of the value (no request, no
# context, no parent): reusing one bound instance across requests is the same as a new one.
_PURE = (
    fields.BooleanField,
    fields.CharField,  # EmailField, URLField, SlugField, RegexField
    fields.ChoiceField,
    fields.DateTimeField,
    fields.DecimalField,
    fields.IntegerField,
    fields.UUIDField,
)


# A reader takes the instance and the current time zone.
Reader = Callable[[Any, Any], Any]


def _plan(serializer_class) -> list[tuple[str, Reader]] | None:
    readers: list[tuple[str, Reader]] = []
    for field in serializer_class()._readable_fields:
        if isinstance(field, relations.PrimaryKeyRelatedField) and field.pk_field is None:
            # DRF reads only the pk of a relation (its pk-only optimization) and renders it as is.
            attname = field.parent.Meta.model._meta.get_field(field.source).attname
            readers.append((field.field_name, _attribute(attname)))
        elif _is_iso_timestamp(field):
            readers.append((field.field_name, _timestamp(field)))
        elif isinstance(field, _PURE) and not isinstance(field, fields.ListField):
            readers.append((field.field_name, _through(field)))
        else:
            return None
    return readers


def _attribute(attname: str) -> Reader:
    return lambda instance, tz: getattr(instance, attname)


def _through(field) -> Reader:
    def read(instance, tz):
        value = field.get_attribute(instance)
        return None if value is None else field.to_representation(value)

    return read


def _is_iso_timestamp(field) -> bool:
    """A plain DateTimeField in DRF's default format, converted to the current time zone."""
    return (
        type(field) is fields.DateTimeField
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
        and not hasattr(field, "timezone")
    )


def _timestamp(field) -> Reader:
    """DRF's DateTimeField.to_representation for an aware datetime, with the time zone given
    instead of looked up; anything else (naive, a string, a date out of range) goes to DRF."""

    def read(instance, tz):
        value = field.get_attribute(instance)
        if not value:
            return None
        if tz is None or type(value) is not datetime or value.tzinfo is None:
            return field.to_representation(value)
        try:
            text = value.astimezone(tz).isoformat()
        except OverflowError:
            return field.to_representation(value)
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return read


def _current_timezone():
    # What DRF's DateTimeField.default_timezone() answers.
    return timezone.get_current_timezone() if settings.USE_TZ else None


class ListRepresentation(serializers.ListSerializer):
    """A list of RepresentationFromClassFields rows: one time zone lookup for the page."""

    def to_representation(self, data):
        plan = self.child._class_plan()
        if plan is None:
            return super().to_representation(data)
        rows = data.all() if isinstance(data, models.manager.BaseManager) else data
        tz = _current_timezone()
        return [self.child._represent(row, plan, tz) for row in rows]


# ModelSerializer mixin: `to_representation` with the fields built once per class. (A comment, not
# a docstring: drf-spectacular would publish a docstring as every schema's description.) Its Meta
# names `list_serializer_class = ListRepresentation` so that a page looks the time zone up once.
class RepresentationFromClassFields:
    @classmethod
    def _class_plan(cls):
        plan = cls.__dict__.get("_representation_plan", False)
        if plan is False:
            plan = _plan(cls)
            cls._representation_plan = plan
        return plan

    def to_representation(self, instance):
        plan = self._class_plan()
        if plan is None:
            return super().to_representation(instance)
        return self._represent(instance, plan, _current_timezone())

    @staticmethod
    def _represent(instance, plan, tz) -> dict:
        representation = {}
        for name, read in plan:
            try:
                representation[name] = read(instance, tz)
            except SkipField:
                continue
        return representation
