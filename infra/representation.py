"""Serializing rows for reading without rebuilding the serializer's fields on every request.

DRF builds a ModelSerializer's fields for every serializer instance: `get_fields()` introspects
the model and deep-copies the declared fields, once per request for a list. On the key request of
bench/ that was a tenth of the CPU. A representation only reads the instance, so the fields built
once per class give the same answer: each field's own `get_attribute` and `to_representation`,
with DRF's rules for None. Only field classes whose output depends on nothing but the value are
reused (see _PURE); a serializer with any other readable field keeps DRF's path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import fields, relations
from rest_framework.fields import SkipField

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


def _plan(serializer_class) -> list[tuple[str, Callable[[Any], Any]]] | None:
    readers: list[tuple[str, Callable[[Any], Any]]] = []
    for field in serializer_class()._readable_fields:
        if isinstance(field, relations.PrimaryKeyRelatedField) and field.pk_field is None:
            # DRF reads only the pk of a relation (its pk-only optimization) and renders it as is.
            attname = field.parent.Meta.model._meta.get_field(field.source).attname
            readers.append((field.field_name, _attribute(attname)))
        elif isinstance(field, _PURE) and not isinstance(field, fields.ListField):
            readers.append((field.field_name, _through(field)))
        else:
            return None
    return readers


def _attribute(attname: str) -> Callable[[Any], Any]:
    return lambda instance: getattr(instance, attname)


def _through(field) -> Callable[[Any], Any]:
    def read(instance):
        value = field.get_attribute(instance)
        return None if value is None else field.to_representation(value)

    return read


# ModelSerializer mixin: `to_representation` with the fields built once per class. (A comment, not
# a docstring: drf-spectacular would publish a docstring as every schema's description.)
class RepresentationFromClassFields:
    def to_representation(self, instance):
        cls = type(self)
        plan = cls.__dict__.get("_representation_plan", False)
        if plan is False:
            plan = _plan(cls)
            cls._representation_plan = plan
        if plan is None:
            return super().to_representation(instance)
        representation = {}
        for name, read in plan:
            try:
                representation[name] = read(instance)
            except SkipField:
                continue
        return representation
