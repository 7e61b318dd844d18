"""The project's JSON parser: a request body is refused with a 400 `malformed_request` before any
view sees it when it nests deeper than MAX_DEPTH or holds a string that cannot be stored or echoed.

- Depth is measured on the raw text, before decoding, so a hostile body (`[[[[...`) never reaches
  the recursive decoder: the bound does not depend on the interpreter's recursion limit.
- A lone surrogate (`"\\ud800"`) is not Unicode: it cannot be encoded as UTF-8 (so it cannot be
  rendered back in an error, nor stored). A NUL (`"\\u0000"`) cannot be stored in PostgreSQL
  text. Both are refused in every string of the document, keys included, whatever the field.
"""

from __future__ import annotations

import codecs
import re
from itertools import accumulate
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

MAX_DEPTH = 64

# A JSON string, escapes included (unrolled loop: linear, no catastrophic backtracking).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_FORBIDDEN_CHAR = re.compile("[\x00\ud800-\udfff]")


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays/objects in `text`, brackets inside strings ignored."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def forbidden_character(text: str) -> str | None:
    """What in `text` no database or renderer can take (a NUL, a lone surrogate), described, or
    None. The one check behind the JSON parser and the query-string and form guard."""
    match = _FORBIDDEN_CHAR.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "a NUL character (\\u0000), which cannot be stored"
    return f"a lone surrogate (\\u{ord(match.group()):04x}), which is not valid Unicode"


def check_strings(data: Any) -> None:
    """Raise ParseError if any key or string value holds a NUL or a lone surrogate.

    Iterative, so it does not recurse whatever the document (its depth is already bounded)."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            strings, where = [item], "a value"
        elif isinstance(item, dict):
            strings, where = list(item.keys()), "a key"
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
            continue
        else:
            continue
        for string in strings:
            if (what := forbidden_character(string)) is not None:
                raise ParseError(f"JSON parse error - {where} contains {what}.")


class JSONParser(parsers.JSONParser):
    max_depth = MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parsers.get_encoding(parser_context)
        try:
            text = codecs.decode(stream.read(), encoding)
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - the body is not valid {encoding}.") from exc
        if nesting_depth(text) > self.max_depth:
            raise ParseError(f"JSON parse error - the document nests deeper than {self.max_depth} levels.")
        try:
            parse_constant = json.strict_constant if self.strict else None
            data = json.loads(text, parse_constant=parse_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:  # unreachable with the depth bound; never a 500 regardless
            raise ParseError("JSON parse error - the document nests too deeply.") from exc
        check_strings(data)
        return data
