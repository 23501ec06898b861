"""Analysts' SQL (POST /sql and `vectrain sql`): read-only by construction.

The engine's `readonly` setting is not a sandbox: under readonly=1 ClickHouse still writes files
with INTO OUTFILE, reads files and fetches URLs through table functions (schema inference in
DESCRIBE and EXPLAIN included) and runs KILL QUERY. So what a statement is, is decided here, with
ClickHouse's own parser, before anything runs:

1. `parseQueryToJSON` parses the text, passed as a bound value (never run), into the engine's
   AST as JSON; it refuses multi-statements and anything it cannot represent faithfully.
2. `check_statement` walks that tree against allow-lists: SELECT / WITH ... SELECT, EXPLAIN of
   such a SELECT, a few SHOW forms, over this database's tables, a few harmless system tables and
   table functions, and no dangerous function anywhere. Unknown node types or clauses (SETTINGS,
   INTO OUTFILE, FORMAT, a clause added by a newer engine) are refused, not ignored.
3. The statement that runs is `formatQueryFromJSON` of the checked tree, and it is parsed once
   more exactly as the client sends it (with `FORMAT Native` appended): the tree must come back
   identical, so what runs is what was checked.

DESCRIBE and SHOW CREATE TABLE have no JSON form in this engine version; DESCRIBE's table
expression is checked as `SELECT * FROM <it>`, and SHOW CREATE TABLE must name a table of this
database (see `_check_describe`, `_check_show_create`).

The engine enforces the rest on every handle: time, memory, rows read and rows returned, with
readonly=1 applied last so nothing can lower it. Statements run on a small pool of handles; a
handle that saw an error is closed by the one thread that holds it and replaced later, so one
client's failure never reaches another's query.
"""

from __future__ import annotations

import json
import re
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError
from clickhouse_connect.driver.exceptions import Error as ClientError

from service.config import Settings
from service.errors import (BadInput, Forbidden, ServiceUnavailable, TimeBudgetExceeded, TooBusy, TooLarge,
                            engine_code)

if TYPE_CHECKING:
    from service.store import Store

ClientFactory = Callable[[], Client]

READ_ONLY = ("SQL here is read-only (SELECT, WITH ... SELECT, SHOW TABLES/COLUMNS/DATABASES, SHOW CREATE "
             "TABLE, DESCRIBE and EXPLAIN over this database's tables)")

# Table functions that only generate data. Every other one reads files, URLs, object stores,
# other servers or other tables (file, url, s3, remote, mysql, executable, merge, view, ...).
# (zeros() is refused by the engine itself under readonly=1; system.zeros works.)
ALLOWED_TABLE_FUNCTIONS = frozenset({
    "numbers", "numbers_mt", "generateSeries", "generate_series", "generateRandom", "values",
})
# System tables that only generate data; the rest describe the server, its users and queries.
ALLOWED_SYSTEM_TABLES = frozenset({"one", "numbers", "numbers_mt", "zeros", "zeros_mt"})

