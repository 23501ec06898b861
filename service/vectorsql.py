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
RESCORE_MULTIPLIER = 4


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
    def create_items_table(self, db: str, table: str, dim: int) -> list[str]:
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

    def ann_settings(self, k: int, excluded: int, ef_floor: int) -> dict:
        return {}

    def exact_settings(self) -> dict:
        return {}


class ClickHouseDialect(Dialect):
    name = "clickhouse"
    _functions = {"cosine": "cosineDistance", "l2": "L2Distance"}

    def create_items_table(self, db: str, table: str, dim: int) -> list[str]:
        dim = _positive_int(dim, "dim")
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
    CONSTRAINT dim CHECK length(vector) = {dim},
    INDEX {INDEX_NAME} vector TYPE vector_similarity('hnsw', 'cosineDistance', {dim})
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
        # Post-filtering drops excluded rows from the k*multiplier candidates the index returns:
        # fetch enough that k survive even if every excluded id is among the nearest. At least
        # 4x so that exact rescoring can fix the order the bf16-quantized index got wrong.
        multiplier = min(1000, max(RESCORE_MULTIPLIER, math.ceil((k + excluded) / k)))
        fetched = k * multiplier
        return {
            "vector_search_index_fetch_multiplier": multiplier,
            "hnsw_candidate_list_size_for_search": max(ef_floor, fetched),
            "vector_search_with_rescoring": 1,  # exact distances for the candidates, not bf16
        }

    def exact_settings(self) -> dict:
        return {"use_skip_indexes": 0}


class MyScaleDialect(Dialect):
    name = "myscale"

    def create_items_table(self, db: str, table: str, dim: int) -> list[str]:
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
