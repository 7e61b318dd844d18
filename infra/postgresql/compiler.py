"""Django's PostgreSQL SQL compilers, with the SELECT of a plain single-table query built once per
shape.

Compiling a list page's SELECT (its column list, FROM, ORDER BY and LIMIT) was about a tenth of
the CPU of a key request in bench/ (py-spy): Django resolves the ordering names, hashes every
selected column and quotes every name again on each execution, though for one model, one ordering
and one slice the result never changes. Only the WHERE clause carries the request's values.

So for a query whose shape is simple enough to be certain of (one table, the model's own
columns, an ordering by the model's own columns, no annotations, extras, grouping, DISTINCT,
locking, filtered relations or combinators: see _shape), the first compilation is kept as the
text before and after its WHERE clause, with the column and model information the result needs;
later compilations of the same shape compile the WHERE clause alone, always afresh, and put it
between the two. The tenant filter and every other value of a request is therefore never cached:
only the parts that have no values in them are. Anything else compiles exactly as Django does.
tests/test_sql_shapes.py compares the result with Django's own compiler for each kind of query
the project makes, all through one cache.
"""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, FullResultSet
from django.db.backends.postgresql.compiler import (
    SQLAggregateCompiler,
    SQLDeleteCompiler,
    SQLInsertCompiler,
    SQLUpdateCompiler,
)
from django.db.backends.postgresql.compiler import SQLCompiler as PostgreSQLCompiler
from django.db.models.sql.datastructures import BaseTable

__all__ = ["SQLAggregateCompiler", "SQLCompiler", "SQLDeleteCompiler", "SQLInsertCompiler", "SQLUpdateCompiler"]

# Shapes come from code, not from clients (a page size is one of at most API_MAX_PAGE_SIZE), so
# this stays small; the bound is a guard, after which new shapes simply compile every time.
MAX_SHAPES = 2048
_shapes: dict[tuple, _Compiled] = {}


class _Compiled:
    __slots__ = ("annotation_col_map", "col_count", "klass_info", "prefix", "select", "suffix")

    def __init__(self, prefix, suffix, compiler):
        self.prefix = prefix
        self.suffix = suffix
        self.select = compiler.select
        self.klass_info = compiler.klass_info
        self.annotation_col_map = compiler.annotation_col_map
        self.col_count = compiler.col_count


class SQLCompiler(PostgreSQLCompiler):
    def as_sql(self, with_limits=True, with_col_aliases=False):
        key = self._shape(with_limits, with_col_aliases)
        if key is None:
            return super().as_sql(with_limits, with_col_aliases)
        compiled = _shapes.get(key)
        if compiled is None:
            sql, params = super().as_sql(with_limits, with_col_aliases)
            self._remember(key, sql, params)
            return sql, params
        where, having, qualify = self.query.where.split_having_qualify(must_group_by=False)
        if having is not None or qualify is not None:
            return super().as_sql(with_limits, with_col_aliases)
        try:
            where_sql, where_params = self.compile(where)
        except (EmptyResultSet, FullResultSet):
            # "0 = 1" or no WHERE at all: rare, and left to Django.
            return super().as_sql(with_limits, with_col_aliases)
        self.where, self.having, self.qualify = where, None, None
        self.select = compiled.select
        self.klass_info = compiled.klass_info
        self.annotation_col_map = compiled.annotation_col_map
        self.col_count = compiled.col_count
        self.has_extra_select = False
        return f"{compiled.prefix}{where_sql}{compiled.suffix}", tuple(where_params)

    def _shape(self, with_limits, with_col_aliases) -> tuple | None:
        """What the SELECT outside its WHERE clause depends on, or None when the query has
        anything beyond one table's own columns, a WHERE clause, an ordering by names and a
        slice."""
        query = self.query
        if (
            # Migrations' historical models are new classes on every run: never kept.
            query.model is None
            or query.model._meta.apps is not apps
            or query.subquery
            or query.combinator
            or query.distinct
            or query.select_for_update
            or query.select_related
            or query.explain_info is not None
            or query.extra
            or query.extra_tables
            or query.extra_order_by
            or query.annotations
            or query.group_by is not None
            or query.values_select
            or query.select
            or not query.default_cols
            or query.deferred_loading != (frozenset(), True)
            or not query.where.children
            or not self.elide_empty
        ):
            return None
        # One table in FROM: joins that filtering set up and then trimmed (team=... becomes
        # team_id = ...) stay in alias_map with no references, and are not in the SQL.
        used = [alias for alias in query.alias_map if query.alias_refcount[alias]]
        if len(used) != 1:
            return None
        table = query.alias_map[used[0]]
        if not isinstance(table, BaseTable) or table.table_alias != query.model._meta.db_table:
            return None
        if query._filtered_relations or not self._orders_by_own_columns():
            return None
        return (
            self.using,
            query.model,
            query.order_by,
            query.default_ordering,
            query.standard_ordering,
            query.low_mark,
            query.high_mark,
            with_limits,
            with_col_aliases,
        )

    def _orders_by_own_columns(self) -> bool:
        """Whether the ordering (the query's, else the model's Meta.ordering) names only columns
        of the model itself. Ordering by a relation adds a join while compiling, and how it joins
        (INNER or LEFT, which alias) depends on the joins the filters made: not part of a shape."""
        query = self.query
        opts = query.get_meta()
        ordering = query.order_by or (opts.ordering if query.default_ordering else ())
        for name in ordering:
            if not isinstance(name, str):
                return False
            name = name.removeprefix("-")
            if name == "pk":
                continue
            try:
                field = opts.get_field(name)
            except FieldDoesNotExist:
                return False
            if field.is_relation or not field.concrete:
                return False
        return True

    def _remember(self, key, sql, params) -> None:
        """Keep the text around the WHERE clause Django just built, if it is certainly that: the
        WHERE clause compiles to the same text again, appears once, and carries every parameter."""
        if len(_shapes) >= MAX_SHAPES or self.having is not None or self.qualify is not None:
            return
        if self.has_extra_select or self.where is None:
            return
        try:
            where_sql, where_params = self.compile(self.where)
        except (EmptyResultSet, FullResultSet):
            return
        marker = f" WHERE {where_sql}"
        if not where_sql or sql.count(marker) != 1 or list(where_params) != list(params):
            return
        prefix, suffix = sql.split(marker)
        _shapes[key] = _Compiled(f"{prefix} WHERE ", suffix, self)
