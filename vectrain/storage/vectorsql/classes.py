"""The SQL of multi-class sessions that has a shape of its own: one range read per class of a
round's scores, and a published classifier that returns the class name for a vector."""

from __future__ import annotations

import math

import numpy as np

from vectrain.core.errors import BadInput
from vectrain.core.names import validate_name
from vectrain.storage.query import Query
from vectrain.storage.vectorsql.filters import function_ident, positive_int, table_ident

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


def class_tops(session_id: str, round_no: int, classes: list[str], k: int) -> Query:
    """Each class's k most confident unlabeled items under a round: one range read of the
    by_class projection per class, in one round trip. Columns: id, class, score, margin."""
    k = positive_int(k, "k")
    if not classes:
        raise ValueError("class_tops needs at least one class")
    subquery = (
        "SELECT * FROM (SELECT item_id AS id, class, score, margin FROM class_scores\n"
        "    WHERE session_id = {{session_id:String}} AND round = {{round_no:UInt32}} AND class = {{c{i}:String}}\n"
        "      AND item_id NOT IN (SELECT item_id FROM labels FINAL\n"
        "                          WHERE session_id = {{session_id:String}} AND removed = 0)\n"
        "    ORDER BY score DESC, item_id LIMIT {{k:UInt32}})"
    )
    parts = [subquery.format(i=i) for i in range(len(classes))]
    params = {f"c{i}": str(c) for i, c in enumerate(classes)}
    return Query(
        "\nUNION ALL\n".join(parts),
        {"session_id": session_id, "round_no": int(round_no), "k": k, **params},
        name="class_tops",
    )


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
