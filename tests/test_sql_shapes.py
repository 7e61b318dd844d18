"""SELECTs compiled once per shape (infra/postgresql/compiler.py) are exactly Django's SQL, for
every kind of query, and never carry one request's values into another's: the WHERE clause is
always compiled afresh. The compiler is the PostgreSQL backend's; these tests drive it directly,
so they run on either database."""

import pytest
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.backends.postgresql.compiler import SQLCompiler as PostgreSQLCompiler
from django.db.models import Count, F, FilteredRelation, OuterRef, Q, Subquery
from django.db.models.sql.compiler import SQLCompiler as BaseCompiler

from audit.models import AuditEvent
from infra.postgresql import base, compiler
from teams.models import Team
from tracking.models import Campaign, Domain

STOCK = PostgreSQLCompiler if connection.vendor == "postgresql" else BaseCompiler

QUERIES = {
    "a list page": lambda team: Campaign.objects.for_team(team).order_by("-created_at", "-id")[:11],
    "a page of another size": lambda team: Campaign.objects.for_team(team).order_by("-created_at", "-id")[:3],
    "an offset page": lambda team: Campaign.objects.for_team(team).order_by("-created_at", "-id")[2:5],
    "a cursor position": lambda team: (
        Campaign.objects.for_team(team)
        .filter(created_at__lt="2999-01-01T00:00:00Z")
        .order_by("-created_at", "-id")[:11]
    ),
    "a reversed page": lambda team: Campaign.objects.for_team(team).order_by("-created_at", "-id").reverse()[:11],
    "the other direction": lambda team: Campaign.objects.for_team(team).order_by("created_at", "id")[:11],
    "filters": lambda team: Campaign.objects.for_team(team).filter(status="active", name__icontains="50%_x")[:11],
    "a null filter": lambda team: Campaign.objects.for_team(team).filter(domain=None).order_by("name"),
    "or and not": lambda team: Campaign.objects.for_team(team).filter(Q(name="a") | ~Q(status="paused")),
    "an empty in": lambda team: Campaign.objects.for_team(team).filter(id__in=[]),
    "an in list": lambda team: Campaign.objects.for_team(team).filter(name__in=["a", "b", "c"]),
    "a subquery": lambda team: Campaign.objects.filter(
        team_id__in=Subquery(Team.objects.filter(pk=team.pk).values("pk"))
    ),
    "a join in the filter": lambda team: Campaign.objects.filter(team__name=team.name),
    "a join in the ordering": lambda team: Campaign.objects.for_team(team).order_by("domain__hostname"),
    "select_related": lambda team: Campaign.objects.for_team(team).select_related("domain"),
    "only": lambda team: Campaign.objects.for_team(team).only("name"),
    "defer": lambda team: Campaign.objects.for_team(team).defer("name"),
    "values": lambda team: Campaign.objects.for_team(team).values("name"),
    "values_list": lambda team: Campaign.objects.for_team(team).values_list("id", flat=True),
    "an annotation": lambda team: Campaign.objects.for_team(team).annotate(n=Count("id")),
    "an alias ordering": lambda team: Campaign.objects.for_team(team).annotate(x=F("name")).order_by("x"),
    "an expression ordering": lambda team: Campaign.objects.for_team(team).order_by(F("name").desc()),
    "a random ordering": lambda team: Campaign.objects.for_team(team).order_by("?"),
    "distinct": lambda team: Campaign.objects.for_team(team).distinct(),
    "extra": lambda team: Campaign.objects.for_team(team).extra(select={"one": "1"}),
    "extra tables": lambda team: Campaign.objects.for_team(team).extra(
        tables=["teams_team"], where=["teams_team.id = tracking_campaign.team_id"]
    ),
    "a correlated subquery": lambda team: Domain.objects.for_team(team).annotate(
        first=Subquery(Campaign.objects.filter(domain=OuterRef("pk")).values("name")[:1])
    ),
    # Ordering by a relation joins while compiling, INNER or LEFT after what the filters joined.
    "ordered by a relation, after a join": lambda team: AuditEvent.objects.filter(team=team).order_by("team"),
    "ordered by a relation, no join": lambda team: AuditEvent.objects.filter(team=None).order_by("team"),
    "ordered by a relation, excluded": lambda team: AuditEvent.objects.exclude(team=team).order_by("-team"),
    "a filtered relation": lambda team: (
        Campaign.objects.annotate(d=FilteredRelation("domain", condition=Q(domain__hostname__isnull=False)))
        .filter(team=team)
        .order_by("d")
    ),
    "another filtered relation": lambda team: (
        Campaign.objects.annotate(d=FilteredRelation("offer", condition=Q(offer__name__isnull=False)))
        .filter(team=team)
        .order_by("d")
    ),
    "no filter": lambda team: Campaign.objects.order_by("-created_at")[:5],
    "no ordering": lambda team: Campaign.objects.for_team(team),
    "the model's ordering": lambda team: Team.objects.filter(name=team.name),
}


