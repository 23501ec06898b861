"""Apply and publish a multi-class round: every item's class, probability and margin stored (the
round's scores, kept), the classifier as a SQL function that returns the class name for a vector
and a view, its predictions paged, its weights."""

from __future__ import annotations

import time
from typing import Any

from vectrain.core.budget import Deadline
from vectrain.core.errors import BadInput, NotFound, RoundNotFound
from vectrain.core.names import function_name, items_table, view_name
from vectrain.core.validation import check_int, check_offset, check_round
from vectrain.labeling.multiclass import scoring
from vectrain.labeling.multiclass.model import ClassRound, ClassSession, get_round
from vectrain.labeling.state import dataset_labels
from vectrain.storage.query import Query
from vectrain.storage.store import Store
from vectrain.storage.vectorsql import classes as class_sql

ORDERS = ("margin", "score")


def apply(store: Store, row: dict, round_no: int | None = None, deadline: Deadline = Deadline.none()) -> dict:
    """Store every item's prediction under a round (its scores, computed now unless they are
    whole for every row) and publish the classifier as SQL."""
    session = ClassSession.of(row)
    rnd = get_round(store, session, round_no)
    if rnd.known < 2:
        raise BadInput(
            f"Round {rnd.round} knows {rnd.known} class(es): label items of at least two classes and train first",
            session=session.id,
        )
    started = time.perf_counter()
    try:
        scoring.wait(store, session.id, timeout=deadline.remaining())
    except Exception:  # a scoring in flight failed or is slow: this apply scores the round itself
        pass
    items = store.registry.count_rows(session.dataset, fresh=True)
    whole = store.rows(Query.named("classes.round_scored", session_id=session.id, round_no=rnd.round))[0]
    if not (int(whole["items"] or 0) == int(whole["stored"]) == items):
        with store.apart() as own:
            scoring.score_round(own, session, rnd, deadline)
    counts = {
        r["class"]: int(r["n"])
        for r in store.rows(Query.named("classes.class_counts", session_id=session.id, round_no=rnd.round))
    }
    total = sum(counts.values())
    store.command(
        Query.named(
            "classes.insert_applied",
            session_id=session.id,
            round_no=rnd.round,
            items=total,
            classes=list(session.classes),
            counts=[counts.get(c, 0) for c in session.classes],
        )
    )
    seconds = time.perf_counter() - started
    published = publish_sql(store, session, rnd)
    for statement in published["statements"]:
        store.command(statement)
    return {
        "round": rnd.round,
        "items": total,
        "positives": None,
        "classes": {c: counts.get(c, 0) for c in session.classes},
        "seconds": round(seconds, 3),
        "function": published["function"],
        "view": published["view"],
        "example": published["example"],
    }


def publish_sql(store: Store, session: ClassSession, rnd: ClassRound) -> dict[str, Any]:
    """The statements that publish a round: a function (named with the database, functions are
    global to the engine) over the classes the round can predict, and a view that calls it."""
    function = function_name(store.database, session.name)
    view = view_name(session.name)
    table = items_table(session.dataset)
    active = [i for i, a in enumerate(rnd.active) if a]
    statements = [
        class_sql.classifier_function(
            function, rnd.weights[active], rnd.biases[active], [session.classes[i] for i in active]
        ),
        class_sql.classifier_view(store.database, view, table, function),
    ]
    return {
        "function": function,
        "view": f"{store.database}.{view}",
        "round": rnd.round,
        "statements": statements,
        "example": class_sql.classifier_example(store.database, table, function),
    }


def _applied(store: Store, session: ClassSession) -> dict[int, dict]:
    return {int(a["round"]): a for a in store.rows(Query.named("classes.applied", session_id=session.id))}


