"""The tests' runtime guard of tenancy: every statement a request runs on a tenant table goes
through access.tenancy (`for_team` with the request's own team, or a named `across_teams`).

config/test_settings.py puts `TenancyGuardMiddleware` first, so every request the suite makes
with Django's or DRF's test client (WSGI or, with tests.asgi_client, ASGI) is checked, from the
first middleware to the last. A statement that breaks the rule is refused before it runs
(`TenancyViolation`) and, since a view's exception becomes a 500 on its way out, raised again by
the middleware once the response is made, so the test fails with the offending query named.

Why a check of the executed query, rather than of the source (an AST grep) or of querysets:
- It sees what actually runs, whichever way it was built: a view's `get_queryset`, a serializer
  field, a selector, a service, a related manager (`user.memberships`), `count()`/`exists()`
  and subqueries (`pk__in=`, `Subquery`) alike. A grep sees none of the paths it was not taught.
- It checks the query's own WHERE tree, not a flag beside it: `for_team` adds its filter as a
  `TeamIs` node and `across_teams` an `AcrossTeams` node (access/tenancy.py), which Django's
  query cloning carries through every later step, so nothing can drop the mark and keep the
  query, and a hand-written `filter(team=...)` (the same SQL, but not the mechanism) is refused.
- It compares the team of `for_team` with the request's team (`request.access.team`, or the
  Content key's integration), once that is known: `for_team(some_other_team)` is refused too.

Django gives a statement's hooks (`connection.execute_wrapper`) the SQL, not the query object:
the guard finds the query on the stack, in the frame of `SQLCompiler.execute_sql`, every ORM
statement's way to the database. That reads Django's frames without changing any of its code
(no monkeypatch, nothing overridden). SQL run without the ORM is refused when it reads or writes
a tenant table.

Not checked: statements that an execute_wrapper runs while another is under way (tests that
simulate a concurrent client do, from inside the request); INSERTs (a new row names its team:
the services take it from the request); what Django itself runs for an instance the code
already holds, with only Django's own code in between (`save()`'s UPDATE, `refresh_from_db()`,
following a foreign key, a delete's cascade): the instance was read through the mechanism. A
queryset's `delete()` is checked on that queryset. Not guarded: Django admin (operators, across
teams by design).
"""

from __future__ import annotations

import inspect
import uuid
from contextvars import ContextVar

from django.db import connections
from django.db.backends.utils import CursorWrapper
from django.db.models import Model, QuerySet
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
from django.db.models.lookups import Exact, Lookup
from django.db.models.sql import AggregateQuery, InsertQuery, Query
from django.db.models.sql.compiler import SQLCompiler, SQLInsertCompiler
from django.db.models.sql.where import AND, WhereNode

from access.tenancy import TEAM_FIELD, AcrossTeams, TeamIs
from infra import request_context

# The live audit stream (and its token) read events and tokens by id for teams they checked
# themselves; another change moves them into their own app, where they adopt the mechanism.

_CURSOR = {CursorWrapper.execute.__code__, CursorWrapper.executemany.__code__}
_EXECUTE = SQLCompiler.execute_sql.__code__
_INSERT = SQLInsertCompiler.execute_sql.__code__
# Django's own statements for an instance already in hand.
_FOR_AN_INSTANCE = {
    Model.save_base.__code__,
    Model.refresh_from_db.__code__,
    Model.delete.__code__,
    ForwardManyToOneDescriptor.get_object.__code__,
}
_QUERYSET_DELETE = QuerySet.delete.__code__


class TenancyViolation(AssertionError):
    pass


def tenant_models() -> set[type[Model]]:
    """Every model with a `team` foreign key to teams.Team: the tables the guard watches."""
    from django.apps import apps

    team = apps.get_model("teams", "Team")
    return {
        model
        for model in apps.get_models()
        if any(field.many_to_one and field.related_model is team for field in model._meta.get_fields())
    }


# The guard of the request being handled in this context (thread, or task under ASGI).
_current: ContextVar[Guard | None] = ContextVar("tenancy_guard", default=None)


def dispatch(execute, sql, params, many, context):
    """The execute wrapper: hands the statement to the current request's guard, if any.

    Installed once on each connection, first (outermost), and left there, rather than with the
    `connection.execute_wrapper()` context manager per request: that one removes the *last*
    wrapper on exit, and on PostgreSQL a connection opened during the request gets
    infra.prepared's wrapper appended after ours. First, so that a test's own
    `execute_wrapper()` around a request still removes its own wrapper. A context variable says
    which request a statement belongs to (a live server's requests may share a connection)."""
    guard = _current.get()
    if guard is None:
        return execute(sql, params, many, context)
    return guard(execute, sql, params, many, context)


class TenancyGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        models = tenant_models()
        self.models = models
        self.tables = {model._meta.db_table for model in models}

    def __call__(self, request):
        for alias in connections:
            wrappers = connections[alias].execute_wrappers
            if dispatch not in wrappers:
                wrappers.insert(0, dispatch)
        guard = Guard(request, self.models, self.tables)
        token = _current.set(guard)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        if guard.violations:
            raise TenancyViolation("\n".join(guard.violations))
        return response


