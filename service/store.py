"""The one connection to ClickHouse: embedded chDB or a server, same SQL.

Store opens the client, applies sql/schema/*.sql in order (recorded in schema_migrations),
and runs the named queries of sql/queries/*.sql with bound parameters. Vector SQL comes from
service.vectorsql; no other module writes SQL.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from service.config import SQL_DIR, Settings
from service.errors import EngineLocked, NotFound, BadInput
from service.vectorsql import Dialect, get_dialect, validate_name

OWNER_FILE = "vectrain.owner.json"


@dataclass(frozen=True)
class Target:
    """Where the data lives, parsed from VECTRAIN_DATABASE_URL."""

    kind: str  # "chdb" | "http"
    path: str | None = None
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = None
    secure: bool = False
    database: str | None = None

    @classmethod
    def parse(cls, url: str) -> "Target":
        parsed = urlparse(url)
        if parsed.scheme == "chdb":
            path = unquote(parsed.netloc + parsed.path)
            if not path.startswith("/"):
                raise BadInput(f"VECTRAIN_DATABASE_URL={url!r}: use chdb:///<absolute path> (three slashes)")
            return cls(kind="chdb", path=path)
        if parsed.scheme in ("http", "https", "clickhouse"):
            db = parsed.path.strip("/") or None
            return cls(
                kind="http",
                host=parsed.hostname or "localhost",
                port=parsed.port or (8443 if parsed.scheme == "https" else 8123),
                username=unquote(parsed.username) if parsed.username else "default",
                password=unquote(parsed.password) if parsed.password else "",
                secure=parsed.scheme == "https",
                database=db,
            )
        raise BadInput(
            f"VECTRAIN_DATABASE_URL={url!r} is not understood: use chdb:///<absolute path> "
            "for the embedded engine or http://user:pass@host:8123/db for a ClickHouse server"
        )


def _owner_path(path: str) -> Path:
    return Path(path) / OWNER_FILE


def _describe_owner(path: str) -> str:
    """Who holds the chDB path, from the owner file the holder wrote when it opened it."""
    try:
        owner = json.loads(_owner_path(path).read_text())
    except (OSError, ValueError):
        return "another process"
    pid = owner.get("pid")
    alive = pid is not None and Path(f"/proc/{pid}").exists() if sys.platform == "linux" else True
    if not alive:
        return "another process"
    what = owner.get("command", "vectrain")
    url = owner.get("url")
    return f"process {pid} ({what}{' at ' + url if url else ''})"


_OPENED_PATHS: set[str] = set()  # chDB paths this process opened (its own lock is no conflict)


def _held_by_another_process(path: str) -> bool:
    """ClickHouse holds an exclusive flock on <path>/status while a process has the path open."""
    status = Path(path) / "status"
    if os.path.realpath(path) in _OPENED_PATHS or not status.exists():
        return False
    import fcntl

    try:
        with open(status, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def lock_holder_url(path: str) -> str | None:
    """The URL of the running `vectrain serve` that holds this chDB path, if any."""
    try:
        return json.loads(_owner_path(path).read_text()).get("url")
    except (OSError, ValueError):
        return None


class Store:
    """A clickhouse-connect client plus vectrain's schema and named queries."""

    def __init__(self, settings: Settings, *, owner: str = "vectrain", url: str | None = None):
        self.settings = settings
        self.target = Target.parse(settings.database_url)
        self.database = validate_name(self.target.database or settings.database, what="database")
        self.dialect: Dialect = get_dialect(settings.dialect)
        self._owner = owner
        self._url = url
        self._queries = load_queries(SQL_DIR / "queries")
        self.client = self._connect()
        self._lock = threading.Lock()
        self._registry: dict[str, dict[str, Any]] = {}
        self._readonly_client: Client | None = None
        self._readonly_lock = threading.Lock()

    # -- connection ------------------------------------------------------------------------
    def _new_client(self) -> Client:
        t = self.target
        if t.kind == "chdb":
            return clickhouse_connect.get_client(interface="chdb", path=t.path)
        # No HTTP session: one query's settings must never leak into the next.
        return clickhouse_connect.get_client(host=t.host, port=t.port, username=t.username, password=t.password,
                                             secure=t.secure, autogenerate_session_id=False)

    def _connect(self) -> Client:
        t = self.target
        if t.kind == "chdb":
            Path(t.path).mkdir(parents=True, exist_ok=True)
            locked = EngineLocked(
                f"The database at {t.path} is in use by {_describe_owner(t.path)}; chDB allows one "
                "process per path. Stop that process, or send requests to the running service "
                "(vectrain --url http://HOST:PORT ...)."
            )
            if _held_by_another_process(t.path):
                raise locked  # checked first: the engine itself would print a trace to stderr
            try:
                client = self._new_client()
            except Exception as exc:  # chDB raises ProgrammingError with the engine's text
                text = str(exc)
                if "Cannot lock file" in text or "Error initializing EmbeddedServer" in text:
                    raise locked from None
                if "EmbeddedServer already initialized" in text:
                    raise EngineLocked(
                        f"This process already opened another chDB path; it cannot also open {t.path}."
                    ) from None
                raise
            _OPENED_PATHS.add(os.path.realpath(t.path))
            self._write_owner()
        else:
            client = self._new_client()
        client.command(self.sql("meta.create_database"), parameters={"db": self.database})
        client.database = self.database
        return client

    def _write_owner(self) -> None:
        path = _owner_path(self.target.path)
        info = {"pid": os.getpid(), "command": self._owner, "url": self._url}
        try:
            path.write_text(json.dumps(info))
        except OSError:
            return
        atexit.register(self._remove_owner)

    def _remove_owner(self) -> None:
        path = _owner_path(self.target.path)
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass

    def readonly_client(self) -> Client:
        """A separate handle for analysts' SQL. A refused write can leave a chDB handle stuck in
        readonly mode (measured), so that handle is never the one the service writes with."""
        if self._readonly_client is None:
            self._readonly_client = self._new_client()
            self._readonly_client.database = self.database
        return self._readonly_client

    def reset_readonly_client(self) -> None:
        if self._readonly_client is not None:
            self._readonly_client.close()
            self._readonly_client = None

    def close(self) -> None:
        self.reset_readonly_client()
        self.client.close()
        if self.target.kind == "chdb":
            self._remove_owner()

    # -- schema ----------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply sql/schema/NNN_*.sql not yet recorded in schema_migrations, in order."""
        self.command("meta.create_migrations")
        done = {r[0] for r in self.query("meta.applied_migrations").result_rows}
        applied = []
        for path in sorted((SQL_DIR / "schema").glob("*.sql")):
            if path.stem in done:
                continue
            for statement in split_statements(path.read_text()):
                self.client.command(statement)
            self.client.insert("schema_migrations", [[path.stem]], column_names=["version"])
            applied.append(path.stem)
        return applied

    # -- running SQL -----------------------------------------------------------------------
    def sql(self, query_name: str) -> str:
        """The text of a named query from sql/queries/<file>.sql ("file.name")."""
        try:
            return self._queries[query_name]
        except KeyError:
            raise KeyError(f"no named query {query_name!r} in sql/queries") from None

    def query(self, query_name: str, /, settings: dict | None = None, **params: Any):
        """Run a named query; parameters are bound by ClickHouse, never formatted."""
        return self.client.query(self.sql(query_name), parameters=params, settings=settings)

    def rows(self, query_name: str, /, **params: Any) -> list[dict[str, Any]]:
        result = self.query(query_name, **params)
        return [dict(zip(result.column_names, row)) for row in result.result_rows]

    def command(self, query_name: str, /, settings: dict | None = None, **params: Any) -> Any:
        return self.client.command(self.sql(query_name), parameters=params, settings=settings)

    def run(self, sql: str, parameters: dict | None = None, settings: dict | None = None):
        """Run SQL built by service.vectorsql (the one module that builds SQL text)."""
        return self.client.query(sql, parameters=parameters, settings=settings)

    def execute(self, sql: str, parameters: dict | None = None, settings: dict | None = None) -> Any:
        return self.client.command(sql, parameters=parameters, settings=settings)

    def insert_arrow(self, table: str, arrow_table, settings: dict | None = None) -> None:
        self.client.insert_arrow(table, arrow_table, database=self.database, settings=settings)

    def insert(self, table: str, rows: list[list[Any]], column_names: list[str], settings: dict | None = None):
        self.client.insert(table, rows, column_names=column_names, database=self.database, settings=settings)

    def table_exists(self, table: str) -> bool:
        return bool(self.query("meta.table_exists", db=self.database, table=table).result_rows[0][0])

    # -- datasets registry -----------------------------------------------------------------
    def dataset(self, name: str, count: bool = True) -> dict[str, Any]:
        """The registry row of a dataset (plus its live row count); NotFound if unknown.

        Registry rows change only through this Store (create/drop), so they are cached: a
        search should not pay for a FINAL read of the registry.
        """
        validate_name(name)
        info = self._registry.get(name)
        if info is None:
            found = self.rows("datasets.get", name=name)
            if not found:
                known = [d["name"] for d in self.rows("datasets.list")]
                hint = f" Known datasets: {', '.join(known)}." if known else " No datasets are loaded yet."
                raise NotFound(f"Unknown dataset {name!r}.{hint} Load one with `vectrain load ...`.")
            info = {**found[0], "table": items_table(name)}
            self._registry[name] = info
        info = dict(info)
        if count:
            info["rows"] = self.count_rows(name)
        return info

    def datasets(self) -> list[dict[str, Any]]:
        out = []
        for info in self.rows("datasets.list"):
            info["table"] = items_table(info["name"])
            info["rows"] = self.count_rows(info["name"])
            out.append(info)
        return out

    def count_rows(self, name: str) -> int:
        return int(self.query("items.count", db=self.database, items=items_table(name)).result_rows[0][0])

    def create_dataset(self, name: str, dim: int, encoder: str, model: str = "", metric: str = "cosine",
                       description: str = "") -> dict[str, Any]:
        """Create the registry row and items table, or check an existing one matches."""
        validate_name(name)
        with self._lock:
            existing = self.rows("datasets.get", name=name)
            if existing:
                info = existing[0]
                if int(info["dim"]) != int(dim):
                    raise BadInput(
                        f"Dataset {name!r} holds {info['dim']}-dimensional vectors; these have {dim}. "
                        "Load into a new dataset name instead."
                    )
                if info["encoder"] != encoder or (model and info["model"] and info["model"] != model):
                    raise BadInput(
                        f"Dataset {name!r} was encoded with {info['encoder']} {info['model']}".rstrip()
                        + f"; this load uses {encoder} {model}".rstrip()
                        + ". Mixing encoders in one table makes distances meaningless: use a new dataset name."
                    )
            else:
                ddl = self.dialect.create_items_table(self.database, items_table(name), dim,
                                                      self.settings.ann_quantization, self.has_index(dim))
                for statement in ddl:
                    self.client.command(statement)
                self.command("datasets.insert", name=name, dim=int(dim), encoder=encoder, model=model,
                             metric=metric, description=description)
        return self.dataset(name)

    def has_index(self, dim: int) -> bool:
        """Datasets above ann_index_max_dim (raw pixels) get no HNSW index: it would take far
        longer to build than the load, and full scans serve their exact kNN anyway."""
        return int(dim) <= self.settings.ann_index_max_dim

    def drop_dataset(self, name: str) -> None:
        self.dataset(name)
        self._registry.pop(name, None)
        self.client.command(self.dialect.drop_table(self.database, items_table(name)))
        self.command("datasets.delete", name=name)


