"""Text fields that take text only.

DRF's CharField (and so EmailField, RegexField, URLField, SlugField...) quietly turns a JSON
number into its string: `{"name": 123}` becomes "123", `{"code": 123456}` a valid code. A client
that sends a number where the schema says string made a mistake, and the answer should say so
(400 `validation_error`) rather than store something it did not mean.

The project's serializers declare their text fields from here (`strict.CharField(...)`) and derive
from `strict.ModelSerializer`, whose `serializer_field_mapping` (DRF's documented hook) builds the
same fields for model text columns. `to_internal_value` is the documented method of a custom
field; nothing of DRF's own classes is changed (tests/test_no_private_overrides.py walks for that).
"""

from django.db import models
from rest_framework import serializers


class TextOnly:
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CharField(TextOnly, serializers.CharField):
    pass


class EmailField(TextOnly, serializers.EmailField):
    pass


class RegexField(TextOnly, serializers.RegexField):
    pass


class URLField(TextOnly, serializers.URLField):
    pass


class SlugField(TextOnly, serializers.SlugField):
    pass


class BooleanField(serializers.BooleanField):
    """JSON true or false only: DRF's also takes "yes", "on", 1 and "false" (a string that reads
    as true in most languages), which a client that meant a boolean did not send on purpose."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: CharField,
        models.TextField: CharField,
        models.EmailField: EmailField,
        models.SlugField: SlugField,
        models.URLField: URLField,
    }
