"""The Store: one clickhouse-connect client (embedded chDB or a server), the schema, and one API
that runs `Query` values (vectrain.storage.query), named the way clickhouse-connect names its methods.

    store.query(q)        -> QueryResult          store.rows(q)   -> list of dicts
    store.query_arrow(q)  -> pyarrow.Table        store.scalar(q) -> first value of the first row
    store.raw(q, "CSV")   -> bytes in an output format
    store.command(q)      -> summary / value      store.insert(...), store.insert_arrow(...)

On the embedded engine, Arrow reads bypass clickhouse-connect (vectrain.storage.engine.ArrowReader): it
copied every result and ran eight engine calls a read, which made batch reads 2x slower.

Engine errors surface as typed errors (vectrain.core.errors.from_engine), chosen by ClickHouse's
structured error code. The dataset registry is `store.registry` (vectrain.storage.registry).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from vectrain.core.config import Settings
from vectrain.core.errors import from_engine
from vectrain.core.names import validate_name
from vectrain.storage.engine import ArrowReader, EngineFailure, Target, engine_options, open_client, remove_owner
from vectrain.storage.query import Query, schema_files
from vectrain.storage.registry import DatasetRegistry
from vectrain.storage.vectorsql.dialect import Dialect, get_dialect

if TYPE_CHECKING:
    import pyarrow as pa


class Store:
    def __init__(self, settings: Settings, *, owner: str = "vectrain", url: str | None = None):
        self.settings = settings
        self.target = Target.parse(settings.database_url)
        self.database = validate_name(self.target.database or settings.database, what="database")
        self.dialect: Dialect = get_dialect(settings.dialect)
        self.engine_options = engine_options(settings.index_cache_bytes)
        self.client: Client = open_client(self.target, owner, url, self.engine_options)
        self._run(self.client.command, Query.named("meta.create_database", db=self.database))
        self.client.database = self.database
        self.arrow = self._arrow_reader()
        self.lock = threading.Lock()  # serializes read-then-write steps of this process
        self.registry = DatasetRegistry(self)

    def new_client(self) -> Client:
        """Another handle on the same engine and database (e.g. for analysts' SQL)."""
        client = self.target.new_client(self.engine_options)
        client.database = self.database
        return client

    def _arrow_reader(self) -> ArrowReader | None:
        return ArrowReader(self.target.path, self.database) if self.target.kind == "chdb" else None

    def close(self) -> None:
        if self.arrow is not None:
            self.arrow.close()
        self.client.close()
        if self.target.kind == "chdb":
            remove_owner(self.target.path)

    # -- running queries ---------------------------------------------------------------------
    def _run(self, method, query: Query, **kwargs):
        if not isinstance(query, Query):
            raise TypeError(f"the store runs Query values, got {type(query).__name__}")
        try:
            return method(query.sql, parameters=dict(query.parameters), settings=dict(query.settings) or None, **kwargs)
        except ClickHouseError as exc:
            raise from_engine(exc, query.name or "a statement") from exc

    def query(self, query: Query, column_formats: dict[str, str] | None = None):
        """column_formats as clickhouse-connect's, e.g. {"data": "bytes"} for a binary String."""
        if column_formats:
            return self._run(self.client.query, query, column_formats=column_formats)
        return self._run(self.client.query, query)

    def rows(self, query: Query) -> list[dict[str, Any]]:
        result = self.query(query)
        return [dict(zip(result.column_names, row)) for row in result.result_rows]

    def scalar(self, query: Query) -> Any:
        rows = self.query(query).result_rows
        return rows[0][0] if rows else None

    def query_arrow(self, query: Query) -> pa.Table:
        if self.arrow is None:
            return self._run(self.client.query_arrow, query)
        if not isinstance(query, Query):
            raise TypeError(f"the store runs Query values, got {type(query).__name__}")
        try:
            return self.arrow.query(query.sql, query.parameters, query.settings)
        except EngineFailure as exc:
            raise from_engine(exc, query.name or "a statement") from exc

    def raw(self, query: Query, fmt: str) -> bytes:
        """The result in a ClickHouse output format (CSV, JSONEachRow, ...), as bytes."""
        return self._run(self.client.raw_query, query, fmt=fmt)

    def command(self, query: Query) -> Any:
        return self._run(self.client.command, query)

    @contextmanager
    def apart(self) -> Iterator[Store]:
        """This store on a client of its own, for long work (a job): a chDB client runs one call at
        a time, so long work on the shared client would stall every request queued behind it."""
        other = copy.copy(self)
        other.client = self.new_client()
        other.arrow = self._arrow_reader()
        try:
            yield other
        finally:
            if other.arrow is not None:
                other.arrow.close()
            other.client.close()

    def command_apart(self, query: Query) -> Any:
        """Run a long statement (an index build) on a handle of its own, so it never queues
        behind or ahead of the service's other queries on the shared client."""
        client = self.new_client()
        try:
            return self._run(client.command, query)
        finally:
            client.close()

    def insert(self, table: str, rows: list[list[Any]], column_names: list[str], settings: dict | None = None) -> None:
        try:
            self.client.insert(table, rows, column_names=column_names, database=self.database, settings=settings)
        except ClickHouseError as exc:
            raise from_engine(exc, f"the insert into {table}") from exc

    def warm_up_inserts(self) -> None:
        """Load what the first row insert loads: clickhouse-connect checks every insert's data for a
        pandas DataFrame, and its first check imports pandas (about 1 s: most of the first training
        round after a restart, bench/page_latency.py)."""
        from clickhouse_connect.driver import options

        getattr(options, "pd", None)

    def insert_arrow(self, table: str, arrow_table: pa.Table, settings: dict | None = None) -> None:
        try:
            self.client.insert_arrow(table, arrow_table, database=self.database, settings=settings)
        except ClickHouseError as exc:
            raise from_engine(exc, f"the insert into {table}") from exc

    def table_exists(self, table: str) -> bool:
        return bool(self.scalar(Query.named("meta.table_exists", db=self.database, table=table)))

    # -- schema ------------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply sql/schema/NNN_*.sql not yet recorded in schema_migrations, in order."""
        with self.lock:
            self.command(Query.named("meta.create_migrations"))
            done = {r["version"] for r in self.rows(Query.named("meta.applied_migrations"))}
            applied = []
            for version, statements in schema_files():
                if version in done:
                    continue
                for statement in statements:
                    self.command(statement)
                self.insert("schema_migrations", [[version]], column_names=["version"])
                applied.append(version)
        return applied