def session_sql(store: Store, row: dict) -> dict[str, Any]:
    session = ClassSession.of(row)
    applied = _applied(store, session)
    rnd = get_round(store, session, max(applied) if applied else None)
    if rnd.known < 2:
        return {
            "function": function_name(store.database, session.name),
            "view": f"{store.database}.{view_name(session.name)}",
            "round": rnd.round,
            "statements": [],
            "example": "",
            "published": False,
            "note": "Nothing to publish yet: the classifier needs labels (or start vectors) of two classes.",
        }
    out = publish_sql(store, session, rnd)
    out["statements"] = [q.sql for q in out["statements"]]
    out["published"] = bool(applied)
    if not applied:
        out["note"] = "Not published yet: POST /sessions/{id}/apply runs these statements."
    return out


def predictions(
    store: Store,
    row: dict,
    offset: int = 0,
    limit: int = 100,
    round_no: int | None = None,
    class_name: str | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """An applied round's predictions: one class's items most confident first (`class_name`),
    or every item by smallest margin (the default) or highest score."""
    session = ClassSession.of(row)
    offset = check_offset(offset, store.settings)
    limit = check_int(limit, "limit", 1, 10_000)
    applied = _applied(store, session)
    if not applied:
        raise NotFound(
            f"Session {session.id!r} has no predictions yet: POST /sessions/{session.id}/apply first",
            session=session.id,
        )
    round_no = max(applied) if round_no is None else check_round(round_no)
    if round_no not in applied:
        raise RoundNotFound(
            f"Round {round_no} was not applied; applied rounds: {sorted(applied)}", session=session.id, round=round_no
        )
    a = applied[round_no]
    counts = dict(zip(a["classes"], (int(n) for n in a["counts"])))
    where = {"session_id": session.id, "round_no": round_no, "limit": limit, "offset": offset}
    order = order or ("score" if class_name is not None else "margin")
    if order not in ORDERS:
        raise BadInput(f"order {order!r}: use one of {', '.join(ORDERS)}", field="order")
    if class_name is not None:
        session.index(class_name, "class")
        if order != "score":
            raise BadInput("a class's predictions are paged most confident first (order=score)", field="order")
        rows = store.rows(Query.named("classes.predictions_of_class", **where, **{"class": class_name}))
        total = counts.get(class_name, 0)
    elif order == "margin":
        rows = store.rows(Query.named("classes.predictions_by_margin", **where))
        total = int(a["items"])
    else:
        raise BadInput("order=score pages one class: give class too", field="order")
    own = dataset_labels(store, session.dataset, [r["id"] for r in rows])
    return {
        "round": round_no,
        "total": total,
        "positives": None,
        "classes": counts,
        "class": class_name,
        "order": order,
        "offset": offset,
        "limit": limit,
        "items": [
            {
                "id": r["id"],
                "label": own.get(r["id"], ""),
                "class": r["class"],
                "score": float(r["score"]),
                "margin": float(r["margin"]),
            }
            for r in rows
        ],
    }


def export_weights(store: Store, row: dict, round_no: int | None = None) -> dict[str, Any]:
    session = ClassSession.of(row)
    rnd = get_round(store, session, round_no)
    return {
        "session": session.id,
        "name": session.name,
        "dataset": session.dataset,
        "round": rnd.round,
        "mode": rnd.mode,
        "classes": list(session.classes),
        "weights": rnd.weights.tolist(),
        "biases": [float(b) for b in rnd.biases],
        "active": [bool(a) for a in rnd.active],
        "bias": 0.0,
        "threshold": 0.0,
    }


def republish(store: Store, row: dict) -> None:
    """Publish the applied round again (under the session's name in `row`: a rename)."""
    session = ClassSession.of(row)
    applied = _applied(store, session)
    if applied:
        for statement in publish_sql(store, session, get_round(store, session, max(applied)))["statements"]:
            store.command(statement)


def applied_round(store: Store, row: dict) -> int | None:
    """The latest applied round, for exports."""
    applied = _applied(store, ClassSession.of(row))
    return max(applied) if applied else None
