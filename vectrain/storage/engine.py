"""Where the data lives and how to open it: the engine URL, and the one-process lock of chDB.

VECTRAIN_DATABASE_URL is `chdb:///<absolute path>` (the embedded engine, in this process) or
`http(s)://user:pass@host:8123/db` (a ClickHouse server). chDB allows one process per data path;
ClickHouse holds an exclusive flock on `<path>/status` while a process has it open. We check
that lock ourselves before opening, because the engine prints a C++ trace to stderr first, and
record who holds the path (`vectrain.owner.json`) so the next process can say which one does.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import json
import os
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import clickhouse_connect
from clickhouse_connect.driver.binding import bind_query
from clickhouse_connect.driver.client import Client

from vectrain.core.errors import BadInput, EngineLocked, ServiceUnavailable
from vectrain.storage.query import Query

if TYPE_CHECKING:  # imported where an Arrow table is built: a command that reads none never pays for it
    import pyarrow as pa

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
    def parse(cls, url: str) -> Target:
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
        shown = url if "@" not in url else url.split("://", 1)[0] + "://...@" + url.rsplit("@", 1)[-1]
        raise BadInput(
            f"VECTRAIN_DATABASE_URL={shown!r} is not understood: use chdb:///<absolute path> "
            "for the embedded engine or http://user:pass@host:8123/db for a ClickHouse server"
        )

    def new_client(self, chdb_options: dict[str, str] | None = None) -> Client:
        """A new clickhouse-connect client on this target (no database selected). chdb_options
        are engine (server) settings: the first client of a process starts the engine with them,
        later ones share it."""
        if self.kind == "chdb":
            return clickhouse_connect.get_client(interface="chdb", path=self.path, chdb_options=chdb_options)
        # No HTTP session: one query's settings must never leak into the next.
        return clickhouse_connect.get_client(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            secure=self.secure,
            autogenerate_session_id=False,
        )


class EngineFailure(Exception):
    """chDB's own error, with the ClickHouse code its message starts with (for errors.from_engine)."""

    def __init__(self, message: str):
        super().__init__(message)
        found = re.search(r"Code: (\d+)\.", message)
        self.code = int(found.group(1)) if found else None


def _owning_table(result) -> pa.Table:
    """The Arrow table of a chDB result, read in place, that keeps the result alive. chDB's own
    ArrowTable output reads it in place too but drops the result: uncompressed (as bulk reads
    ask), the table then points into memory the engine reuses, and read other rows or crashed."""
    import pyarrow as pa

    if len(result) == 0:
        return pa.table({})
    view = pa.py_buffer(result.get_memview().view())
    owned = pa.foreign_buffer(view.address, view.size, base=result)
    return pa.ipc.open_file(owned).read_all()


class ArrowReader:
    """Arrow reads straight from the embedded engine (Store.query_arrow on chDB). Through
    clickhouse-connect a read's result is copied into Python bytes, and its settings are applied
    by SET statements around it (eight engine calls a read); chDB's ArrowTable output hands over
    the table instead. Parameters are bound by clickhouse-connect's own binding, server-side as
    always. One call at a time per reader, as on a chDB client."""

    _SETTING = re.compile(r"^[a-z_][a-z0-9_]*$")

    def __init__(self, path: str, database: str):
        import chdb  # the embedded engine; a second connection in this process shares it

        self.conn = chdb.connect(os.path.realpath(path))  # as the engine opened it (clickhouse-connect resolves it)
        self.lock = threading.Lock()
        use = Query.named("meta.use_database", db=database)
        self.conn.query(use.sql, "CSV", params=self._params(use.sql, use.parameters))

    def query(self, sql: str, parameters: Mapping[str, Any], settings: Mapping[str, Any]) -> pa.Table:
        params = self._params(sql, parameters)
        if settings:
            sql = f"{sql}\nSETTINGS " + ", ".join(f"{self._name(k)} = {self._value(v)}" for k, v in settings.items())
        with self.lock:
            try:
                result = self.conn.query(sql, "Arrow", params=params)
            except Exception as exc:  # chdb raises its own error type with the engine's text
                self._reset()
                raise EngineFailure(str(exc)) from exc
        return _owning_table(result)

    def _reset(self) -> None:
        # After a query fails part-way through its result (e.g. a result-size limit), chDB's next
        # ArrowTable call on the connection fails with "Unexpected empty message in IPC file
        # format"; one throwaway call takes that failure.
        try:
            self.conn.query(Query.named("meta.ping").sql, "ArrowTable")
        except Exception:
            pass

    @staticmethod
    def _params(sql: str, parameters: Mapping[str, Any]) -> dict[str, str]:
        """Server-side parameters, formatted as clickhouse-connect formats them."""
        final, bound = bind_query(sql, dict(parameters))
        if final != sql.rstrip(";"):  # only {name:Type} placeholders: the SQL text never changes
            raise ValueError("ArrowReader binds server-side parameters only")
        return {key.removeprefix("param_"): value for key, value in bound.items()}

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @classmethod
    def _name(cls, name: str) -> str:
        if not cls._SETTING.match(name):
            raise ValueError(f"not a setting name: {name!r}")
        return name

    @staticmethod
    def _value(value: Any) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- the chDB path lock -------------------------------------------------------------------------
