"""Text fields take text only.

DRF's CharField (and so EmailField, RegexField, URLField, SlugField...) quietly turns a JSON
number into its string: `{"name": 123}` becomes "123", `{"code": 123456}` a valid code. A client
that sends a number where the schema says string made a mistake, and the answer should say so
(400 `validation_error`) rather than store something it did not mean. Applied once, at start-up
(infra.apps), to the base class where the coercion happens.
"""

from rest_framework import fields

_original = fields.CharField.to_internal_value


def _text_only(self, data):
    if not isinstance(data, str):
        self.fail("invalid")
    return _original(self, data)


def apply() -> None:
    fields.CharField.to_internal_value = _text_only
