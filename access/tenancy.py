"""The one way rows of a team are read: `TenantQuerySet`, the manager of every tenant-owned model.

A tenant-owned model is any model with a `team` foreign key to teams.Team (tracking's resources,
memberships, invitations, API keys, integrations, audit events). Each query on one states whose
rows it reads, in its own WHERE clause:

- `Model.objects.for_team(team)`: the rows of one team (a Team or its id), as `team_id = %s`.
  What views, serializers, selectors and services use, always with the request's team.
- `Model.objects.across_teams(reason=...)`: a deliberate read across teams, which adds nothing to
  the SQL. Only for what is not inside one team by nature: finding a credential by its digest
  before its team is known, a person's own memberships, maintenance commands. Every call names
  its reason; `grep -rn across_teams` lists them all, and each model's own short-cuts for them
  (`APIKey.objects.for_authentication`, `Membership.objects.of_user`, ...) are built on it.

Both are nodes of the query's WHERE tree, which Django carries through every later filter,
annotation, `values()`, `count()` or `exists()`. That is what tests/tenancy_guard.py checks: every
statement a request runs on a tenant table carries one of them (`for_team` with the request's
own team), or the test fails. A `filter(team=...)` written by hand reads the same rows today but
is not the mechanism, and fails the guard as well.

This lives in `access`, the lowest app that knows about teams: the models of audit (below teams)
use it too, and teams' own models cannot be imported from there.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import FullResultSet
from django.db import models
from django.db.models.lookups import Exact

TEAM_FIELD = "team"


class TeamIs(Exact):
    """`team_id = <team>`: the filter `for_team` adds, as its own lookup (`team__tenant=...`,
    registered on each tenant model's `team` field) so that the tests' guard can tell it from a
    hand-written `filter(team=...)`. Same SQL as `team_id = %s`. A lookup with a plain value, not
    an expression built per query: Django compiles it as cheaply as `filter(team_id=...)`."""

    lookup_name = "tenant"

    def as_sql(self, compiler, connection):
        # The documented way to write a custom lookup (Django's "NotEqual" example), with `=`.
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = {rhs}", (*lhs_params, *rhs_params)


class AcrossTeams(models.Expression):
    """The mark of `across_teams`: a condition that holds for every row and adds no SQL (a
    condition raising FullResultSet is left out of the WHERE clause, Django's documented signal
    for "matches everything"). It only says, in the query itself, that reading across teams here
    is deliberate, and why."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason

    def __repr__(self) -> str:
        return f"AcrossTeams({self.reason!r})"

    def as_sql(self, compiler, connection):
        raise FullResultSet


# The `team` fields TeamIs is registered on (ids: fields live as long as the process).
_TENANT_FIELDS: set[int] = set()


class TenantQuerySet(models.QuerySet):
    """The queryset (and, through `as_manager()`, the manager) of every tenant-owned model."""

    def for_team(self, team) -> TenantQuerySet:
        """This team's rows: `team` is a Team, a team id, or (in a correlated subquery) an
        `OuterRef` to the outer row's team. Never None: that would read the rows of no team
        (audit events without one), not "nothing"."""
        if team is None:
            raise ValueError("for_team() needs a team; use across_teams() for a deliberate read across teams.")
        field = self.model._meta.get_field(TEAM_FIELD)
        if hasattr(team, "resolve_expression"):  # OuterRef("team_id"): the outer row's own team
            value = team
        else:
            value = team.pk if isinstance(team, field.related_model) else team
            if not isinstance(value, uuid.UUID | str):
                raise TypeError(f"for_team() takes a Team or its id, not {type(team).__name__}.")
        if id(field) not in _TENANT_FIELDS:  # once per model: on its field only (an instance lookup)
            field.register_lookup(TeamIs)
            _TENANT_FIELDS.add(id(field))
        return self.filter(**{f"{TEAM_FIELD}__tenant": value})

    def across_teams(self, *, reason: str) -> TenantQuerySet:
        """Rows of every team, on purpose: say why (`reason`). Narrow it right away."""
        if not reason or not reason.strip():
            raise ValueError("across_teams() needs the reason why this read crosses teams.")
        return self.filter(AcrossTeams(reason))