class Guard:
    def __init__(self, request, models, tables):
        self.request = request
        self.models = models
        self.tables = tables
        self.violations: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        problems = [] if self._exempt() else self.check(sql)
        if problems:
            message = f"{self.request.method} {self.request.path}: " + "; ".join(problems) + f"\n    SQL: {sql}"
            self.violations.append(message)
            raise TenancyViolation(message)
        return execute(sql, params, many, context)

    def _exempt(self) -> bool:
        match = getattr(self.request, "resolver_match", None)
        return match is not None and "admin" in match.namespaces

    def team_id(self):
        """The request's team once it is known: the team step's, or the Content key's."""
        access = getattr(self.request, "access", None)
        if access is not None and access.team is not None:
            return access.team.pk
        context = request_context.current()
        if context is not None and context.integration_key == "content" and context.integration is not None:
            return context.integration.team_id
        return None

    def check(self, sql: str) -> list[str]:
        if _statements_under_way() > 1:
            return []  # run by an execute_wrapper in the middle of another: a test's simulated other client
        frame = inspect.currentframe()
        while frame is not None and frame.f_code is not _EXECUTE:
            if frame.f_code is _INSERT:
                return []
            frame = frame.f_back
        if frame is None:
            return self.check_raw(sql)
        query = frame.f_locals["self"].query
        if isinstance(query, InsertQuery):
            return []
        frame = frame.f_back
        while frame is not None and _django(frame):
            if frame.f_code in _FOR_AN_INSTANCE:
                return []
            if frame.f_code is _QUERYSET_DELETE:
                return self.unmarked(frame.f_locals["self"].query)
            frame = frame.f_back
        return self.unmarked(query)

    def check_raw(self, sql: str) -> list[str]:
        words = sql.lstrip().split(None, 1)
        if not words or words[0].upper() not in ("SELECT", "UPDATE", "DELETE", "WITH"):
            return []
        touched = sorted(table for table in self.tables if f'"{table}"' in sql or f" {table} " in f" {sql} ")
        return [f"raw SQL on tenant table {table}" for table in touched]

    def unmarked(self, query: Query, nested: bool = False) -> list[str]:
        """Why this query (and each tenant query inside it) is not read through the mechanism."""
        if isinstance(query, AggregateQuery):  # count() over a subquery: the inner query reads
            return self.unmarked(query.inner_query, nested)
        if query.combinator:
            return [problem for part in query.combined_queries for problem in self.unmarked(part, nested)]
        problems = []
        if query.model in self.models:
            mark = tenancy_of(query)
            name = query.model.__name__
            if mark is None:
                problems.append(f"{name} read without for_team() or across_teams()")
            elif isinstance(mark, AcrossTeams):
                return []  # a deliberate read across teams: the whole statement
            elif hasattr(mark, "resolve_expression"):  # an outer reference: the outer row's team
                if not nested:
                    problems.append(f"{name}: for_team() with an outer reference outside a subquery")
            elif (team_id := self.team_id()) is not None and _uuid(mark) != _uuid(team_id):
                problems.append(f"{name} read for team {mark}, not the request's team {team_id}")
        for inner in nested_queries(query):
            problems.extend(self.unmarked(inner, nested=True))
        return problems


def _statements_under_way() -> int:
    frame, count = inspect.currentframe(), 0
    while frame is not None:
        count += frame.f_code in _CURSOR
        frame = frame.f_back
    return count


def _django(frame) -> bool:
    return frame.f_globals.get("__name__", "").split(".")[0] == "django"


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def tenancy_of(query: Query):
    """The rhs of the query's `for_team` filter (the team id, or an outer reference), its
    AcrossTeams mark, or None. Only conditions every row must meet count: the top of the WHERE
    tree and its AND branches, never an OR or a NOT."""
    team_field = query.model._meta.get_field(TEAM_FIELD)
    base = next(iter(query.alias_map), None)
    nodes = [query.where]
    while nodes:
        node = nodes.pop()
        if node.negated or (node.connector != AND and len(node.children) > 1):
            continue
        for child in node.children:
            if isinstance(child, WhereNode):
                nodes.append(child)
            elif isinstance(child, TeamIs) and getattr(child.lhs, "target", None) is team_field:
                if child.lhs.alias == base:
                    return child.rhs
            elif isinstance(child, Exact) and isinstance(child.lhs, AcrossTeams) and child.rhs is True:
                return child.lhs
    return None


def nested_queries(query: Query):
    """The queries inside this one's WHERE and annotations (`pk__in=queryset`, Subquery, Exists)."""
    pending = [query.where, *query.annotations.values()]
    while pending:
        expression = pending.pop()
        if isinstance(expression, Query):
            yield expression
            continue
        inner = getattr(expression, "query", None)
        if isinstance(inner, Query):
            yield inner
            continue
        if isinstance(expression, WhereNode):
            pending.extend(expression.children)
        elif isinstance(expression, Lookup):
            pending.extend([expression.lhs, expression.rhs])
        elif hasattr(expression, "get_source_expressions"):
            pending.extend(expression.get_source_expressions())
