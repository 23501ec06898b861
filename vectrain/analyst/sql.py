"""Analysts' SQL (POST /sql and `vectrain sql`): read-only by construction.

The engine's `readonly` setting is not a sandbox: under readonly=1 ClickHouse still writes files
with INTO OUTFILE, reads files and fetches URLs through table functions (schema inference in
DESCRIBE and EXPLAIN included) and runs KILL QUERY. So what a statement is, is decided with
ClickHouse's own parser before anything runs (sql/queries/analyst.sql):

1. `parseQueryToJSON` parses the text, a bound value (never run), into the engine's AST as JSON;
   it refuses multi-statements and anything it cannot represent faithfully.
2. vectrain.analyst.check walks that tree against allow-lists and refuses anything else.
3. What runs is `formatQueryFromJSON` of the checked tree, parsed once more exactly as the
   client sends it (with `FORMAT Native` appended): the tree must come back identical.

The engine enforces the rest on every handle: time, memory, rows read and rows returned, with
readonly=1 applied last so nothing can lower it. Statements run on a small pool of handles
(vectrain.analyst.pool); a handle that saw an error is closed by the one thread that holds it and
replaced later, so one client's failure never reaches another's query.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError
from clickhouse_connect.driver.exceptions import Error as ClientError

from vectrain.analyst.check import (
    READ_ONLY,
    check_describe,
    check_show_create,
    check_statement,
    describe_source,
    refuse,
)
from vectrain.analyst.pool import Pool
from vectrain.analyst.results import Body
from vectrain.core.config import Settings
from vectrain.core.errors import (
    BadInput,
    Forbidden,
    ServiceUnavailable,
    TimeBudgetExceeded,
    TooLarge,
    engine_code,
)
from vectrain.storage.query import Query

if TYPE_CHECKING:
    from vectrain.storage.store import Store

ClientFactory = Callable[[], Client]
BYTES = {"String": "bytes", "FixedString": "bytes"}  # read as bytes: text or binary is decided per value


def _engine_refused(why: str) -> Forbidden:
    """The engine itself refused (readonly, access rights): the handle saw an error."""
    return Forbidden(f"{READ_ONLY}: {why}. Nothing was changed.")


def _comparable(ast: Any, client_format: bool = False) -> Any:
    """The tree as compared before running: without `is_operator` (how a call is printed,
    e.g. `a ? b : c` comes back as `if(a, b, c)`), and with `client_format` without the one
    `FORMAT Native` the client appends (None if it is not there exactly once)."""
    found = []

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "is_operator":
                continue
            if client_format and key == "format_ast" and value == {"type": "Identifier", "name": "Native"}:
                found.append(key)
                continue
            out[key] = walk(value)
        return out

    tree = walk(ast)
    return None if client_format and len(found) != 1 else tree


# -- engine errors -------------------------------------------------------------------------------
_TIMEOUT, _MEMORY, _TOO_MANY_ROWS = 159, 241, 158
_READONLY, _ACCESS_DENIED, _SYNTAX = 164, 497, 62
_BAD_ARGUMENTS, _UNKNOWN_FUNCTION, _UNKNOWN_QUERY_PARAMETER = 36, 46, 456
# An absolute path (a server file or data directory) is never echoed back.
_PATH = re.compile(r"(?<![\w.:/])/[^\s'\"`(),;]+")


def _engine_message(exc: Exception, drop_scope: bool = False) -> str:
    """One clean line of the engine's message: no error-code prefixes, version trailer or paths."""
    text = " ".join(str(exc).split())
    text = re.sub(r"Code: \d+\. DB::Exception: ", "", text)
    text = re.sub(r"\s*\(version [^)]*\)", "", text)
    if drop_scope:  # the scope is the checking query wrapped around the user's text
        text = re.split(r":? In scope ", text, maxsplit=1)[0]
    text = _PATH.sub("<path>", text).strip().rstrip(".")
    return text[:600]