_OPENED_PATHS: set[str] = set()  # chDB paths this process opened (its own lock is no conflict)


def _owner_path(path: str) -> Path:
    return Path(path) / OWNER_FILE


def describe_owner(path: str) -> str:
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


def held_by_another_process(path: str) -> bool:
    """Whether another process holds ClickHouse's exclusive flock on <path>/status."""
    status = Path(path) / "status"
    if os.path.realpath(path) in _OPENED_PATHS or not status.exists():
        return False
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


def check_data_path(path: str) -> None:
    """A usable chDB data directory, or one line that says what is wrong with it."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ServiceUnavailable(
            f"The database path {path} is a file, not a directory: "
            "point VECTRAIN_DATABASE_URL at a directory (chdb:///<dir>)."
        )
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServiceUnavailable(
            f"Cannot create the database directory {path}: {os.strerror(exc.errno) if exc.errno else exc}."
        ) from None
    if os.statvfs(p).f_flag & os.ST_RDONLY:
        raise ServiceUnavailable(
            f"The database directory {path} is on a read-only file system: "
            "choose a writable path (VECTRAIN_DATABASE_URL=chdb:///<dir>)."
        )
    if not os.access(p, os.W_OK | os.X_OK):
        raise ServiceUnavailable(
            f"The database directory {path} is not writable by this user "
            f"(uid {os.getuid()}): fix its permissions or choose another path."
        )


def engine_options(index_cache_bytes: int) -> dict[str, str]:
    """Server settings of the embedded engine. The vector index cache must hold the largest part's
    index: by default it is 5 GiB, split 50/50 by SLRU, so a 4M-row part (about 6 GB in memory)
    was never cached and every search read it from disk again (8-21 s)."""
    if index_cache_bytes <= 0:
        index_cache_bytes = memory_bytes() // 2
    return {"vector_similarity_index_cache_size": str(index_cache_bytes), "vector_similarity_index_cache_policy": "LRU"}


def memory_bytes() -> int:
    """This machine's memory, or the container's limit (cgroup v2 or v1) when that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():  # "max" (v2) or a huge number (v1) when unlimited
            return min(total, int(limit))
    return total


def open_client(target: Target, owner: str, url: str | None, chdb_options: dict[str, str] | None = None) -> Client:
    """The service's client: for chDB, after checking the path and its lock."""
    if target.kind != "chdb":
        return target.new_client()
    path = target.path
    check_data_path(path)
    locked = EngineLocked(
        f"The database at {path} is in use by {describe_owner(path)}; chDB allows one "
        "process per path. Stop that process, or send requests to the running service "
        "(vectrain --url http://HOST:PORT ...).",
        path=path,
    )
    if held_by_another_process(path):
        raise locked  # checked first: the engine itself would print a trace to stderr
    try:
        client = target.new_client(chdb_options)
    except Exception as exc:  # chDB raises with the engine's text and no structured code
        text = str(exc)
        if "Cannot lock file" in text:
            raise locked from None
        if "EmbeddedServer already initialized" in text:
            raise EngineLocked(f"This process already opened another chDB path; it cannot also open {path}.") from None
        if "Read-only file system" in text or getattr(exc, "errno", None) == errno.EROFS:
            raise ServiceUnavailable(f"The database directory {path} is on a read-only file system.") from None
        if "Permission denied" in text or "Access to file denied" in text or "Cannot open file" in text:
            raise ServiceUnavailable(
                f"The database directory {path} (or a file in it) is not writable by this "
                f"user (uid {os.getuid()}): fix its permissions or choose another path."
            ) from None
        first = text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__
        raise ServiceUnavailable(f"Cannot open the database at {path}: {first}") from None
    _OPENED_PATHS.add(os.path.realpath(path))
    _write_owner(path, owner, url)
    return client


def _write_owner(path: str, owner: str, url: str | None) -> None:
    info = {"pid": os.getpid(), "command": owner, "url": url}
    try:
        _owner_path(path).write_text(json.dumps(info))
    except OSError:
        return
    atexit.register(remove_owner, path)


def remove_owner(path: str) -> None:
    owner = _owner_path(path)
    try:
        if json.loads(owner.read_text()).get("pid") == os.getpid():
            owner.unlink()
    except (OSError, ValueError):
        pass