@pytest.fixture(autouse=True)
def _no_shapes_yet(monkeypatch):
    monkeypatch.setattr(compiler, "_shapes", {})


def _sql(compiler_class, queryset):
    try:
        return compiler_class(queryset.query, connection, queryset.db).as_sql()
    except EmptyResultSet:  # what `filter(id__in=[])` compiles to: no query at all
        return EmptyResultSet


@pytest.mark.django_db
@pytest.mark.parametrize("name", QUERIES)
def test_it_compiles_exactly_what_django_compiles(name, team, other_team):
    build = QUERIES[name]
    Campaign.objects.create(team=team, name="a")
    for current in (team, other_team, team):  # the first compilation, then the cached shape
        expected = _sql(STOCK, build(current))
        assert _sql(compiler.SQLCompiler, build(current)) == expected


@pytest.mark.django_db
def test_shapes_never_stand_in_for_one_another(team, other_team):
    # All the queries through one cache, twice over: a shape that left out something its SQL
    # depends on (the slice, the ordering, its direction, the model) would answer for another.
    for current in (team, other_team):
        for build in QUERIES.values():
            assert _sql(compiler.SQLCompiler, build(current)) == _sql(STOCK, build(current))
    assert len(compiler._shapes) >= 5


@pytest.mark.django_db
def test_a_shape_is_compiled_once_and_then_only_its_where_clause(team, monkeypatch):
    page = QUERIES["a list page"]
    expected = _sql(STOCK, page(team))
    _sql(compiler.SQLCompiler, page(team))
    assert len(compiler._shapes) == 1

    def django_compiles(*args, **kwargs):
        raise AssertionError("the cached shape was not used")

    monkeypatch.setattr(PostgreSQLCompiler, "as_sql", django_compiles)
    assert _sql(compiler.SQLCompiler, page(team)) == expected
    assert len(compiler._shapes) == 1


@pytest.mark.django_db
def test_the_cached_shape_never_answers_with_another_teams_rows(team, other_team):
    mine = Campaign.objects.create(team=team, name="mine")
    theirs = Campaign.objects.create(team=other_team, name="theirs")
    for current, row in ((team, mine), (other_team, theirs), (team, mine)):
        queryset = QUERIES["a list page"](current)
        rows = list(compiler.SQLCompiler(queryset.query, connection, queryset.db).results_iter())
        assert [r[0] for r in rows] == [row.pk]
    assert len(compiler._shapes) == 1


@pytest.mark.django_db(transaction=True)
def test_locking_reads_are_not_cached(team):
    with transaction.atomic():
        queryset = Campaign.objects.for_team(team).select_for_update()
        assert _sql(compiler.SQLCompiler, queryset) == _sql(STOCK, queryset)
    assert compiler._shapes == {}


def test_the_postgresql_backend_compiles_through_shapes():
    assert base.DatabaseWrapper.ops_class.compiler_module == "infra.postgresql.compiler"
    for name in ("SQLInsertCompiler", "SQLUpdateCompiler", "SQLDeleteCompiler", "SQLAggregateCompiler"):
        assert getattr(compiler, name) is not None


@pytest.mark.django_db
def test_historical_models_of_migrations_are_not_kept(team):
    from django.db.migrations.executor import MigrationExecutor

    state = MigrationExecutor(connection).loader.project_state()
    historical = state.apps.get_model("tracking", "Campaign")
    queryset = historical.objects.filter(team_id=team.pk).order_by("-created_at")[:5]
    assert _sql(compiler.SQLCompiler, queryset) == _sql(STOCK, queryset)
    assert compiler._shapes == {}
