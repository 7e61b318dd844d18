"""`?filter=` of the Content API in Ghost's NQL, turned into a Django `Q` over declared fields only.

    name:'Spring Sale'            equal (quoted: any character; \\' for a quote)
    slug:spring-sale              equal (unquoted literal: no spaces nor '"+,()<>=[]~ unless escaped)
    name:-'Spring Sale'           not equal
    slug:[spring,summer]          in the list;  slug:-[spring,summer]  not in it
    name:~'sale'  ~^'spr'  ~$'ale' contains / starts with / ends with (any case); -~ negates
    name:>'M'  >=  <  <=          compared
    offer.id:null                 no value
    a:1+b:2                       and;  a:1,b:2  or (and binds tighter);  (a:1,b:2)+c:3  grouped

PyPI has no NQL parser for Python (Ghost's is JavaScript: @tryghost/nql-lang, a jison grammar), so
the grammar is written here, after Ghost's, for lark (a maintained parser library); what a field
accepts is checked after parsing. Every way a filter can be wrong is a `FilterError` with its own
code, never an exception of the parser and never a filter that is silently dropped.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.db.models import Q
from lark import Lark, Token, Transformer, Tree
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

# A filter longer than this, or nested deeper, is refused before or after parsing (a query string
# is also bounded by the HTTP server: 4094 bytes per request line with gunicorn).
MAX_LENGTH = 2000
MAX_DEPTH = 10
MAX_CONDITIONS = 50

GRAMMAR = r"""
    ?start: or_expr
    ?or_expr: and_expr ("," and_expr)*
    ?and_expr: term ("+" term)*
    ?term: "(" or_expr ")"
         | condition
    condition: PROPERTY NOT? OPERATOR? value               -> compare
             | PROPERTY NOT? "[" value ("," value)* "]"    -> one_of
    ?value: STRING | LITERAL

    PROPERTY: /[a-zA-Z_][a-zA-Z0-9_.]*:/
    NOT: "-"
    OPERATOR: />=|<=|>|<|~\^|~\$|~/
    STRING: /'(?:[^'\\]|\\.)*'/
    LITERAL: /(?:[^\s'"+,()<>=\[\]~\\-]|\\.)(?:[^\s'"+,()<>=\[\]~\\]|\\.)*/

    %ignore /\s+/
"""

PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)
ESCAPED = re.compile(r"\\(.)", re.DOTALL)

LOOKUPS = {
    None: "exact",
    ">": "gt",
    ">=": "gte",
    "<": "lt",
    "<=": "lte",
    "~": "icontains",
    "~^": "istartswith",
    "~$": "iendswith",
}


class FilterError(Exception):
    """A filter that cannot be applied: `code` (declared in infra.errors) and a message saying why."""

    def __init__(self, code: str, message: str, **extra) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


@dataclass(frozen=True)
class Field:
    """A filterable public field: the model lookup it reads and the kind of its values.

    kind: "text" (every operator), "uuid" (equal, not equal, lists, null) or "choice" (the same,
    with `choices` the only values)."""

    lookup: str
    kind: str = "text"
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Value:
    text: str
    quoted: bool

    @property
    def is_null(self) -> bool:
        return not self.quoted and self.text.lower() == "null"


def parse(text: str, fields: dict[str, Field]) -> Q:
    """The `Q` of filter `text` over `fields`, or FilterError."""
    if len(text) > MAX_LENGTH:
        raise FilterError("filter_syntax_error", f"The filter is longer than {MAX_LENGTH} characters.")
    if not text.strip():
        raise FilterError("filter_syntax_error", "The filter is empty.", position=0)
    try:
        tree = PARSER.parse(text)
    except UnexpectedInput as exc:
        raise FilterError("filter_syntax_error", _describe(exc, text), position=_position(exc, text)) from None
    except LarkError:
        raise FilterError("filter_syntax_error", "The filter cannot be parsed.") from None
    _check_size(tree)
    try:
        return _ToQ(fields).transform(tree)
    except VisitError as exc:  # lark wraps what a transformer method raises
        if isinstance(exc.orig_exc, FilterError):
            raise exc.orig_exc from None
        raise


TERMINALS = {
    "PROPERTY": "field:",
    "STRING": "a 'quoted' value",
    "LITERAL": "a value",
    "NOT": "-",
    "OPERATOR": "an operator (> >= < <= ~ ~^ ~$)",
    "LPAR": "(",
    "RPAR": ")",
    "LSQB": "[",
    "RSQB": "]",
    "COMMA": ",",
    "PLUS": "+",
    "$END": "the end",
}


def _at_end(exc: UnexpectedInput, text: str) -> bool:
    if isinstance(exc, UnexpectedEOF):
        return True
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        return True
    return (getattr(exc, "pos_in_stream", None) or 0) >= len(text)


def _position(exc: UnexpectedInput, text: str) -> int:
    if _at_end(exc, text):
        return len(text)
    return int(getattr(exc, "pos_in_stream", None) or 0)


def _describe(exc: UnexpectedInput, text: str) -> str:
    if _at_end(exc, text):
        return "The filter ends too soon (an unfinished condition, list, string or group)."
    position = _position(exc, text)
    found = text[position : position + 10]
    expected = sorted({TERMINALS.get(name, name) for name in getattr(exc, "expected", None) or ()})
    if isinstance(exc, UnexpectedCharacters) and not expected:
        expected = sorted({TERMINALS.get(name, name) for name in exc.allowed or ()})
    hint = f"; expected {' or '.join(expected)}" if expected else ""
    return f"The filter cannot be parsed at character {position + 1} ({found!r}){hint}."


def _check_size(tree: Tree) -> None:
    conditions = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FilterError("filter_syntax_error", f"The filter nests deeper than {MAX_DEPTH} levels.")
        if node.data in ("compare", "one_of"):
            conditions += 1
            continue
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    if conditions > MAX_CONDITIONS:
        raise FilterError("filter_syntax_error", f"The filter has more than {MAX_CONDITIONS} conditions.")


def _unquote(token: Token) -> _Value:
    raw = str(token)
    if token.type == "STRING":
        return _Value(ESCAPED.sub(r"\1", raw[1:-1]), quoted=True)
    return _Value(ESCAPED.sub(r"\1", raw), quoted=False)


class _ToQ(Transformer):
    def __init__(self, fields: dict[str, Field]) -> None:
        super().__init__()
        self.fields = fields

    def or_expr(self, children):
        result = children[0]
        for child in children[1:]:
            result |= child
        return result

    def and_expr(self, children):
        result = children[0]
        for child in children[1:]:
            result &= child
        return result

    def compare(self, children):
        name, negated, operator, value = self._parts(children)
        field = self._field(name)
        value = _unquote(value)
        if value.is_null:
            if operator is not None:
                raise FilterError("filter_operator_invalid", f"`{name}` can only be compared with null by : or :-.")
            condition = Q(**{f"{field.lookup}__isnull": True})
        else:
            lookup = LOOKUPS[operator]
            if field.kind != "text" and lookup != "exact":
                raise FilterError(
                    "filter_operator_invalid",
                    f"`{name}` takes only equality (:, :-) and lists ([...]), not {operator}.",
                )
            condition = Q(**{f"{field.lookup}__{lookup}": self._value(name, field, value)})
        return ~condition if negated else condition

    def one_of(self, children):
        name = str(children[0])[:-1].lower()
        negated = len(children) > 1 and isinstance(children[1], Token) and children[1].type == "NOT"
        field = self._field(name)
        values = [_unquote(child) for child in children[2 if negated else 1 :]]
        if any(value.is_null for value in values):
            raise FilterError("filter_value_invalid", f"A list for `{name}` cannot hold null; use {name}:null.")
        condition = Q(**{f"{field.lookup}__in": [self._value(name, field, value) for value in values]})
        return ~condition if negated else condition

    @staticmethod
    def _parts(children):
        name = str(children[0])[:-1].lower()
        negated = operator = None
        for child in children[1:-1]:
            if child.type == "NOT":
                negated = True
            else:
                operator = str(child)
        return name, bool(negated), operator, children[-1]

    def _field(self, name: str) -> Field:
        field = self.fields.get(name)
        if field is None:
            raise FilterError(
                "filter_field_unknown",
                f"`{name[:40]}` cannot be filtered on here.",
                filterable=sorted(self.fields),
            )
        return field

    @staticmethod
    def _value(name: str, field: Field, value: _Value):
        if "\x00" in value.text:  # PostgreSQL refuses NUL in a string
            raise FilterError("filter_value_invalid", f"A value for `{name}` cannot contain a NUL character.")
        if field.kind == "uuid":
            try:
                return uuid.UUID(value.text)
            except ValueError:
                raise FilterError("filter_value_invalid", f"`{name}` takes an id (a UUID).") from None
        if field.kind == "choice" and value.text not in field.choices:
            raise FilterError(
                "filter_value_invalid", f"`{name}` is one of: {', '.join(field.choices)}.", allowed=list(field.choices)
            )
        return value.text
