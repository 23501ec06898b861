"""The published classifier of a multi-class session: a SQL function that returns the class name
for a vector, and a view that calls it."""

from __future__ import annotations

import math

import numpy as np

from vectrain.core.errors import BadInput
from vectrain.core.names import validate_name
from vectrain.storage.query import Query
from vectrain.storage.vectorsql.filters import function_ident, table_ident

# The published function writes every weight into its text: 100 classes x 512 dims is about 600 KB
# of SQL, over the engine's default max_query_size (256 KB). The statement that creates it raises
# the limit for itself; queries that call the function stay short.
MAX_FUNCTION_BYTES = 64 * 2**20


def string_literal(value: str) -> str:
    """A ClickHouse string literal. Class names are checked (no control characters) before they
    get here; backslash and quote are escaped."""
    if not isinstance(value, str) or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise BadInput(f"class name {value!r} has control characters")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _row_literal(values) -> str:
    values = [float(x) for x in np.asarray(values, dtype=np.float32).ravel()]
    if not all(math.isfinite(x) for x in values):
        raise BadInput("classifier weights must be finite numbers")
    return "[" + ",".join(f"{x:.9g}" for x in values) + "]"


def classifier_expression(weights, biases, classes: list[str], column: str = "v") -> str:
    """The class name whose logit dot(column, w_c) + b_c is largest (the first on ties, as the
    stored predictions): one dotProduct per class against a constant Float32 array, so the engine
    never copies the matrix per row (an arrayMap over a constant matrix took 47 s for 20k rows)."""
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim != 2 or len(weights) != len(classes) or len(classes) < 1 or len(biases) != len(classes):
        raise BadInput("a classifier needs one weight row and one bias per class")
    if not all(math.isfinite(float(b)) for b in biases):
        raise BadInput("classifier biases must be finite numbers")
    logits = ",\n  ".join(
        f"dotProduct({column}, CAST({_row_literal(w)} AS Array(Float32))) + ({float(b)!r})"
        for w, b in zip(weights, np.asarray(biases, dtype=np.float32))
    )
    names = ", ".join(string_literal(c) for c in classes)
    return f"arrayElement([{names}], indexOf([\n  {logits}] AS logits, arrayMax(logits)))"


def classifier_function(function: str, weights, biases, classes: list[str]) -> Query:
    """A SQL UDF: <function>(vector) is the class name."""
    body = classifier_expression(weights, biases, classes)
    return Query(
        f"CREATE OR REPLACE FUNCTION {function_ident(function)} AS (v) -> {body}",
        settings={"max_query_size": MAX_FUNCTION_BYTES},
        name="class_classifier_function",
    )


def classifier_view(db: str, view: str, table: str, function: str) -> Query:
    """A view in the dataset's database: every item with the class the function gives it."""
    return Query(
        f"CREATE OR REPLACE VIEW {table_ident(db, view)} AS\n"
        f"SELECT id, url, label, {function_ident(function)}(vector) AS class\n"
        f"FROM {table_ident(db, table)}",
        name="class_classifier_view",
    )


def classifier_example(db: str, table: str, function: str) -> str:
    """The query shown to users next to a published classifier (validated names need no quotes)."""
    db, table = validate_name(db, "database"), validate_name(table, "table")
    return f"SELECT {function}(vector) AS class, count() FROM {db}.{table} GROUP BY class ORDER BY class"