# Every table function of ClickHouse 26.9 (chDB 4.4), lower-cased. A function call with one of
# these names is refused wherever it appears (e.g. `x IN url(...)`), unless allowed above;
# tests/test_security_sql.py checks this list against the engine's system.table_functions.
TABLE_FUNCTIONS = frozenset(name.lower() for name in """
    SQLStandardValues arrowstream azureBlobStorage azureBlobStorageCluster bigquery cluster
    clusterAllReplicas cosn deltaLake deltaLakeAzure deltaLakeAzureCluster deltaLakeCluster deltaLakeLocal
    deltaLakeS3 deltaLakeS3Cluster dictionary eval executable file fileCluster filesystem format fuzzJSON
    fuzzQuery gcs generateRandom generateSeries generate_series hdfs hdfsCluster hudi hudiCluster iceberg
    icebergAzure icebergAzureCluster icebergCluster icebergHDFS icebergHDFSCluster icebergLocal
    icebergLocalCluster icebergS3 icebergS3Cluster input jdbc loop merge mergeTreeAnalyzeIndexes
    mergeTreeAnalyzeIndexesUUID mergeTreeCodecBlockCounts mergeTreeIndex mergeTreeProjection mergeTreeTextIndex
    mongodb mysql null numbers numbers_mt odbc oss paimon paimonAzure paimonAzureCluster paimonCluster
    paimonHDFS paimonHDFSCluster paimonLocal paimonS3 paimonS3Cluster postgresql primes prometheusQuery
    prometheusQueryRange python redis remote remoteSecure s3 s3Cluster sqlite timeSeriesData
    timeSeriesMetricFamilies timeSeriesMetrics timeSeriesSamples timeSeriesSelector timeSeriesTags url
    urlCluster values view viewExplain viewIfPermitted ytsaurus zeros zeros_mt
""".split())
# Also regular functions; allowed where a regular function is meant (format('{} {}', a, b)).
REGULAR_FUNCTIONS_NAMED_LIKE_TABLE_FUNCTIONS = frozenset({"format"})

# Regular functions (lower-cased, aliases included) that read files, reach the network or other
# tables by name, write to logs or Keeper, or reveal the server's configuration, paths, hosts,
# ports or certificates.
DENIED_FUNCTIONS = frozenset(name.lower() for name in """
    file catboostEvaluate modelEvaluate naiveBayesClassifier naiveBayesClassifierWithProb
    naiveBayesClassifierWithAllProbs joinGet joinGetOrNull hasColumnInTable
    aiClassify aiEmbed aiExtract aiFilter aiGenerate aiRedact aiSimilarity aiTranslate
    getSetting getSettingOrDefault getServerSetting getMergeTreeSetting getMacro getServerPort tcpPort
    getClientHTTPHeader currentRequestURL currentHandler hostName hostname FQDN fullHostName displayName
    serverUUID buildId getOSKernelVersion showCertificate zookeeperSessionUptime
    currentProfiles enabledProfiles defaultProfiles currentRoles enabledRoles defaultRoles
    addressToLine addressToLineWithInlines addressToSymbol demangle trap logTrace generateSerialID
""".split())
# Whole families: dictionaries (external sources), the geobase (server files), filesystem
# sizes of the server's disks, and engine-internal functions.
DENIED_FUNCTION_PREFIXES = ("dict", "region", "filesystem", "__")

IN_FUNCTIONS = frozenset(name.lower() for name in """
    in notIn globalIn globalNotIn nullIn notNullIn globalNullIn globalNotNullIn inIgnoreSet notInIgnoreSet
    globalInIgnoreSet globalNotInIgnoreSet nullInIgnoreSet notNullInIgnoreSet globalNullInIgnoreSet
    globalNotNullInIgnoreSet
""".split())

EXPLAIN_KINDS = frozenset({"EXPLAIN", "EXPLAIN AST", "EXPLAIN SYNTAX", "EXPLAIN QUERY TREE",
                           "EXPLAIN PIPELINE", "EXPLAIN ESTIMATE"})
# EXPLAIN's own options (the engine refuses any other name after EXPLAIN).
EXPLAIN_OPTIONS = frozenset("""
    actions column_structure compact compact_repeated_processor_chains description distributed dump_ast
    dump_passes dump_tree estimates graph header indexes indices input_headers json keep_logical_steps
    oneline optimize passes pretty projections query_tree_passes run_passes run_query_tree_passes
    single_record sorting
""".split())

