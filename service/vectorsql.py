"""The one module that builds SQL text with vectors, distance functions and index DDL.

Vectors and ids are always bound as query parameters ({q:Array(Float32)}); only validated
identifiers (dataset, database, index names) and integers are ever written into the text.
Two dialects decide the few places where engines differ:

- clickhouse (default): cosineDistance / L2Distance / dotProduct and the vector_similarity
  HNSW index (ClickHouse >= 25.8, chDB).
- myscale: distance(vector, q) and ALTER TABLE ... ADD VECTOR INDEX ... TYPE MSTG/SCANN.

Facts these builders rely on (measured on ClickHouse 26.9, see DESIGN.md):
- the index is used only for ORDER BY <dist>(vector, ref) LIMIT k with k <= 1000;
- WHERE filters are post-filters: with the index, `NOT IN` returns fewer than k rows unless
  vector_search_index_fetch_multiplier is large enough, so callers verify the count and fall
  back to the exact scan (see service.search).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from service.errors import BadInput

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
INDEX_NAME = "vi"
QUANTIZATIONS = ("f32", "f16", "bf16", "i8", "b1")


def validate_name(name: str, what: str = "dataset") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise BadInput(
            f"Invalid {what} name {name!r}: use 1-63 characters, lowercase letters, digits and _, "
            "starting with a letter (e.g. unsplash, cifar10_train)."
        )
    return name


def quote(identifier: str) -> str:
    """Backquote an identifier that validate_name already accepted."""
    return "`" + identifier.replace("`", "``") + "`"


@dataclass(frozen=True)
class Exclusion:
    """Which rows a query must skip, as SQL on bound parameters.

    kind "none": nothing; "ids": `id NOT IN {exclude_ids:Array(String)}`;
    "session": ids labeled in a session, `id NOT IN (SELECT item_id FROM labels FINAL WHERE
    session_id = {session_id:String})`, resolved server-side so no id list travels in the SQL.
    """

    kind: str = "none"

    def where(self) -> str | None:
        if self.kind == "none":
            return None
        if self.kind == "ids":
            return "id NOT IN {exclude_ids:Array(String)}"
        if self.kind == "session":
            return "id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {session_id:String})"
        raise ValueError(f"unknown exclusion {self.kind!r}")


class Dialect:
    name = "base"

    quote = staticmethod(quote)

    # -- DDL -------------------------------------------------------------------------------
    def create_items_table(self, db: str, table: str, dim: int, quantization: str = "f32",
                           with_index: bool = True) -> list[str]:
        raise NotImplementedError

    def drop_table(self, db: str, table: str) -> str:
        return f"DROP TABLE IF EXISTS {quote(db)}.{quote(validate_name(table, 'table'))}"

    def build_index(self, db: str, table: str) -> list[str]:
        """Statements that (re)build the vector index after a bulk load."""
        return []

    def insert_settings(self) -> dict:
        """Settings for bulk inserts into an items table."""
        return {}

    # -- queries ---------------------------------------------------------------------------
    def distance(self, column: str = "vector", param: str = "q", metric: str = "cosine") -> str:
        raise NotImplementedError

    def score(self, column: str = "vector", param: str = "q") -> str:
        """Cosine similarity in [-1, 1], higher is closer."""
        return f"1 - {self.distance(column, param)}"

    def search(self, db: str, table: str, k: int, exclusion: Exclusion = Exclusion(),
               where: str | None = None, columns: str = "id, url, label") -> str:
        """Top-k nearest to {q:Array(Float32)}: the shape the vector index serves."""
        k = _positive_int(k, "k")
        filters = [f for f in (exclusion.where(), where) if f]
        where_sql = f"\nWHERE {' AND '.join(filters)}" if filters else ""
        return (
            f"SELECT {columns}, {self.score()} AS score\n"
            f"FROM {quote(db)}.{quote(table)}{where_sql}\n"
            f"ORDER BY {self.distance()} ASC\n"
            f"LIMIT {k}"
        )


    # -- classifiers (issue 4) ---------------------------------------------------------------
    # A linear classifier scores an item as dot(w, v) + b; positive when that exceeds the
    # threshold t. w arrives bound as {w:Array(Float32)}, b and t as {b:Float64}, {t:Float64}.
    def logit(self, column: str = "vector") -> str:
        return f"dotProduct({column}, {{w:Array(Float32)}}) + {{b:Float64}}"

    def boundary(self, db: str, table: str, k: int, exclusion: Exclusion = Exclusion()) -> str:
        """The k items whose score is nearest the threshold {t:Float64} (exact scan)."""
        return self._scored_batch(db, table, k, exclusion, "abs(score - {t:Float64}) ASC, id ASC")

    def random_batch(self, db: str, table: str, k: int, exclusion: Exclusion = Exclusion()) -> str:
        """k items in a pseudo-random order fixed by {salt:String} (reproducible baseline)."""
        return self._scored_batch(db, table, k, exclusion, "sipHash64(id, {salt:String}) ASC")

    def _scored_batch(self, db: str, table: str, k: int, exclusion: Exclusion, order_by: str) -> str:
        k = _positive_int(k, "k")
        where = exclusion.where()
        return (
            f"SELECT id, url, {self.logit()} AS score\n"
            f"FROM {quote(db)}.{quote(table)}" + (f"\nWHERE {where}" if where else "") + "\n"
            f"ORDER BY {order_by}\n"
            f"LIMIT {k}"
        )

    def score_histogram(self, db: str, table: str) -> str:
        """Counts of dot(w, v) in bins of 0.001 over the whole table (for a label-free threshold)."""
        return (
            f"SELECT round(dotProduct(vector, {{w:Array(Float32)}}), 3) AS s, count() AS n\n"
            f"FROM {quote(db)}.{quote(table)}\n"
            f"GROUP BY s ORDER BY s"
        )

    def apply(self, db: str, table: str) -> str:
        """Score every item of a dataset into predictions: one INSERT ... SELECT."""
        return (
            f"INSERT INTO {quote(db)}.predictions (session_id, round, item_id, score, positive)\n"
            f"SELECT {{session_id:String}}, {{round:UInt32}}, id, {self.logit()} AS score, "
            f"score > {{t:Float64}}\n"
            f"FROM {quote(db)}.{quote(table)}"
        )

    def classifier_expression(self, weights, offset: float, column: str = "v") -> str:
        """dot(column, w) + offset with the numbers written in: they are floats this service
        computed (never user text), formatted exactly (%.9g round-trips a float32)."""
        values = [float(x) for x in weights]
        if not values or not all(math.isfinite(x) for x in values + [float(offset)]):
            raise BadInput("classifier weights must be finite numbers")
        literal = ", ".join("%.9g" % x for x in values)
        return f"dotProduct({column}, CAST([{literal}] AS Array(Float32))) + ({float(offset)!r})"

    def create_classifier_function(self, name: str, weights, offset: float) -> str:
        """A SQL UDF: clf_<name>(vector) > 0 means positive. UDFs are global to the engine."""
        fn = validate_name(name, "function")
        return f"CREATE OR REPLACE FUNCTION {quote(fn)} AS (v) -> {self.classifier_expression(weights, offset)}"

    def create_classifier_view(self, db: str, view: str, table: str, weights, offset: float) -> str:
        """A view in the dataset's database: every item with its margin and decision."""
        view = validate_name(view, "view")
        expr = self.classifier_expression(weights, offset, column="vector")
        return (
            f"CREATE OR REPLACE VIEW {quote(db)}.{quote(view)} AS\n"
            f"SELECT id, url, label, {expr} AS score, score > 0 AS positive\n"
            f"FROM {quote(db)}.{quote(validate_name(table, 'table'))}"
        )

    def ann_settings(self, k: int, excluded: int, ef_floor: int) -> dict:
        return {}

    # -- zero-shot -------------------------------------------------------------------------
    def zero_shot_select(self, db: str, table: str, n_labels: int, where: str | None = None) -> str:
        """Per row: cosine similarity to each of {lv:Array(Array(Float32))} (unit label vectors),
        the argmax (first on ties, like numpy) and the top-1 minus top-2 margin.

        One dotProduct per label against a constant element of the bound array: a lambda
        (arrayMap(l -> dotProduct(vector, l), lv)) would copy every row's vector once per label.
        Rows are unit norm, so the dot product is the cosine similarity.
        """
        n = _positive_int(n_labels, "number of labels")
        dots = ", ".join(f"dotProduct(vector, lv[{i}])" for i in range(1, n + 1))
        where_sql = f"\n    WHERE {where}" if where else ""
        return (
            "WITH {ln:Array(String)} AS ln\n"
            "SELECT id, s AS scores, indexOf(s, arrayMax(s)) AS best, ln[best] AS label, s[best] AS score,\n"
            "       if(length(s) > 1, arrayReverseSort(s)[1] - arrayReverseSort(s)[2], 0) AS margin\n"
            "FROM (\n"
            "    WITH {lv:Array(Array(Float32))} AS lv\n"
            f"    SELECT id, CAST([{dots}] AS Array(Float32)) AS s\n"
            f"    FROM {quote(db)}.{quote(validate_name(table, 'table'))}{where_sql}\n"
            ")"
        )

    def zero_shot_insert(self, db: str, table: str, n_labels: int, where: str | None = None) -> str:
        """Store the zero-shot predictions of every row (passing `where`) in `zero_shot`, in the
        database: one INSERT ... SELECT, nothing travels to the client but the label vectors.
        Binds {dataset:String}, {labelset:String}, {run_at:DateTime64(3)}, {lv:...}, {ln:...}."""
        select = self.zero_shot_select(db, table, n_labels, where)
        return (
            f"INSERT INTO {quote(db)}.zero_shot (dataset, labelset, id, label, score, margin, scores, run_at)\n"
            "SELECT {dataset:String}, {labelset:String}, id, label, score, margin, scores, {run_at:DateTime64(3)}\n"
            f"FROM (\n{select}\n)"
        )

    def exact_settings(self) -> dict:
        return {}