def items_table(dataset: str) -> str:
    return f"items_{validate_name(dataset)}"


# -- sql/ files ------------------------------------------------------------------------------
_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.M)


def load_queries(folder: Path) -> dict[str, str]:
    """Parse sql/queries/<file>.sql; each query starts with a `-- name: xyz` line -> "file.xyz"."""
    queries: dict[str, str] = {}
    for path in sorted(folder.glob("*.sql")):
        text = path.read_text()
        marks = list(_NAME_LINE.finditer(text))
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            body = text[mark.end():end].strip().rstrip(";").strip()
            queries[f"{path.stem}.{mark.group(1)}"] = body
    return queries


def split_statements(text: str) -> list[str]:
    """Statements of a schema file: separated by a `;` at the end of a line; comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    parts = re.split(r";\s*$", "\n".join(lines), flags=re.M)
    return [p.strip() for p in parts if p.strip()]


def readonly_query(store: Store, sql: str, max_rows: int | None = None,
                   max_seconds: float | None = None) -> dict[str, Any]:
    """Run an analyst's SQL with the engine's readonly setting and limits.

    readonly=1 is the last setting sent, so the query cannot raise the limits in its own
    SETTINGS clause, and every write or DDL statement is refused by the engine itself.
    """
    from service.errors import Forbidden

    max_rows = max_rows or store.settings.sql_max_result_rows
    limits = {
        "max_execution_time": max_seconds or store.settings.sql_max_execution_time,
        "max_result_rows": max_rows,
        "result_overflow_mode": "break",
        "readonly": 1,
    }
    if not sql or not sql.strip():
        raise BadInput("The query is empty")
    try:
        with store._readonly_lock:
            result = store.readonly_client().query(sql, settings=limits)
    except Exception as exc:
        store.reset_readonly_client()  # never reuse a handle a failed query may have changed
        text = str(exc)
        if "READONLY" in text or "readonly mode" in text:
            raise Forbidden("This endpoint is read-only: SELECT, SHOW, DESCRIBE and EXPLAIN only. "
                            "Nothing was changed.") from None
        if "TIMEOUT_EXCEEDED" in text:
            raise BadInput(f"The query ran longer than {limits['max_execution_time']} s and was stopped.") from None
        message = text.split("(version")[0].strip()
        raise BadInput(f"ClickHouse rejected the query: {message}") from None
    rows = result.result_rows
    truncated = len(rows) > max_rows
    return {
        "columns": list(result.column_names),
        "types": [t.name for t in result.column_types],
        "rows": [list(r) for r in rows[:max_rows]],
        "truncated": truncated,
    }