class AnalystSQL:
    """Runs analysts' statements: checked by the engine's parser, limited by the engine, on a
    pool of handles of their own (never the handle the service writes with)."""

    def __init__(self, client_factory: ClientFactory, database: str, settings: Settings):
        self.database = database
        self.settings = settings
        self._factory = client_factory
        self._pool = Pool(self._new_handle, settings.sql_pool_size, settings.sql_pool_wait_seconds, _engine_message)

    @classmethod
    def for_store(cls, store: Store) -> AnalystSQL:
        """Handles on the store's engine, or on VECTRAIN_SQL_DATABASE_URL (a reader account on the
        same ClickHouse server) when it is set."""
        from vectrain.storage.engine import Target

        url = store.settings.sql_database_url
        if not url:
            return cls(store.new_client, store.database, store.settings)
        try:
            target = Target.parse(url)
        except BadInput as exc:
            raise ServiceUnavailable(
                exc.message.replace("VECTRAIN_DATABASE_URL", "VECTRAIN_SQL_DATABASE_URL")
            ) from None
        if target.kind != "http" or store.target.kind != "http":
            raise ServiceUnavailable(
                "VECTRAIN_SQL_DATABASE_URL names a reader account on the ClickHouse server "
                "of VECTRAIN_DATABASE_URL; it does not apply to the embedded engine."
            )
        if (target.database or store.database) != store.database:
            raise ServiceUnavailable(f"VECTRAIN_SQL_DATABASE_URL must name the database {store.database!r}.")
        return cls(target.new_client, store.database, store.settings)

    def engine_limits(self) -> dict[str, Any]:
        """Per-handle engine settings, readonly last so no later setting can lower it."""
        s = self.settings
        return {
            "max_execution_time": s.sql_max_execution_time,
            "timeout_overflow_mode": "throw",
            "max_memory_usage": s.sql_max_memory_usage,
            "max_bytes_before_external_group_by": s.sql_max_memory_usage // 2,
            "max_bytes_before_external_sort": s.sql_max_memory_usage // 2,
            "max_rows_to_read": s.sql_max_rows_to_read,
            "read_overflow_mode": "throw",
            "max_result_rows": s.sql_max_result_rows,
            # The body is cut at VECTRAIN_SQL_MAX_RESULT_BYTES of JSON while it is read; the engine
            # stops making blocks past 4x that in memory (a number's JSON is at least a quarter of its
            # 8 bytes), so what it drops would have been cut anyway, and an in-process result stays small.
            "max_result_bytes": 4 * s.sql_max_result_bytes,
            "result_overflow_mode": "break",
            "readonly": 1,
        }

    def _new_handle(self) -> Client:
        client = self._factory()
        try:
            client.database = self.database
            for key, value in self.engine_limits().items():
                client.set_client_setting(key, value)
        except Exception:
            client.close()
            raise
        return client

    def close(self) -> None:
        self._pool.close()

    # -- running a statement -----------------------------------------------------------------------
    def run_json(self, query: str, max_rows: int | None = None) -> bytes:
        """Check and run one statement; the JSON body of its columns, types, rows and whether
        rows were cut."""
        cap = self.settings.sql_max_result_rows
        max_rows = min(max_rows or cap, cap)
        if not isinstance(query, str) or not query.strip():
            raise BadInput("The query is empty.")
        if len(query) > self.settings.sql_max_query_length:
            raise BadInput(
                f"The query is {len(query)} characters long; the limit is "
                f"{self.settings.sql_max_query_length} (VECTRAIN_SQL_MAX_QUERY_LENGTH)."
            )
        with self._pool.handle() as client:
            try:
                statement = self._checked(client, query)
                return self._read(client, statement, max_rows)
            except DatabaseError as exc:
                raise self._error(exc) from None
            except ClientError as exc:  # the connection, not the statement
                raise ServiceUnavailable(f"The database did not answer: {_engine_message(exc)}") from None
            except UnicodeDecodeError:  # the driver decodes names and types as UTF-8
                raise BadInput(
                    "The result's column names or types are not valid UTF-8: name the columns with AS."
                ) from None

    def run(self, query: str, max_rows: int | None = None) -> dict[str, Any]:
        """Check and run one statement; returns columns, types, rows and whether rows were cut."""
        return json.loads(self.run_json(query, max_rows))

    def _read(self, client: Client, statement: str, max_rows: int) -> bytes:
        """The result as a JSON body, read block by block and cut at the row and byte limits
        (vectrain.analyst.results): what is past them is never read."""
        context = client.create_query_context(query=statement, streaming=True, query_formats=BYTES)
        result = client.query(context=context)
        body = Body(list(result.column_names), list(result.column_types), max_rows, self.settings.sql_max_result_bytes)
        with result.row_block_stream as blocks:
            for block in blocks:
                if not all(body.add(row) for row in block):
                    break
        return body.bytes()

    @staticmethod
    def _parse(client: Client, query: Query) -> str | None:
        """The engine's parser applied to a bound value (never run); None when the statement
        has no JSON form (parseQueryToJSON's BAD_ARGUMENTS)."""
        try:
            return _text(client.query(query.sql, parameters=dict(query.parameters), query_formats=BYTES).first_row[0])
        except DatabaseError as exc:
            if query.name != "analyst.canonical" and engine_code(exc) == _BAD_ARGUMENTS:
                return None
            if engine_code(exc) == _UNKNOWN_FUNCTION:
                raise ServiceUnavailable(
                    "This ClickHouse server cannot parse statements for POST /sql "
                    "(no parseQueryToJSON); use ClickHouse 26.9 or later."
                ) from None
            raise BadInput(f"ClickHouse rejected the query: {_engine_message(exc, drop_scope=True)}") from None

    def _checked(self, client: Client, query: str) -> str:
        """The statement to run, once the engine's parser has shown it is allowed."""
        parsed = self._parse(client, Query.named("analyst.parse", statement=query))
        if parsed is None:
            return self._checked_without_json(client, query)  # DESCRIBE, SHOW CREATE TABLE, or refused
        ast = _load(parsed)
        check_statement(ast, self.database)
        formatted = Query.named("analyst.format_checked", tree=_raw(parsed))
        row = client.query(formatted.sql, parameters=dict(formatted.parameters), query_formats=BYTES).first_row
        statement, reparsed = _text(row[0]), _text(row[1])
        if statement != _escaped(statement):
            # Bytes that are not UTF-8 in a literal (`'\\xff'` formats back as the raw byte): the client
            # sends UTF-8, so they go as escapes, and that text must parse back to the same tree.
            statement = _escaped(statement)
            reparsed = self._parse(client, Query.named("analyst.parse", statement=statement + "\n FORMAT Native"))
        # The client appends "\n FORMAT Native" to what it sends: that exact text must parse back to
        # the tree that was checked, plus that format.
        try:
            same = reparsed is not None and _comparable(_load(reparsed), client_format=True) == _comparable(ast)
        except RecursionError:
            raise _too_deep() from None
        if not same:
            raise refuse("its text did not parse back to the statement that was checked")
        return statement

    def _checked_without_json(self, client: Client, query: str) -> str:
        """DESCRIBE and SHOW CREATE TABLE (no JSON form): checked from the engine's one-line
        rendering of the statement, which is also what runs."""
        canonical = _escaped(self._parse(client, Query.named("analyst.canonical", statement=query)))
        source = describe_source(canonical)
        if source is not None:
            parsed = self._parse(client, Query.named("analyst.parse_table_expression", source=source))
            if parsed is None:
                raise refuse("DESCRIBE takes one table, allowed table function or subquery, and nothing after it")
            check_describe(_load(parsed), self.database)
            return canonical
        if check_show_create(canonical, self.database):
            return canonical
        raise refuse(f"{' '.join(canonical.split(' ', 2)[:2])} statements are not allowed")

    def _error(self, exc: DatabaseError) -> Exception:
        """An engine error as a message the analyst can act on, chosen by the engine's error code."""
        code = engine_code(exc)
        s = self.settings
        if code == _TIMEOUT:
            return TimeBudgetExceeded(
                f"The query ran longer than {s.sql_max_execution_time:g} s and was stopped "
                "(VECTRAIN_SQL_MAX_EXECUTION_TIME)."
            )
        if code == _MEMORY:
            return TooLarge(
                f"The query needed more than {s.sql_max_memory_usage / 1e6:.0f} MB of memory and was "
                "stopped (VECTRAIN_SQL_MAX_MEMORY_USAGE): aggregate less, or filter first."
            )
        if code == _TOO_MANY_ROWS:
            return TooLarge(
                f"The query would read more than {s.sql_max_rows_to_read:,} rows and was stopped "
                "(VECTRAIN_SQL_MAX_ROWS_TO_READ): filter or sample first."
            )
        if code in (_READONLY, _ACCESS_DENIED):
            return _engine_refused(_engine_message(exc))
        if code == _SYNTAX:
            return BadInput(f"ClickHouse rejected the query: {_engine_message(exc, drop_scope=True)}")
        if code == _UNKNOWN_QUERY_PARAMETER:
            return _engine_refused("query parameters ({name:Type}) are not supported")
        return BadInput(f"ClickHouse rejected the query: {_engine_message(exc)}")


def _text(value: bytes) -> str:
    """The engine's String as text; bytes that are not UTF-8 are kept (as surrogates) so the
    tree still compares, and go back as the same bytes (_raw)."""
    return value.decode("utf-8", "surrogateescape")


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _escaped(statement: str) -> str:
    """The statement with every byte that is not UTF-8 as a `\\xHH` escape. Such bytes come only
    from escapes in string literals and quoted identifiers, where the escape means the same byte."""
    return _NOT_UTF8.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02X}", statement)


def _load(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise _too_deep() from None


def _too_deep() -> BadInput:
    return BadInput("The query is nested too deeply to check; split it up (e.g. with WITH ... AS).")