class ClickHouseDialect(Dialect):
    name = "clickhouse"
    _functions = {"cosine": "cosineDistance", "l2": "L2Distance"}

    def create_items_table(self, db: str, table: str, dim: int, quantization: str = "f32",
                           with_index: bool = True) -> list[str]:
        dim = _positive_int(dim, "dim")
        if quantization not in QUANTIZATIONS:
            raise BadInput(f"Unknown index quantization {quantization!r}: use one of {QUANTIZATIONS}")
        # f32: the index's distances are exact, so results need no rescoring (see ann_settings).
        index = (f",\n    INDEX {INDEX_NAME} vector TYPE vector_similarity('hnsw', 'cosineDistance', {dim}, "
                 f"'{quantization}', 32, 128)") if with_index else ""
        return [
            f"""CREATE TABLE IF NOT EXISTS {quote(db)}.{quote(validate_name(table, 'table'))}
(
    id     String,
    url    String DEFAULT '',
    label  String DEFAULT '',
    split  LowCardinality(String) DEFAULT '',
    meta   String DEFAULT '{{}}',
    vector Array(Float32) CODEC(NONE),
    added  DateTime DEFAULT now(),
    CONSTRAINT dim CHECK length(vector) = {dim}{index}
)
ENGINE = MergeTree
ORDER BY id
SETTINGS materialize_skip_indexes_on_merge = 0"""
        ]

    def build_index(self, db: str, table: str) -> list[str]:
        # One part, then one index build: cheaper than indexing every inserted block and merge.
        target = f"{quote(db)}.{quote(validate_name(table, 'table'))}"
        return [
            f"OPTIMIZE TABLE {target} FINAL",
            f"ALTER TABLE {target} MATERIALIZE INDEX {INDEX_NAME} SETTINGS mutations_sync = 2",
        ]

    def insert_settings(self) -> dict:
        return {"materialize_skip_indexes_on_insert": 0}

    def distance(self, column: str = "vector", param: str = "q", metric: str = "cosine") -> str:
        try:
            fn = self._functions[metric]
        except KeyError:
            raise BadInput(f"Unknown metric {metric!r}: use one of {sorted(self._functions)}") from None
        return f"{fn}({column}, {{{param}:Array(Float32)}})"

    def ann_settings(self, k: int, excluded: int, ef_floor: int) -> dict:
        # Post-filtering drops excluded rows from the k * multiplier candidates the index
        # returns: fetch enough that k survive even if every excluded id is among the nearest.
        # max_limit_for_vector_search_queries caps that fetch (measured: at its default 1000,
        # 1,000 exclusions left 8 of 10 rows), so it is raised with it. No rescoring: the
        # f32 index returns exact distances, and rescoring reads whole vector granules.
        # The excluded rows are the nearest ones in the worst case, so the survivors sit deep in
        # the candidate list, where HNSW recall is lowest: search with twice the fetch (measured
        # at 25k rows with 1,000 excluded: recall@10 0.97 at 1x).
        multiplier = min(1000, max(1, math.ceil((k + excluded) / k)))
        fetched = k * multiplier
        return {
            "vector_search_index_fetch_multiplier": multiplier,
            "max_limit_for_vector_search_queries": max(1000, fetched),
            "hnsw_candidate_list_size_for_search": max(ef_floor, fetched * (2 if excluded else 1)),
        }

    def exact_settings(self) -> dict:
        return {"use_skip_indexes": 0}


class MyScaleDialect(Dialect):
    name = "myscale"

    def create_items_table(self, db: str, table: str, dim: int, quantization: str = "f32",
                           with_index: bool = True) -> list[str]:
        dim = _positive_int(dim, "dim")
        target = f"{quote(db)}.{quote(validate_name(table, 'table'))}"
        return [
            f"""CREATE TABLE IF NOT EXISTS {target}
(
    id     String,
    url    String DEFAULT '',
    label  String DEFAULT '',
    split  LowCardinality(String) DEFAULT '',
    meta   String DEFAULT '{{}}',
    vector Array(Float32),
    added  DateTime DEFAULT now(),
    CONSTRAINT dim CHECK length(vector) = {dim}
)
ENGINE = MergeTree
ORDER BY id""",
            f"ALTER TABLE {target} ADD VECTOR INDEX IF NOT EXISTS {INDEX_NAME} vector TYPE MSTG('metric_type=Cosine')",
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


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise BadInput(f"{what} must be a positive integer, got {value!r}")
    return int(value)
