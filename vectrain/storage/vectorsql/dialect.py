"""The SQL of each engine: index DDL, vector search, next batches, scoring, published classifiers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vectrain.core.errors import BadInput
from vectrain.core.names import validate_name
from vectrain.storage.query import Query
from vectrain.storage.vectorsql.filters import (
    DEEP_CANDIDATES,
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    INDEX_NAME,
    QUANTIZATIONS,
    Filter,
    as_floats,
    column_list,
    function_ident,
    positive_int,
    quote,
    table_ident,
    where_clause,
)


class Dialect:
    name = "base"

    quote = staticmethod(quote)

    # -- DDL ---------------------------------------------------------------------------------
    def create_items_table(
        self, db: str, table: str, dim: int, quantization: str = "f32", with_index: bool = True
    ) -> list[Query]:
        raise NotImplementedError

    def drop_table(self, db: str, table: str) -> Query:
        return Query(f"DROP TABLE IF EXISTS {table_ident(db, table)}", name="drop_table")

    def drop_database(self, db: str) -> Query:
        return Query(f"DROP DATABASE IF EXISTS {quote(validate_name(db, 'database'))}", name="drop_database")

    def build_index(self, db: str, table: str) -> list[Query]:
        """Statements that (re)build the vector index after a bulk load."""
        return []

    def insert_settings(self) -> dict:
        """Settings for bulk inserts into an items table."""
        return {}

    # -- search ------------------------------------------------------------------------------
    def distance(self, column: str = "vector", param: str = "q", metric: str = "cosine") -> str:
        raise NotImplementedError

    def nearest(
        self,
        db: str,
        table: str,
        vector,
        k: int,
        filters: Sequence[Filter | None] = (),
        columns: Sequence[str] = ("id", "url", "label"),
    ) -> Query:
        """Top-k rows by cosine similarity to `vector` (column `score`, best first): the shape
        the vector index serves."""
        k = positive_int(k, "k")
        where, params = where_clause(filters)
        dist = self.distance()
        return Query(
            f"SELECT {column_list(columns)}, 1 - {dist} AS score\n"
            f"FROM {table_ident(db, table)}{where}\n"
            f"ORDER BY {dist} ASC\n"
            f"LIMIT {k}",
            {"q": as_floats(vector), **params},
            name="nearest",
        )

    def ann_settings(self, k: int, excluded: int, ef_floor: int, deep: bool = True) -> dict:
        return {}

    def browse(self, db: str, table: str, filters: Sequence[Filter | None], limit: int, offset: int) -> Query:
        """A page of the rows that pass `filters`, in a fixed pseudo-random order (a sample that
        is the same on every call)."""
        limit, offset = positive_int(limit, "limit"), int(offset)
        if offset < 0:
            raise BadInput(f"offset must be 0 or more, got {offset}")
        where, params = where_clause(filters)
        return Query(
            f"SELECT id, url, label, split\n"
            f"FROM {table_ident(db, table)}{where}\n"
            f"ORDER BY cityHash64(id), id\n"
            f"LIMIT {limit} OFFSET {offset}",
            params,
            self.exact_settings(),
            name="browse",
        )

    def count_where(self, db: str, table: str, filters: Sequence[Filter | None]) -> Query:
        """How many rows pass `filters`, exactly."""
        where, params = where_clause(filters)
        return Query(f"SELECT count()\nFROM {table_ident(db, table)}{where}", params, name="count_where")

    def exact_settings(self) -> dict:
        return {}

    # -- linear classifiers ------------------------------------------------------------------
    # A linear classifier scores an item as dot(w, v) + b; positive when that exceeds the
    # threshold t. w is bound as {w:Array(Float32)}, b and t as {b:Float64}, {t:Float64}.
    @staticmethod
    def _logit(column: str = "vector") -> str:
        return f"dotProduct({column}, {{w:Array(Float32)}}) + {{b:Float64}}"

    def boundary_batch(
        self, db: str, table: str, weights, bias: float, threshold: float, k: int, filters: Sequence[Filter | None] = ()
    ) -> Query:
        """The k items whose score is nearest the threshold (an exact scan: what a session's next
        batch falls back to before its round is scored into session_scores)."""
        return self._scored_batch(
            db, table, weights, bias, k, filters, "abs(score - {t:Float64}) ASC, id ASC", t=float(threshold)
        )

    def random_batch(
        self, db: str, table: str, weights, bias: float, k: int, salt: str, filters: Sequence[Filter | None] = ()
    ) -> Query:
        """k items in a pseudo-random order fixed by `salt` (reproducible baseline)."""
        return self._scored_batch(
            db, table, weights, bias, k, filters, "sipHash64(id, {salt:String}) ASC", salt=str(salt)
        )

    def rows_at(
        self,
        db: str,
        table: str,
        weights,
        bias: float,
        picks: Sequence[tuple[str, int]],
        filters: Sequence[Filter | None] = (),
    ) -> Query:
        """The rows at these (part, offset) positions that pass `filters`, scored: reads only
        the granules that hold them (a uniform random sample without a full sort)."""
        where, params = where_clause(filters)
        picked = "(_part, _part_offset) IN {picks:Array(Tuple(String, UInt64))}"
        where = f"{where} AND {picked}" if where else f"\nWHERE {picked}"
        return Query(
            f"SELECT id, url, label, _part AS part, _part_offset AS offset, {self._logit()} AS score\n"
            f"FROM {table_ident(db, table)}{where}",
            {"w": as_floats(weights), "b": float(bias), "picks": [(str(p), int(o)) for p, o in picks], **params},
            self.exact_settings(),
            name="rows_at",
        )

    def _scored_batch(self, db, table, weights, bias, k, filters, order_by: str, **extra) -> Query:
        k = positive_int(k, "k")
        where, params = where_clause(filters)
        return Query(
            f"SELECT id, url, label, {self._logit()} AS score\n"
            f"FROM {table_ident(db, table)}{where}\n"
            f"ORDER BY {order_by}\n"
            f"LIMIT {k}",
            {"w": as_floats(weights), "b": float(bias), **extra, **params},
            self.exact_settings(),
            name="scored_batch",
        )

    def score_histogram(self, db: str, table: str, weights) -> Query:
        """Counts of dot(w, v) in bins of 0.001 over the whole table (for a label-free threshold)."""
        return Query(
            f"SELECT round(dotProduct(vector, {{w:Array(Float32)}}), 3) AS s, count() AS n\n"
            f"FROM {table_ident(db, table)}\n"
            f"GROUP BY s ORDER BY s",
            {"w": as_floats(weights)},
            name="score_histogram",
        )

    def apply(
        self, db: str, table: str, session_id: str, round_no: int, weights, bias: float, threshold: float
    ) -> Query:
        """Score every item of a dataset into predictions: one INSERT ... SELECT."""
        return Query(
            f"INSERT INTO {quote(validate_name(db, 'database'))}.predictions "
            f"(session_id, round, item_id, score, positive)\n"
            f"SELECT {{session_id:String}}, {{round_no:UInt32}}, id, {self._logit()} AS score, "
            f"score > {{t:Float64}}\n"
            f"FROM {table_ident(db, table)}",
            {
                "session_id": session_id,
                "round_no": int(round_no),
                "w": as_floats(weights),
                "b": float(bias),
                "t": float(threshold),
            },
            name="apply",
        )

    def score_rows(
        self, db: str, table: str, session_id: str, round_no: int, version: int, weights, bias: float
    ) -> Query:
        """Score every item of a dataset under a session's round into session_scores (a table
        ordered by score, so next batches read ranges of it): one INSERT ... SELECT."""
        return Query(
            f"INSERT INTO {quote(validate_name(db, 'database'))}.session_scores "
            f"(session_id, round, version, score, item_id)\n"
            f"SELECT {{session_id:String}}, {{round_no:UInt32}}, {{version:UInt64}}, {self._logit()}, id\n"
            f"FROM {table_ident(db, table)}",
            {
                "session_id": session_id,
                "round_no": int(round_no),
                "version": int(version),
                "w": as_floats(weights),
                "b": float(bias),
            },
            name="score_rows",
        )

    def classifier_expression(self, weights, offset: float, column: str = "v") -> str:
        """dot(column, w) + offset with the numbers written in: they are floats this service
        computed (never user text), formatted exactly (%.9g round-trips a float32)."""
        values = [float(x) for x in np.asarray(weights, dtype=np.float64).ravel()]
        if not values or not all(math.isfinite(x) for x in values + [float(offset)]):
            raise BadInput("classifier weights must be finite numbers")
        literal = ", ".join(f"{x:.9g}" for x in values)
        return f"dotProduct({column}, CAST([{literal}] AS Array(Float32))) + ({float(offset)!r})"

    def classifier_function(self, function: str, weights, offset: float) -> Query:
        """A SQL UDF: <function>(vector) > 0 means positive."""
        body = self.classifier_expression(weights, offset)
        return Query(
            f"CREATE OR REPLACE FUNCTION {function_ident(function)} AS (v) -> {body}",
            name="classifier_function",
        )

    def classifier_view(self, db: str, view: str, table: str, weights, offset: float) -> Query:
        """A view in the dataset's database: every item with its margin and decision."""
        expr = self.classifier_expression(weights, offset, column="vector")
        return Query(
            f"CREATE OR REPLACE VIEW {table_ident(db, view)} AS\n"
            f"SELECT id, url, label, {expr} AS score, score > 0 AS positive\n"
            f"FROM {table_ident(db, table)}",
            name="classifier_view",
        )

    def drop_function(self, function: str) -> Query:
        return Query(f"DROP FUNCTION IF EXISTS {function_ident(function)}", name="drop_function")

    def classifier_example(self, db: str, table: str, function: str) -> str:
        """The query shown to users next to a published classifier."""
        # Validated identifiers need no quotes; unquoted, the example reads as users type it.
        return (
            f"SELECT count() FROM {validate_name(db, 'database')}.{validate_name(table, 'table')} "
            f"WHERE {function}(vector) > 0"
        )

    # -- plans -------------------------------------------------------------------------------
    def explain_indexes(self, query: Query) -> Query:  # does the vector index serve this query?
        return Query("EXPLAIN indexes = 1 " + query.sql, query.parameters, query.settings, name="explain")