_OUTPUT = {"is_outfile_append", "is_outfile_truncate", "is_into_outfile_with_stdout"}
_MATCHER = {"transformers"}
# The AST node types a checked statement may hold, with the keys each may carry. A type or key
# not listed here is refused: this is what is allowed, not a list of what is not.
NODE_KEYS: dict[str, frozenset[str]] = {t: frozenset(k) for t, k in {
    "SelectWithUnionQuery": {"union_mode", "list_of_modes", "list_of_selects"} | _OUTPUT,
    "SelectIntersectExceptQuery": {"children", "final_operator"},
    "SelectQuery": {
        "with", "select", "tables", "prewhere", "where", "group_by", "having", "window", "qualify", "order_by",
        "limit_by", "limit_by_length", "limit_by_offset", "limit_length", "limit_offset", "interpolate",
        "distinct", "group_by_all", "group_by_with_totals", "group_by_with_rollup", "group_by_with_cube",
        "group_by_with_grouping_sets", "group_by_with_constant_keys", "limit_with_ties", "order_by_all",
        "limit_by_all", "recursive_with",
    },
    "ExpressionList": {"children"},
    "Function": {"name", "arguments", "parameters", "alias", "is_operator", "is_window_function",
                 "is_lambda_function", "kind", "nulls_action", "window_definition", "window_name"},
    "Identifier": {"name", "name_parts", "alias"},
    "Literal": {"value", "alias"},
    "Asterisk": _MATCHER,
    "QualifiedAsterisk": {"qualifier"} | _MATCHER,
    "ColumnsRegexpMatcher": {"pattern"} | _MATCHER,
    "ColumnsListMatcher": {"column_list"} | _MATCHER,
    "QualifiedColumnsRegexpMatcher": {"pattern", "qualifier"} | _MATCHER,
    "QualifiedColumnsListMatcher": {"column_list", "qualifier"} | _MATCHER,
    "ColumnsTransformerList": {"children"},
    "ColumnsApplyTransformer": {"func_name", "lambda", "lambda_arg", "parameters", "column_name_prefix"},
    "ColumnsExceptTransformer": {"children", "is_strict", "pattern"},
    "ColumnsReplaceTransformer": {"children", "is_strict"},
    "ColumnsReplaceTransformerReplacement": {"children", "name"},
    "TablesInSelectQuery": {"children"},
    "TablesInSelectQueryElement": {"table_expression", "table_join", "array_join"},
    "TableExpression": {"database_and_table_name", "table_function", "subquery", "final", "sample_size",
                        "sample_offset"},
    "TableIdentifier": {"name", "name_parts", "alias"},
    "TableJoin": {"kind", "locality", "strictness", "on_expression", "using_expression_list"},
    "ArrayJoin": {"kind", "expression_list"},
    "Subquery": {"children", "alias", "cte_name"},
    "WithElement": {"name", "subquery", "aliases"},
    "OrderByElement": {"direction", "nulls_direction", "nulls_direction_was_explicitly_specified", "collation",
                       "with_fill", "fill_from", "fill_to", "fill_step", "fill_staleness", "expression"},
    "InterpolateElement": {"column", "expr"},
    "WindowDefinition": {"parent_window_name", "partition_by", "order_by", "frame_is_default", "frame_type",
                         "frame_begin_type", "frame_begin_offset", "frame_begin_preceding", "frame_end_type",
                         "frame_end_offset", "frame_end_preceding"},
    "WindowListElement": {"name", "definition"},
    "SampleRatio": {"numerator", "denominator"},
}.items()}

# What a refused key means, for the message.
_CLAUSES = {
    "out_file": "INTO OUTFILE", "compression": "INTO OUTFILE", "compression_level": "INTO OUTFILE",
    "is_outfile_append": "INTO OUTFILE", "is_outfile_truncate": "INTO OUTFILE",
    "is_into_outfile_with_stdout": "INTO OUTFILE",
    "format_ast": "a FORMAT clause (results come back as JSON)",
    "settings": "a SETTINGS clause (the server sets the limits)",
}
_STATEMENTS = {
    "KillQueryQuery": "KILL", "SystemQuery": "SYSTEM", "SetQuery": "SET", "UseQuery": "USE",
    "InsertQuery": "INSERT", "CreateQuery": "CREATE", "DropQuery": "DROP/TRUNCATE", "AlterQuery": "ALTER",
    "RenameQuery": "RENAME", "OptimizeQuery": "OPTIMIZE", "DeleteQuery": "DELETE", "UpdateQuery": "UPDATE",
    "CheckTableQuery": "CHECK TABLE", "QueryParameter": "a query parameter ({name:Type})",
}


