"""Quoting, and filters: typed WHERE conditions that carry their own bound parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectrain.core.errors import BadInput
from vectrain.core.names import validate_name
from vectrain.storage.query import Floats, Strings

INDEX_NAME = "vi"
QUANTIZATIONS = ("f32", "f16", "bf16", "i8", "b1")
# HNSW: 32 links a node, a candidate list of 64 while building: 25k rows built in 2.3 s (4.0 s at
# 128), 1M in 143 s (268 s), at the same recall. A search with exclusions walks DEEP_CANDIDATES
# times the candidates it fetches: mean recall@10 with the 1,000 nearest excluded, 100 queries at
# 1M, was 0.942 at 2x and 0.974 at 3x, for 2 ms more (docs/ARCHITECTURE.md).
HNSW_M, HNSW_EF_CONSTRUCTION, DEEP_CANDIDATES = 32, 64, 3
# The columns of every items table besides the vector, in table order.
ITEM_COLUMNS = ("id", "url", "label", "split", "meta")


def quote(identifier: str) -> str:
    """Backquote an identifier that validate_name already accepted."""
    return "`" + identifier.replace("\\", "\\\\").replace("`", "\\`") + "`"


def function_ident(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,200}", name):
        raise BadInput(f"Invalid function name {name!r}")
    return quote(name)


def table_ident(db: str, table: str) -> str:
    return f"{quote(validate_name(db, 'database'))}.{quote(validate_name(table, 'table'))}"


def column_list(columns: Sequence[str]) -> str:
    unknown = [c for c in columns if c not in ITEM_COLUMNS]
    if unknown or not columns:
        raise ValueError(f"unknown items columns {unknown or columns!r}: use some of {ITEM_COLUMNS}")
    return ", ".join(columns)


def positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise BadInput(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def as_floats(vector) -> Floats:
    return Floats(np.asarray(vector, dtype=np.float32).ravel())


# -- filters: typed WHERE conditions that carry their own parameters -----------------------------
class Filter:
    """A condition on an items table row. `clause()` is SQL over bound parameters whose names
    belong to the filter's type, so two different filters never clash."""

    def clause(self) -> tuple[str, dict[str, Any]] | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Split(Filter):
    name: str

    def clause(self):
        return "split = {f_split:String}", {"f_split": self.name}


@dataclass(frozen=True)
class Ids(Filter):
    ids: tuple[str, ...]

    def __init__(self, ids: Iterable[str]):
        object.__setattr__(self, "ids", tuple(ids))

    def clause(self):
        return "id IN {f_ids:Array(String)}", {"f_ids": Strings(self.ids)}


@dataclass(frozen=True)
class Label(Filter):
    """Rows whose own label in the dataset is `value` ('' : rows without a label)."""

    value: str

    def clause(self):
        return "label = {f_label:String}", {"f_label": self.value}


@dataclass(frozen=True)
class InSession(Filter):
    """Rows labeled in a session (`labeled`), or not labeled in it."""

    session_id: str
    labeled: bool = True

    def clause(self):
        op = "IN" if self.labeled else "NOT IN"
        return (
            f"id {op} (SELECT item_id FROM labels FINAL WHERE session_id = {{f_session:String}} AND removed = 0)",
            {"f_session": self.session_id},
        )


class MarginRange(Filter):
    """Rows whose margin under a linear classifier, dot(w, v) + b - t, lies in [low, high]
    (either bound may be None)."""

    def __init__(self, weights, bias: float, threshold: float, low: float | None, high: float | None):
        self.weights, self.bias, self.threshold, self.low, self.high = weights, bias, threshold, low, high

    def clause(self):
        margin = "dotProduct(vector, {f_w:Array(Float32)}) + {f_b:Float64} - {f_t:Float64}"
        params = {"f_w": as_floats(self.weights), "f_b": float(self.bias), "f_t": float(self.threshold)}
        parts = []
        if self.low is not None:
            parts.append(f"{margin} >= {{f_low:Float64}}")
            params["f_low"] = float(self.low)
        if self.high is not None:
            parts.append(f"{margin} <= {{f_high:Float64}}")
            params["f_high"] = float(self.high)
        return (" AND ".join(parts), params) if parts else None


@dataclass(frozen=True)
class Labeled(Filter):
    """Rows that carry a label (kNN votes only with those)."""

    def clause(self):
        return "label != ''", {}


@dataclass(frozen=True)
class Exclusion(Filter):
    """Rows a query must skip: nothing, a list of ids, or every item labeled in a session (and
    the items leased to labelers, `leased`: vectrain.labeling.leases).

    The session form is resolved in the database (`NOT IN (SELECT item_id FROM labels ...)`), so
    no id list travels with the query but the leased ids (a few batches). `count` is how many rows
    it may remove at most: the vector index's candidate fetch is sized from it.
    """

    kind: str = "none"  # none | ids | session
    ids: tuple[str, ...] = ()
    session_id: str = ""
    count: int = 0
    leased: tuple[str, ...] = ()

    @classmethod
    def none(cls) -> Exclusion:
        return cls()

    @classmethod
    def of_ids(cls, ids: Iterable[str]) -> Exclusion:
        unique = tuple(sorted(set(ids)))
        return cls("ids", ids=unique, count=len(unique)) if unique else cls()

    @classmethod
    def session(cls, session_id: str, labeled: int, leased: Iterable[str] = ()) -> Exclusion:
        leased = tuple(leased)
        return cls("session", session_id=session_id, count=int(labeled) + len(leased), leased=leased)

    def clause(self):
        if self.kind == "none":
            return None
        if self.kind == "ids":
            return "id NOT IN {x_ids:Array(String)}", {"x_ids": Strings(self.ids)}
        if self.kind == "session":
            labeled = (
                "id NOT IN (SELECT item_id FROM labels FINAL WHERE session_id = {x_session:String} AND removed = 0)"
            )
            if not self.leased:
                return labeled, {"x_session": self.session_id}
            leased = "id NOT IN {x_leased:Array(String)}"
            return f"{labeled} AND {leased}", {"x_session": self.session_id, "x_leased": Strings(self.leased)}
        raise ValueError(f"unknown exclusion {self.kind!r}")


def where_clause(filters: Iterable[Filter | None], indent: str = "") -> tuple[str, dict[str, Any]]:
    parts, params = [], {}
    for f in filters:
        clause = f.clause() if f is not None else None
        if clause is None:
            continue
        sql, p = clause
        clash = set(p) & set(params)
        if clash:
            raise ValueError(f"two filters bind {sorted(clash)}: combine them into one")
        parts.append(sql)
        params.update(p)
    return (f"\n{indent}WHERE {' AND '.join(parts)}" if parts else ""), params
