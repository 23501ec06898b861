"""Apply and publish: score every item in one INSERT ... SELECT, publish the classifier as a SQL
function and a view, page its predictions, export its weights."""

from __future__ import annotations

import time
from typing import Any

from vectrain.core.budget import Deadline
from vectrain.core.errors import BadInput, NotFound, RoundNotFound
from vectrain.core.names import function_name, items_table, view_name
from vectrain.core.validation import (
    check_int,
    check_offset,
    check_round,
)
from vectrain.labeling import rounds
from vectrain.labeling.multiclass import publish as class_publish
from vectrain.labeling.state import dataset_labels, session_row
from vectrain.storage.query import Query
from vectrain.storage.store import Store


def apply(
    store: Store, session_id: str, round_no: int | None = None, deadline: Deadline = Deadline.none()
) -> dict[str, Any]:
    """Score the whole dataset in one INSERT ... SELECT and publish the classifier as SQL."""
    s = session_row(store, session_id)
    if s["classes"]:
        return class_publish.apply(store, s, round_no, deadline)
    r = rounds.get_round(store, s["id"], round_no)
    started = time.perf_counter()
    store.command(
        store.dialect.apply(
            store.database, items_table(s["dataset"]), s["id"], r["round"], r["weights"], r["bias"], r["threshold"]
        )
    )
    seconds = time.perf_counter() - started
    published = publish_sql(store, s, r)
    for statement in published["statements"]:
        store.command(statement)
    counts = {int(c["round"]): c for c in store.rows(Query.named("sessions.prediction_counts", session_id=s["id"]))}
    c = counts[r["round"]]
    return {
        "round": r["round"],
        "items": int(c["items"]),
        "positives": int(c["positives"]),
        "seconds": round(seconds, 3),
        "function": published["function"],
        "view": published["view"],
        "example": published["example"],
    }


def publish_sql(store: Store, s: dict, r: dict) -> dict[str, Any]:
    """The statements that publish round r: a SQL function (named with the database, since
    functions are global to the engine) and a view in the dataset's database."""
    dialect = store.dialect
    function = function_name(store.database, s["name"])
    view = view_name(s["name"])
    offset = r["bias"] - r["threshold"]  # folded in, so the function's output > 0 means positive
    table = items_table(s["dataset"])
    statements = [
        dialect.classifier_function(function, r["weights"], offset),
        dialect.classifier_view(store.database, view, table, r["weights"], offset),
    ]
    return {
        "function": function,
        "view": f"{store.database}.{view}",
        "round": r["round"],
        "statements": statements,
        "example": dialect.classifier_example(store.database, table, function),
    }


def session_sql(store: Store, session_id: str) -> dict[str, Any]:
    s = session_row(store, session_id)
    if s["classes"]:
        return class_publish.session_sql(store, s)
    applied = store.rows(Query.named("sessions.prediction_counts", session_id=s["id"]))
    round_no = int(applied[-1]["round"]) if applied else None
    out = publish_sql(store, s, rounds.get_round(store, s["id"], round_no))
    out["statements"] = [q.sql for q in out["statements"]]
    out["published"] = bool(applied)
    if not applied:
        out["note"] = "Not published yet: POST /sessions/{id}/apply runs these statements."
    return out


def predictions(
    store: Store,
    session_id: str,
    offset: int = 0,
    limit: int = 100,
    round_no: int | None = None,
    class_name: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """A round's predictions, highest score first; a multi-class session's by class or margin."""
    s = session_row(store, session_id)
    if s["classes"]:
        return class_publish.predictions(store, s, offset, limit, round_no, class_name, order)
    if class_name is not None or order is not None:
        raise BadInput("class and order page a multi-class session's predictions", field="class")
    offset = check_offset(offset, store.settings)
    limit = check_int(limit, "limit", 1, 10_000)
    applied = store.rows(Query.named("sessions.prediction_counts", session_id=s["id"]))
    if not applied:
        raise NotFound(
            f"Session {s['id']!r} has no predictions yet: POST /sessions/{s['id']}/apply first", session=s["id"]
        )
    by_round = {int(a["round"]): a for a in applied}
    round_no = max(by_round) if round_no is None else check_round(round_no)
    if round_no not in by_round:
        raise RoundNotFound(
            f"Round {round_no} was not applied; applied rounds: {sorted(by_round)}", session=s["id"], round=round_no
        )
    rows = store.rows(
        Query.named("sessions.predictions", session_id=s["id"], round_no=round_no, limit=limit, offset=offset)
    )
    threshold = rounds.get_round(store, s["id"], round_no)["threshold"]
    labels = dataset_labels(store, s["dataset"], [x["id"] for x in rows])
    return {
        "round": round_no,
        "threshold": threshold,
        "total": int(by_round[round_no]["items"]),
        "positives": int(by_round[round_no]["positives"]),
        "offset": offset,
        "limit": limit,
        "items": [
            {
                "id": x["id"],
                "score": float(x["score"]),
                "margin": float(x["score"]) - threshold,
                "positive": bool(x["positive"]),
                "label": labels.get(x["id"], ""),
            }
            for x in rows
        ],
    }


def export_weights(store: Store, session_id: str, round_no: int | None = None) -> dict[str, Any]:
    s = session_row(store, session_id)
    if s["classes"]:
        return class_publish.export_weights(store, s, round_no)
    r = rounds.get_round(store, s["id"], round_no)
    return {
        "session": s["id"],
        "name": s["name"],
        "dataset": s["dataset"],
        "round": r["round"],
        "mode": r["mode"],
        "weights": r["weights"].tolist(),
        "bias": r["bias"],
        "threshold": r["threshold"],
    }