class Refused(Forbidden):
    """The check refused the statement before it ran (the handle that parsed it stays healthy)."""


def refuse(why: str) -> Refused:
    return Refused(f"{READ_ONLY}: {why}. Nothing was run.")


def _engine_refused(why: str) -> Forbidden:
    """The engine itself refused (readonly, access rights): the handle saw an error."""
    return Forbidden(f"{READ_ONLY}: {why}. Nothing was changed.")


class _Checker:
    """Walks one parsed statement (parseQueryToJSON's tree) and raises Forbidden on the first
    thing that is not allowed."""

    def __init__(self, database: str):
        self.database = database

    # -- statements --------------------------------------------------------------------------
    def statement(self, ast: Any) -> str:
        """Check a whole statement; returns its kind (select, explain, show)."""
        kind = _type(ast)
        if kind == "SelectWithUnionQuery":
            self.tree(ast)
            return "select"
        if kind == "ExplainQuery":
            self._explain(ast)
            return "explain"
        if kind == "ShowTablesQuery":
            self._show_tables(ast)
            return "show"
        if kind == "ShowColumnsQuery":
            self._show_columns(ast)
            return "show"
        raise refuse(f"{_STATEMENTS.get(kind, kind)} statements are not allowed")

    def _explain(self, ast: dict) -> None:
        self._keys(ast, {"kind", "settings", "query"} | _OUTPUT)
        if ast.get("kind") not in EXPLAIN_KINDS:
            raise refuse(f"{ast.get('kind')} is not allowed (use one of {', '.join(sorted(EXPLAIN_KINDS))})")
        options = ast.get("settings")
        if options is not None:
            self._keys(options, {"changes"}, "SetQuery")
            for change in options.get("changes") or []:
                value = change.get("value") if isinstance(change, dict) else None
                if (not isinstance(change, dict) or set(change) != {"name", "value"}
                        or change["name"] not in EXPLAIN_OPTIONS or not isinstance(value, dict)
                        or not isinstance(value.get("value"), int)):
                    raise refuse("EXPLAIN takes only its own options (indexes = 1, actions = 1, ...)")
        query = ast.get("query")
        if _type(query) != "SelectWithUnionQuery":
            raise refuse("EXPLAIN must explain a SELECT")
        self.tree(query)

    def _show_tables(self, ast: dict) -> None:
        self._keys(ast, {"databases", "full", "from", "like", "not_like", "case_insensitive_like",
                         "limit_length"} | _OUTPUT, "SHOW")
        if "from" in ast:
            source = ast["from"]
            if ast.get("databases") or _type(source) != "Identifier" or set(source) - {"type", "name"}:
                raise refuse("SHOW ... FROM takes this database's name")
            self._database(source.get("name"))
        self._limit(ast)

    def _show_columns(self, ast: dict) -> None:
        self._keys(ast, {"database", "table", "extended", "full", "like", "not_like", "case_insensitive_like",
                         "limit_length"} | _OUTPUT, "SHOW")
        if ast.get("database"):
            self._database(ast["database"])
        self._limit(ast)

    def _limit(self, ast: dict) -> None:
        if "limit_length" in ast:
            limit = ast["limit_length"]
            if _type(limit) != "Literal" or not isinstance((limit.get("value") or {}).get("value"), int):
                raise refuse("SHOW ... LIMIT takes a number")

    def _database(self, name: Any) -> None:
        if name != self.database:
            raise refuse(f"only this database ({self.database}) can be read, not {name!r}")

    # -- SELECT trees ---------------------------------------------------------------------------
    def tree(self, root: dict) -> None:
        """Every node of a SELECT tree, iteratively (a deep query must not exhaust the stack)."""
        stack: list[tuple[Any, str]] = [(root, "expr")]
        while stack:
            node, where = stack.pop()
            kind = _type(node)
            if kind is None:
                raise refuse("the statement has a shape this check does not know")
            allowed = NODE_KEYS.get(kind)
            if allowed is None:
                raise refuse(f"{_STATEMENTS.get(kind, kind)} is not allowed here")
            self._keys(node, allowed)
            if kind == "Literal":
                continue  # data, not code
            if kind == "TableIdentifier":
                self._table(node)
            elif kind == "Function":
                self._function(node, where)
                args = node.get("arguments")
                if (node["name"].lower() in IN_FUNCTIONS and _type(args) == "ExpressionList"
                        and len(args.get("children") or []) == 2):
                    self._keys(args, NODE_KEYS["ExpressionList"])
                    first, second = args["children"]
                    stack.append((first, "expr"))
                    stack.append((second, "in"))  # `x IN t` reads table t; `x IN f(...)` may be a table function
                    stack.extend(self._children(node, skip={"arguments"}))
                    continue
            elif kind == "Identifier" and where == "in":
                self._table(node)
            elif kind == "ColumnsApplyTransformer" and "func_name" in node:
                self._function({"name": node["func_name"]}, "expr")
            elif kind == "TableExpression" and "table_function" in node:
                stack.append((node["table_function"], "table"))
                stack.extend(self._children(node, skip={"table_function"}))
                continue
            stack.extend(self._children(node))

    @staticmethod
    def _children(node: dict, skip: frozenset[str] | set[str] = frozenset()) -> list[tuple[Any, str]]:
        out = []
        for key, value in node.items():
            if key in skip or key == "type":
                continue
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, dict):
                    out.append((item, "expr"))
                elif isinstance(item, list):
                    raise refuse("the statement has a shape this check does not know")
        return out

    def _function(self, node: dict, where: str) -> None:
        name = node.get("name")
        if not isinstance(name, str):
            raise refuse("a function without a name")
        if node.get("kind") not in (None, "WINDOW_FUNCTION", "LAMBDA_FUNCTION"):
            raise refuse(f"{name} ({node.get('kind')}) is not allowed")
        lower = name.lower()
        if lower in DENIED_FUNCTIONS or lower.startswith(DENIED_FUNCTION_PREFIXES):
            raise refuse(f"the function {name} is not allowed: it reaches files, the network, other tables "
                         "or the server's configuration")
        if where == "table":
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise refuse(f"the table function {name} is not allowed (allowed: "
                             f"{', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})")
            return
        if lower in TABLE_FUNCTIONS and name not in ALLOWED_TABLE_FUNCTIONS and not (
                where == "expr" and lower in REGULAR_FUNCTIONS_NAMED_LIKE_TABLE_FUNCTIONS):
            raise refuse(f"the table function {name} is not allowed (allowed: "
                         f"{', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})")

    def _table(self, node: dict) -> None:
        parts = node.get("name_parts") or [node.get("name")]
        if not all(isinstance(p, str) and p for p in parts) or len(parts) > 2:
            raise refuse("a table name this check does not understand")
        if len(parts) == 1:
            return  # this database's table (or a WITH name)
        database, table = parts
        if database == "system" and table in ALLOWED_SYSTEM_TABLES:
            return
        if database == "system":
            raise refuse(f"system.{table} is not allowed (allowed: "
                         f"{', '.join('system.' + t for t in sorted(ALLOWED_SYSTEM_TABLES))})")
        self._database(database)

    @staticmethod
    def _keys(node: Any, allowed: frozenset[str] | set[str], what: str | None = None) -> None:
        if not isinstance(node, dict):
            raise refuse("the statement has a shape this check does not know")
        for key, value in node.items():
            if key == "type":
                continue
            if key in _OUTPUT:
                if value is not False:
                    raise refuse(f"{_CLAUSES[key]} is not allowed")
                continue
            if key not in allowed:
                if what == "SHOW":
                    clause = f"SHOW ... {key.upper()}" if key != "format_ast" else _CLAUSES[key]
                else:
                    clause = _CLAUSES.get(key) or f"'{key}' in {what or node.get('type')}"
                raise refuse(f"{clause} is not allowed")


