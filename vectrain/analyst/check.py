"""What an analyst's statement is, decided on the engine's own parse tree.

`check_statement` walks the tree `parseQueryToJSON` gives (the engine's AST as JSON) against
allow-lists: SELECT / WITH ... SELECT, EXPLAIN of such a SELECT, SHOW TABLES / COLUMNS /
DATABASES, over this database's tables, a few system tables and table functions that only
generate data, and no function that reaches files, the network, other tables or the server's
configuration, anywhere in the tree (subqueries, JOINs, IN, DESCRIBE and EXPLAIN included).
A node type or clause not listed (SETTINGS, INTO OUTFILE, FORMAT, a clause of a newer engine) is
refused, not ignored. DESCRIBE and SHOW CREATE TABLE have no JSON form in ClickHouse 26.9; they
are checked from the engine's one-line rendering (`check_describe`, `check_show_create`).
"""

from __future__ import annotations

import re
from typing import Any

from vectrain.analyst.allowlists import (
    _OUTPUT,
    ALLOWED_SYSTEM_TABLES,
    ALLOWED_TABLE_FUNCTIONS,
    DENIED_FUNCTION_PREFIXES,
    DENIED_FUNCTIONS,
    EXPLAIN_KINDS,
    EXPLAIN_OPTIONS,
    IN_FUNCTIONS,
    NODE_KEYS,
    READ_ONLY,
    REFUSED_CLAUSES,
    REFUSED_STATEMENTS,
    REGULAR_FUNCTIONS_NAMED_LIKE_TABLE_FUNCTIONS,
    TABLE_FUNCTIONS,
)
from vectrain.core.errors import Forbidden


class Refused(Forbidden):
    """The check refused the statement before it ran (the handle that parsed it stays healthy)."""


def refuse(why: str) -> Refused:
    return Refused(f"{READ_ONLY}: {why}. Nothing was run.")


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
        raise refuse(f"{REFUSED_STATEMENTS.get(kind, kind)} statements are not allowed")

    def _explain(self, ast: dict) -> None:
        self._keys(ast, {"kind", "settings", "query"} | _OUTPUT)
        if ast.get("kind") not in EXPLAIN_KINDS:
            raise refuse(f"{ast.get('kind')} is not allowed (use one of {', '.join(sorted(EXPLAIN_KINDS))})")
        options = ast.get("settings")
        if options is not None:
            self._keys(options, {"changes"}, "SetQuery")
            for change in options.get("changes") or []:
                value = change.get("value") if isinstance(change, dict) else None
                if (
                    not isinstance(change, dict)
                    or set(change) != {"name", "value"}
                    or change["name"] not in EXPLAIN_OPTIONS
                    or not isinstance(value, dict)
                    or not isinstance(value.get("value"), int)
                ):
                    raise refuse("EXPLAIN takes only its own options (indexes = 1, actions = 1, ...)")
        query = ast.get("query")
        if _type(query) != "SelectWithUnionQuery":
            raise refuse("EXPLAIN must explain a SELECT")
        self.tree(query)

    def _show_tables(self, ast: dict) -> None:
        self._keys(
            ast,
            {"databases", "full", "from", "like", "not_like", "case_insensitive_like", "limit_length"} | _OUTPUT,
            "SHOW",
        )
        if "from" in ast:
            source = ast["from"]
            if ast.get("databases") or _type(source) != "Identifier" or set(source) - {"type", "name"}:
                raise refuse("SHOW ... FROM takes this database's name")
            self._database(source.get("name"))
        self._limit(ast)

    def _show_columns(self, ast: dict) -> None:
        self._keys(
            ast,
            {"database", "table", "extended", "full", "like", "not_like", "case_insensitive_like", "limit_length"}
            | _OUTPUT,
            "SHOW",
        )
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
                raise refuse(f"{REFUSED_STATEMENTS.get(kind, kind)} is not allowed here")
            self._keys(node, allowed)
            if kind == "Literal":
                continue  # data, not code
            if kind == "TableIdentifier":
                self._table(node)
            elif kind == "Function":
                self._function(node, where)
                args = node.get("arguments")
                if (
                    node["name"].lower() in IN_FUNCTIONS
                    and _type(args) == "ExpressionList"
                    and len(args.get("children") or []) == 2
                ):
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
            raise refuse(
                f"the function {name} is not allowed: it reaches files, the network, other tables "
                "or the server's configuration"
            )
        if where == "table":
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise refuse(
                    f"the table function {name} is not allowed (allowed: {', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})"
                )
            return
        if (
            lower in TABLE_FUNCTIONS
            and name not in ALLOWED_TABLE_FUNCTIONS
            and not (where == "expr" and lower in REGULAR_FUNCTIONS_NAMED_LIKE_TABLE_FUNCTIONS)
        ):
            raise refuse(
                f"the table function {name} is not allowed (allowed: {', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})"
            )

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
            raise refuse(
                f"system.{table} is not allowed (allowed: "
                f"{', '.join('system.' + t for t in sorted(ALLOWED_SYSTEM_TABLES))})"
            )
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
                    raise refuse(f"{REFUSED_CLAUSES[key]} is not allowed")
                continue
            if key not in allowed:
                if what == "SHOW":
                    clause = f"SHOW ... {key.upper()}" if key != "format_ast" else REFUSED_CLAUSES[key]
                else:
                    clause = REFUSED_CLAUSES.get(key) or f"'{key}' in {what or node.get('type')}"
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


def describe_source(canonical: str) -> str | None:
    """The table expression of a DESCRIBE, from the engine's one-line rendering of it."""
    return canonical[len(_DESCRIBE) :] if canonical.startswith(_DESCRIBE) else None


def check_describe(ast: Any, database: str) -> None:
    """`SELECT * FROM <DESCRIBE's table expression>`, parsed: one table, allowed table function or
    subquery, and nothing after it (no SETTINGS, INTO OUTFILE or FORMAT, no FINAL or SAMPLE)."""
    selects = ((ast.get("list_of_selects") or {}).get("children") or []) if isinstance(ast, dict) else []
    select = selects[0] if len(selects) == 1 and isinstance(selects[0], dict) else {}
    tables = (select.get("tables") or {}).get("children") or []
    element = tables[0] if len(tables) == 1 and isinstance(tables[0], dict) else {}
    expression = element.get("table_expression")
    sources = {"database_and_table_name", "table_function", "subquery"}
    if (
        set(ast) - {"type", "union_mode", "list_of_selects"} - _OUTPUT
        or set(select) != {"type", "select", "tables"}
        or set(element) != {"type", "table_expression"}
        or not isinstance(expression, dict)
        or len(set(expression) & sources) != 1
        or set(expression) - sources - {"type"}
    ):
        raise refuse("DESCRIBE takes one table, allowed table function or subquery, and nothing after it")
    check_statement(ast, database)


def check_show_create(canonical: str, database: str) -> bool:
    """True for `SHOW CREATE TABLE [db.]t` of this database, with nothing after it; False when
    the text is not a SHOW CREATE TABLE at all."""
    match = _SHOW_CREATE.fullmatch(canonical)
    if not match:
        return False
    if match.group(1) is not None:
        _Checker(database)._database(match.group(1))
    return True