_ITEMS_BODY = """(
    id     String,
    url    String DEFAULT '',
    label  String DEFAULT '',
    split  LowCardinality(String) DEFAULT '',
    meta   String DEFAULT '{{}}',
    vector Array(Float32){codec},
    added  DateTime DEFAULT now(),
    CONSTRAINT dim CHECK length(vector) = {dim}{index}
)
ENGINE = MergeTree ORDER BY id"""


# Granules <= 1 MB (~500 rows of 512 floats, not ~5,000): a random batch of 30 reads 30 MB, not 300.
GRANULE_BYTES = 1 << 20


class ClickHouseDialect(Dialect):
    name = "clickhouse"
    _functions = {"cosine": "cosineDistance", "l2": "L2Distance"}

    def create_items_table(
        self, db: str, table: str, dim: int, quantization: str = "f32", with_index: bool = True
    ) -> list[Query]:
        dim = positive_int(dim, "dim")
        if quantization not in QUANTIZATIONS:
            raise BadInput(f"Unknown index quantization {quantization!r}: use one of {QUANTIZATIONS}")
        index = (
            (
                f",\n    INDEX {INDEX_NAME} vector TYPE vector_similarity('hnsw', 'cosineDistance', {dim}, "
                f"'{quantization}', {HNSW_M}, {HNSW_EF_CONSTRUCTION})"
            )
            if with_index
            else ""
        )
        body = _ITEMS_BODY.format(codec=" CODEC(NONE)", dim=dim, index=index)
        # The index is built once after a bulk load (build_index), never per merge.
        return [
            Query(
                f"CREATE TABLE IF NOT EXISTS {table_ident(db, table)}\n{body}\n"
                f"SETTINGS materialize_skip_indexes_on_merge = 0, index_granularity_bytes = {GRANULE_BYTES}",
                name="create_items_table",
            )
        ]

    def build_index(self, db: str, table: str) -> list[Query]:
        # One part, then one index build: cheaper than indexing every inserted block and merge.
        target = table_ident(db, table)
        return [
            Query(f"OPTIMIZE TABLE {target} FINAL", name="optimize"),
            Query(
                f"ALTER TABLE {target} MATERIALIZE INDEX {INDEX_NAME}",
                settings={"mutations_sync": 2},
                name="materialize_index",
            ),
        ]

    def insert_settings(self) -> dict:
        return {"materialize_skip_indexes_on_insert": 0}

    def distance(self, column: str = "vector", param: str = "q", metric: str = "cosine") -> str:
        try:
            fn = self._functions[metric]
        except KeyError:
            raise BadInput(f"Unknown metric {metric!r}: use one of {sorted(self._functions)}") from None
        return f"{fn}({column}, {{{param}:Array(Float32)}})"

    def ann_settings(self, k: int, excluded: int, ef_floor: int, deep: bool = True) -> dict:
        # Fetch enough candidates that k survive the post-filter even if every excluded row is
        # among the nearest; max_limit_for_vector_search_queries caps the fetch, so it is raised
        # too; the candidate list is DEEP_CANDIDATES times the fetch for recall deep in it, once for a pool.
        multiplier = min(1000, max(1, math.ceil((k + excluded) / k)))
        fetched = k * multiplier
        return {
            "vector_search_index_fetch_multiplier": multiplier,
            "max_limit_for_vector_search_queries": max(1000, fetched),
            "hnsw_candidate_list_size_for_search": max(
                ef_floor, fetched * (DEEP_CANDIDATES if excluded and deep else 1)
            ),
        }

    def exact_settings(self) -> dict:
        return {"use_skip_indexes": 0}


class MyScaleDialect(Dialect):
    name = "myscale"

    def create_items_table(
        self, db: str, table: str, dim: int, quantization: str = "f32", with_index: bool = True
    ) -> list[Query]:
        dim = positive_int(dim, "dim")
        target = table_ident(db, table)
        return [
            Query(
                f"CREATE TABLE IF NOT EXISTS {target}\n{_ITEMS_BODY.format(codec='', dim=dim, index='')}",
                name="create_items_table",
            ),
            Query(
                f"ALTER TABLE {target} ADD VECTOR INDEX IF NOT EXISTS {INDEX_NAME} vector "
                "TYPE MSTG('metric_type=Cosine')",
                name="add_vector_index",
            ),
        ]

    def distance(self, column: str = "vector", param: str = "q", metric: str = "cosine") -> str:
        if metric != "cosine":
            raise BadInput("The myscale dialect stores a Cosine index; use metric 'cosine'")
        return f"distance({column}, {{{param}:Array(Float32)}})"


DIALECTS: dict[str, Dialect] = {"clickhouse": ClickHouseDialect(), "myscale": MyScaleDialect()}


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise BadInput(f"Unknown dialect {name!r}: use one of {sorted(DIALECTS)}") from None