def _type(node: Any) -> str | None:
    return node.get("type") if isinstance(node, dict) else None


def check_statement(ast: Any, database: str) -> str:
    """Raise Forbidden unless the parsed statement is allowed; returns its kind."""
    return _Checker(database).statement(ast)


# -- DESCRIBE and SHOW CREATE TABLE (no JSON form in this engine version) ----------------------
_DESCRIBE = "DESCRIBE TABLE "
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SHOW_CREATE = re.compile(rf"SHOW CREATE TABLE (?:({_NAME})\.)?({_NAME})")


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


class _Pool:
    """At most `size` engine handles; each is borrowed by one thread at a time, and one that saw
    an error is closed by that thread and never handed out again."""

    def __init__(self, factory: Callable[[], Client], size: int, wait_seconds: float):
        self._factory = factory
        self._size = max(1, int(size))
        self._wait = max(0.0, float(wait_seconds))
        self._idle: list[Client] = []
        self._open = 0  # idle + borrowed + being created
        self._cond = threading.Condition()
        self._closed = False

    @contextmanager
    def handle(self) -> Iterator[Client]:
        client = self._acquire()
        try:
            yield client
        except Refused:
            self._release(client, healthy=True)  # refused by the check: the engine saw no error
            raise
        except BaseException:
            self._release(client, healthy=False)
            raise
        self._release(client, healthy=True)

    def _acquire(self) -> Client:
        deadline = time.monotonic() + self._wait
        with self._cond:
            while True:
                if self._closed:
                    raise ServiceUnavailable("The SQL endpoint is shutting down.")
                if self._idle:
                    return self._idle.pop()
                if self._open < self._size:
                    self._open += 1  # a slot reserved for the handle created below
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TooBusy(f"All {self._size} SQL slots are busy (VECTRAIN_SQL_POOL_SIZE); "
                                  "try again in a few seconds.")
                self._cond.wait(left)
        try:
            return self._factory()
        except Exception as exc:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise ServiceUnavailable(f"Could not open a database handle for SQL: {_engine_message(exc)}") from None

    def _release(self, client: Client, healthy: bool) -> None:
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(client)
                self._cond.notify()
                return
        # Only this thread holds the handle: closing it cannot disturb anyone else's query.
        try:
            client.close()
        except Exception:
            pass
        with self._cond:
            self._open -= 1
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for client in idle:
            try:
                client.close()
            except Exception:
                pass


