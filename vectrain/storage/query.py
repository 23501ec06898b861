"""Queries as values: SQL text with its own bound parameters and settings.

A `Query` is what the Store runs. It comes from one of two places, never from string
formatting elsewhere:
- `Query.named("file.name", **params)`: a named query of sql/queries/<file>.sql (a block that
  starts with `-- name: <name>`), parameters bound by ClickHouse (`{id:String}`);
- vectrain.storage.vectorsql: the one module that builds SQL text (vectors, distances, index DDL).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

# Package data: the schema (sql/schema/NNN_*.sql) and the named queries (sql/queries/*.sql).
SQL_DIR = Path(__file__).resolve().parent / "sql"


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Query:
    sql: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""  # the named query it came from, or what the builder built (for errors and logs)

    def __post_init__(self):
        object.__setattr__(self, "parameters", _frozen(self.parameters))
        object.__setattr__(self, "settings", _frozen(self.settings))

    @classmethod
    def named(cls, name: str, /, **parameters: Any) -> Query:
        """The named query `file.name` of sql/queries with these parameters bound."""
        try:
            sql = named_queries()[name]
        except KeyError:
            raise KeyError(f"no named query {name!r} in sql/queries") from None
        return cls(sql, parameters, name=name)

    def bind(self, **parameters: Any) -> Query:
        return replace(self, parameters={**self.parameters, **parameters})

    def with_settings(self, settings: Mapping[str, Any] | None = None, **more: Any) -> Query:
        return replace(self, settings={**self.settings, **(settings or {}), **more})


class Runner(Protocol):
    """What runs queries: the Store (vectrain.storage.store), as the registry and the thumbnails
    table see it. They are part of the store, so they name this instead of importing it."""

    settings: Any
    database: str
    dialect: Any
    target: Any
    lock: Any

    def query(self, query: Query, column_formats: dict[str, str] | None = None) -> Any: ...
    def rows(self, query: Query) -> list[dict[str, Any]]: ...
    def scalar(self, query: Query) -> Any: ...
    def command(self, query: Query) -> Any: ...
    def command_apart(self, query: Query) -> Any: ...
    def insert_arrow(self, table: str, arrow_table: Any, settings: dict | None = None) -> None: ...


class Floats:
    """A vector (or a list of vectors) bound to an `Array(Float32)` (`Array(Array(Float32))`)
    parameter. clickhouse-connect formats a list element by element, about 0.5 ms for one CLIP
    vector on every search; this formats it in one step, with the 9 significant digits that
    give back every float32 exactly. The engine still parses it as a typed parameter."""

    __slots__ = ("values",)

    def __init__(self, values):
        self.values = np.asarray(values, dtype=np.float32)
        if self.values.ndim not in (1, 2):
            raise ValueError(f"Floats binds a vector or a list of vectors, not {self.values.ndim}-d data")

    def __str__(self) -> str:  # clickhouse-connect binds a value it does not know by str()
        if self.values.ndim == 1:
            return _float_list(self.values)
        return "[" + ",".join(_float_list(row) for row in self.values) + "]"

    def __eq__(self, other) -> bool:
        return np.array_equal(self.values, other.values if isinstance(other, Floats) else np.asarray(other))

    __hash__ = None

    def __repr__(self) -> str:
        return f"Floats(shape={self.values.shape})"

    def tolist(self) -> list:
        return self.values.tolist()


class Strings:
    """Strings (ids) bound to an `Array(String)` parameter in one step: clickhouse-connect
    escapes a list character by character, 0.8 ms for 1,000 ids excluded from a search. The same
    characters are escaped, backslash first."""

    __slots__ = ("values",)
    _ESCAPES = (("\\", "\\\\"), ("'", "\\'"), ("`", "\\`"), ("\t", "\\\t"), ("\n", "\\\n"))

    def __init__(self, values):
        self.values = tuple(values)
        if not all(isinstance(v, str) for v in self.values):
            raise TypeError("Strings binds str values only")

    @classmethod
    def _quoted(cls, value: str) -> str:
        for char, escaped in cls._ESCAPES:
            if char in value:
                value = value.replace(char, escaped)
        return "'" + value + "'"

    def __str__(self) -> str:
        return "[" + ",".join([self._quoted(v) for v in self.values]) + "]"

    def __eq__(self, other) -> bool:
        return self.values == (other.values if isinstance(other, Strings) else tuple(other))

    __hash__ = None

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"Strings({len(self.values)} values)"


def _float_list(row: np.ndarray) -> str:
    return "[" + ",".join(["%.9g"] * len(row)) % tuple(row.tolist()) + "]"


_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.M)


def parse_named(text: str, prefix: str) -> dict[str, str]:
    """Blocks of a sql/queries file: each starts with a `-- name: xyz` line -> "prefix.xyz"."""
    marks = list(_NAME_LINE.finditer(text))
    out = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[f"{prefix}.{mark.group(1)}"] = text[mark.end() : end].strip().rstrip(";").strip()
    return out


@lru_cache(maxsize=1)
def named_queries(folder: Path = SQL_DIR / "queries") -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(folder.glob("*.sql")):
        queries.update(parse_named(path.read_text(), path.stem))
    return queries


def schema_files(folder: Path = SQL_DIR / "schema") -> list[tuple[str, list[Query]]]:
    """(version, statements) of every sql/schema/NNN_*.sql, in order."""
    return [
        (path.stem, [Query(s, name=path.stem) for s in split_statements(path.read_text())])
        for path in sorted(folder.glob("*.sql"))
    ]


def split_statements(text: str) -> list[str]:
    """Statements of a schema file: separated by a `;` at the end of a line; comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.M)
    return [p.strip() for p in parts if p.strip()]