class AnalystSQL:
    """Runs analysts' statements: checked by the engine's parser, limited by the engine, on a
    pool of handles of their own (never the handle the service writes with)."""

    def __init__(self, client_factory: ClientFactory, database: str, settings: Settings):
        self.database = database
        self.settings = settings
        self._factory = client_factory
        self._pool = _Pool(self._new_handle, settings.sql_pool_size, settings.sql_pool_wait_seconds)

    @classmethod
    def for_store(cls, store: "Store") -> "AnalystSQL":
        """Handles on the store's engine, or on VECTRAIN_SQL_DATABASE_URL (a reader account on the
        same ClickHouse server) when it is set."""
        from service.engine import Target

        url = store.settings.sql_database_url
        if not url:
            return cls(store.new_client, store.database, store.settings)
        try:
            target = Target.parse(url)
        except BadInput as exc:
            raise ServiceUnavailable(exc.message.replace("VECTRAIN_DATABASE_URL", "VECTRAIN_SQL_DATABASE_URL")) from None
        if target.kind != "http" or store.target.kind != "http":
            raise ServiceUnavailable("VECTRAIN_SQL_DATABASE_URL names a reader account on the ClickHouse server "
                                     "of VECTRAIN_DATABASE_URL; it does not apply to the embedded engine.")
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
            "max_rows_to_read": s.sql_max_rows_to_read,
            "read_overflow_mode": "throw",
            "max_result_rows": s.sql_max_result_rows,
            "max_result_bytes": s.sql_max_result_bytes,
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
    def run(self, query: str, max_rows: int | None = None) -> dict[str, Any]:
        """Check and run one statement; returns columns, types, rows and whether rows were cut."""
        cap = self.settings.sql_max_result_rows
        max_rows = min(max_rows or cap, cap)
        if not isinstance(query, str) or not query.strip():
            raise BadInput("The query is empty.")
        if len(query) > self.settings.sql_max_query_length:
            raise BadInput(f"The query is {len(query)} characters long; the limit is "
                           f"{self.settings.sql_max_query_length} (VECTRAIN_SQL_MAX_QUERY_LENGTH).")
        with self._pool.handle() as client:
            try:
                statement = self._checked(client, query)
                result = client.query(statement)
            except DatabaseError as exc:
                raise self._error(exc) from None
            except ClientError as exc:  # the connection, not the statement
                raise ServiceUnavailable(f"The database did not answer: {_engine_message(exc)}") from None
        rows = result.result_rows
        return {
            "columns": list(result.column_names),
            "types": [t.name for t in result.column_types],
            "rows": [list(r) for r in rows[:max_rows]],
            "truncated": len(rows) > max_rows,
        }

    @staticmethod
    def _parse(client: Client, function: str, text: str) -> str | None:
        """The engine's parser applied to `text` (a bound value, never run); None when the
        statement has no JSON form (parseQueryToJSON's BAD_ARGUMENTS)."""
        try:
            return client.query(f"SELECT {function}({{q:String}})", parameters={"q": text}).result_rows[0][0]
        except DatabaseError as exc:
            if function == "parseQueryToJSON" and engine_code(exc) == _BAD_ARGUMENTS:
                return None
            if engine_code(exc) == _UNKNOWN_FUNCTION:
                raise ServiceUnavailable(f"This ClickHouse server has no {function}(), which POST /sql needs to check "
                           "statements; use ClickHouse 26.9 or later.") from None
            raise BadInput(f"ClickHouse rejected the query: {_engine_message(exc, drop_scope=True)}") from None

    def _checked(self, client: Client, query: str) -> str:
        """The statement to run, once the engine's parser has shown it is allowed."""
        parsed = self._parse(client, "parseQueryToJSON", query)
        if parsed is None:
            return self._checked_without_json(client, query)  # DESCRIBE, SHOW CREATE TABLE, or refused
        ast = _load(parsed)
        check_statement(ast, self.database)
        statement, reparsed = client.query(
            "SELECT formatQueryFromJSON({j:String}) AS s, parseQueryToJSON(concat(s, '\\n FORMAT Native'))",
            parameters={"j": parsed}).result_rows[0]
        # The client appends "\n FORMAT Native" to what it sends: that exact text must parse back to
        # the tree that was checked, plus that format.
        try:
            same = _comparable(_load(reparsed), client_format=True) == _comparable(ast)
        except RecursionError:
            raise _too_deep() from None
        if not same:
            raise refuse("its text did not parse back to the statement that was checked")
        return statement

    def _checked_without_json(self, client: Client, query: str) -> str:
        canonical = self._parse(client, "formatQuerySingleLine", query)
        if canonical.startswith(_DESCRIBE):
            return self._check_describe(client, canonical)
        match = _SHOW_CREATE.fullmatch(canonical)
        if match:
            return self._check_show_create(client, canonical, match)
        kind = canonical.split(" ", 2)
        raise refuse(f"{' '.join(kind[:2])} statements are not allowed")

    def _check_describe(self, client: Client, canonical: str) -> str:
        """DESCRIBE TABLE <x>: <x> must be a table expression the SELECT check allows, and nothing
        else may follow it (no SETTINGS, INTO OUTFILE or FORMAT)."""
        source = canonical[len(_DESCRIBE):]
        parsed = self._parse(client, "parseQueryToJSON", f"SELECT * FROM {source}")
        if parsed is None:
            raise refuse("DESCRIBE takes one table, allowed table function or subquery, and nothing after it")
        ast = _load(parsed)
        selects = (ast.get("list_of_selects") or {}).get("children") or []
        select = selects[0] if len(selects) == 1 else {}
        tables = ((select.get("tables") or {}).get("children")) or []
        expression = tables[0].get("table_expression") if len(tables) == 1 else None
        if (set(ast) - {"type", "union_mode", "list_of_selects"} - _OUTPUT or set(select) != {"type", "select", "tables"}
                or set(tables[0] if tables else {}) != {"type", "table_expression"}
                or not isinstance(expression, dict)
                or len(set(expression) & {"database_and_table_name", "table_function", "subquery"}) != 1
                or set(expression) - {"type", "database_and_table_name", "table_function", "subquery"}):
            raise refuse("DESCRIBE takes one table, allowed table function or subquery, and nothing after it")
        check_statement(ast, self.database)
        rows = [r[0] for r in client.query(f"EXPLAIN AST {canonical}").result_rows]
        if len(rows) < 3 or rows[0] != "DescribeQuery (children 2)" or not rows[1].startswith(" TableExpression ") \
                or rows[-1] != " Identifier Native":
            raise refuse("DESCRIBE takes one table, allowed table function or subquery, and nothing after it")
        return canonical

    def _check_show_create(self, client: Client, canonical: str, match: re.Match) -> str:
        database, _table = match.groups()
        if database is not None:
            _Checker(self.database)._database(database)
        rows = [r[0] for r in client.query(f"EXPLAIN AST {canonical}").result_rows]
        expected = 3 if database is not None else 2
        if not rows or not rows[0].startswith("ShowCreateTableQuery ") or not rows[0].endswith(f"(children {expected})"):
            raise refuse("SHOW CREATE TABLE takes one table of this database")
        return canonical

    def _error(self, exc: DatabaseError) -> Exception:
        """An engine error as a message the analyst can act on, chosen by the engine's error code."""
        code = engine_code(exc)
        s = self.settings
        if code == _TIMEOUT:
            return TimeBudgetExceeded(f"The query ran longer than {s.sql_max_execution_time:g} s and was stopped "
                            "(VECTRAIN_SQL_MAX_EXECUTION_TIME).")
        if code == _MEMORY:
            return TooLarge(f"The query needed more than {s.sql_max_memory_usage / 1e6:.0f} MB of memory and was "
                            "stopped (VECTRAIN_SQL_MAX_MEMORY_USAGE): aggregate less, or filter first.")
        if code == _TOO_MANY_ROWS:
            return TooLarge(f"The query would read more than {s.sql_max_rows_to_read:,} rows and was stopped "
                            "(VECTRAIN_SQL_MAX_ROWS_TO_READ): filter or sample first.")
        if code in (_READONLY, _ACCESS_DENIED):
            return _engine_refused(_engine_message(exc))
        if code == _SYNTAX:
            return BadInput(f"ClickHouse rejected the query: {_engine_message(exc, drop_scope=True)}")
        if code == _UNKNOWN_QUERY_PARAMETER:
            return _engine_refused("query parameters ({name:Type}) are not supported")
        return BadInput(f"ClickHouse rejected the query: {_engine_message(exc)}")


def _load(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise _too_deep() from None


def _too_deep() -> BadInput:
    return BadInput("The query is nested too deeply to check; split it up (e.g. with WITH ... AS).")
