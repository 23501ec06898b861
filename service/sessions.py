"""Classifier training sessions: create, next batch, labels, training rounds, apply/publish.

State lives in the database (sql/schema/002_sessions.sql): a session row, its labels (one live
row per item), and every round's weights. The current classifier is the latest round; round 0
is the starting one (prompt embedding, given vector, or the normalized mean of examples).
Next batches are chosen by service.batches; this module owns the state.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import numpy as np

from service import claims, session_audit, training
from service.errors import BadInput, Conflict, ItemNotFound, NotFound, RoundNotFound, SessionNotFound
from service.query import Floats, Query
from service.session_state import STATES, State
from service.store import Store
from service.validation import (Strategy, TrainMode, check_fraction, check_ids, check_int, check_k, check_offset,
                                check_round, check_score, check_text, exactly_one)
from service.vectors import as_unit_vectors
from service.names import FUNCTION_PREFIX, function_name, items_table, validate_name, view_name

MAX_NAME = 63 - len(FUNCTION_PREFIX)  # the session's view is clf_<name>


# -- sessions ----------------------------------------------------------------------------------
def create_session(store: Store, dataset: str, name: str, *, prompt: str | None = None,
                   vector=None, positive_ids: list[str] | None = None, negative_ids: list[str] | None = None,
                   audit_rate: float = 0.0) -> dict[str, Any]:
    validate_name(name, "session")
    audit_rate = check_fraction(audit_rate, "audit_rate", 0.0, 1.0, high_open=False)
    if negative_ids is not None and positive_ids is None:
        raise BadInput("negative_ids go with positive_ids: the session starts from both", field="negative_ids")
    if len(name) > MAX_NAME or "__" in name:
        raise BadInput(f"Session name {name!r}: at most {MAX_NAME} characters and no '__' "
                       f"(it names the SQL view {FUNCTION_PREFIX}<name> and function)", field="name")
    source = exactly_one("to start the classifier from", prompt=prompt, vector=vector, positive_ids=positive_ids)
    info = store.registry.get(dataset)
    dim = int(info["dim"])
    examples: list[str] = []
    negatives: list[str] = []
    if prompt is not None:
        from service.encoders import text_vectors

        # The dataset's own encoder and model, so the prompt lands in the space of its rows.
        prompt = check_text(prompt, "prompt", store.settings)
        weights = text_vectors(info, [prompt], store.settings)
        weights = as_unit_vectors(weights, dim=dim, what=f"the {info['encoder']} text embedding")[0]
    elif vector is not None:
        weights = as_unit_vectors(vector, dim=dim, what="vector")[0]
    else:  # the average_vector of the examples (search's strategy): the mean of positives alone
        from service.recommend import session_start

        weights, examples, negatives = session_start(store, dataset, positive_ids, negative_ids)
    session_id = uuid.uuid4().hex[:16]
    taken = Conflict(f"A session named {name!r} already exists; pick another name (the name becomes the SQL "
                     f"view {FUNCTION_PREFIX}{name})", session_name=name)
    if store.rows(Query.named("sessions.by_name", name=name)):
        raise taken
    if not claims.claim(store, "session", name, session_id):  # another request won the name
        raise taken
    store.command(Query.named("sessions.insert", id=session_id, dataset=dataset, name=name, source=source,
                              prompt=prompt or "", examples=examples, negatives=negatives,
                              init_weights=Floats(weights), audit_rate=audit_rate, version=time.time_ns()))
    threshold = label_free_threshold(store, dataset, weights, 0.0)
    _insert_round(store, session_id, 0, "init", weights, 0.0, threshold,
                  {"mode": "init", "labeled": 0, "positives": 0, "negatives": 0, "source": source,
                   "threshold_source": "score distribution (Otsu)"})
    if examples:  # the examples are labels the user already gave: store them as such
        add_labels(store, session_id, [{"item_id": i, "score": 1.0} for i in examples]
                   + [{"item_id": i, "score": -1.0} for i in negatives])
    return get_session(store, session_id)


def session_row(store: Store, session_id: str) -> dict[str, Any]:
    if not isinstance(session_id, str) or not 1 <= len(session_id) <= 64:
        raise SessionNotFound(f"No session {str(session_id)[:64]!r}.", session=str(session_id)[:64])
    found = store.rows(Query.named("sessions.get", id=session_id))
    if not found:
        raise SessionNotFound(f"No session {session_id!r}. List sessions with GET /sessions or "
                              "`vectrain session show`.", session=session_id)
    return found[0]


def _items(store: Store, dataset: str) -> dict:
    return {"db": store.database, "items": items_table(dataset)}


def get_session(store: Store, session_id: str) -> dict[str, Any]:
    s = session_row(store, session_id)
    rounds = [_round_summary(r) for r in store.rows(Query.named("sessions.rounds", session_id=s["id"]))]
    return {
        "id": s["id"], "dataset": s["dataset"], "name": s["name"], "source": s["source"],
        "prompt": s["prompt"] or None, "created": str(s["created"]),
        "round": rounds[-1]["round"] if rounds else 0,
        "labels": label_counts(store, s["id"]),
        "rounds": rounds,
        "function": function_name(store.database, s["name"]),
        "view": f"{store.database}.{view_name(s['name'])}",
        "audit_rate": float(s["audit_rate"]),
        "estimate": session_audit.estimate(store, s),
    }


def list_sessions(store: Store) -> list[dict[str, Any]]:
    return [{**r, "created": str(r["created"])} for r in store.rows(Query.named("sessions.list"))]


def label_counts(store: Store, session_id: str) -> dict[str, int]:
    counts = store.rows(Query.named("sessions.label_counts", session_id=session_id))[0]
    return {k: int(v) for k, v in counts.items()}


def _round_summary(r: dict) -> dict:
    return {"round": int(r["round"]), "mode": r["mode"], "bias": float(r["bias"]),
            "threshold": float(r["threshold"]), "metrics": json.loads(r["metrics"] or "{}"),
            "created": str(r["created"])}


def latest_round(store: Store, session_id: str) -> dict[str, Any]:
    rows = store.rows(Query.named("sessions.latest_round", session_id=session_id))
    if not rows:
        raise RoundNotFound(f"Session {session_id!r} has no rounds", session=session_id)
    return {**_round_summary(rows[0]), "weights": np.asarray(rows[0]["weights"], dtype=np.float32)}


def get_round(store: Store, session_id: str, round_no: int | None) -> dict[str, Any]:
    """Round `round_no` of a session, or its latest round when None."""
    if round_no is None:
        return latest_round(store, session_id)
    round_no = check_round(round_no)
    rows = store.rows(Query.named("sessions.round", session_id=session_id, round_no=round_no))
    if not rows:
        raise RoundNotFound(f"Session {session_id!r} has no round {round_no}", session=session_id, round=round_no)
    return {**_round_summary(rows[0]), "weights": np.asarray(rows[0]["weights"], dtype=np.float32)}


def _insert_round(store, session_id, round_no, mode, weights, bias, threshold, metrics):
    store.command(Query.named("sessions.insert_round", session_id=session_id, round_no=int(round_no), mode=mode,
                              weights=Floats(weights), bias=float(bias),
                              threshold=float(threshold), metrics=json.dumps(metrics)))


def label_free_threshold(store: Store, dataset: str, weights, bias: float) -> float:
    """Otsu's split of the dataset's score histogram: a threshold before labels can set one."""
    rows = store.query(store.dialect.score_histogram(store.database, items_table(dataset), weights)).result_rows
    if not rows:
        return float(bias)
    values, counts = np.array(rows, dtype=np.float64).T
    return training.otsu_threshold(values, counts) + float(bias)


# -- the state a next batch needs (cached in service.session_state) ---------------------------------
def _read_state(store: Store, session_id: str) -> State:
    rows = store.rows(Query.named("sessions.state", session_id=session_id)) \
        if isinstance(session_id, str) and 1 <= len(session_id) <= 64 else []
    if not rows:
        session_row(store, session_id)  # raises SessionNotFound with its message
        raise RoundNotFound(f"Session {session_id!r} has no rounds", session=session_id)
    r = rows[0]
    return State(r["id"], r["dataset"], {**_round_summary(r), "weights": np.asarray(r["weights"], np.float32)},
                 int(r["labeled"]), float(r["audit_rate"]))


# -- next batch --------------------------------------------------------------------------------
def next_batch(store: Store, session_id: str, k: int = 10, strategy: str = "mixed", audit: int | None = None,
               record: bool = True) -> dict[str, Any]:
    """k unlabeled items chosen by `strategy`, `audit` of them random audit draws (`record`: the
    caller may write them; service.session_audit); exactly k whenever k unlabeled items remain."""
    k = check_k(k, store.settings)
    strategy = Strategy.parse(strategy, "strategy")
    state = STATES.get(store, session_id, lambda: _read_state(store, session_id))
    return session_audit.next_batch(store, state, k, strategy, audit, record)


# -- labels ------------------------------------------------------------------------------------
def add_labels(store: Store, session_id: str, labels: list[dict]) -> dict[str, Any]:
    """Store a batch of labels, all or nothing. Re-labeling an item replaces its label."""
    s = session_row(store, session_id)
    if not isinstance(labels, list) or not labels:
        raise BadInput('labels: give a non-empty list of {"item_id", "score"}', field="labels")
    ids, scores, provenance = [], [], []
    for n, label in enumerate(labels[: store.settings.max_ids + 1]):
        if not isinstance(label, dict) or "item_id" not in label or "score" not in label:
            raise BadInput(f'labels[{n}]: expected {{"item_id": ..., "score": ...}}; nothing was stored',
                           field="labels")
        scores.append(check_score(label["score"], f"labels[{n}]"))
        ids.append(label["item_id"])
        provenance.append(session_audit.provenance(label, f"labels[{n}]"))
    ids = check_ids(ids, "labels", store.settings)
    _require_items(store, s["dataset"], ids, "labels")
    version = time.time_ns()
    # One INSERT (with provenance): a block this size is written atomically, on disk when it returns.
    with STATES.label_lock(s["id"]):
        session_audit.insert_labels(store, s["id"], ids, scores, provenance, version)
        counts = label_counts(store, s["id"])
        STATES.set_labeled(store, s["id"], counts["labeled"])
    return {"stored": len(ids), "labels": counts}


def _require_items(store: Store, dataset: str, ids: list[str], what: str) -> None:
    found = {r["id"] for r in store.rows(Query.named("items.existing_ids", ids=ids, **_items(store, dataset)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ItemNotFound(f"{what}: {len(missing)} item(s) not in dataset {dataset!r}, e.g. {missing[:5]}; "
                           "nothing was stored", dataset=dataset, items=missing[:5])


def remove_labels(store: Store, session_id: str, item_ids: list[str]) -> dict[str, Any]:
    """Remove labels, all or nothing: every id must be labeled in this session."""
    s = session_row(store, session_id)
    ids = check_ids(item_ids, "item_ids", store.settings)
    labeled = {r["item_id"]: float(r["score"]) for r in store.rows(Query.named("sessions.labels", session_id=s["id"]))}
    missing = [i for i in ids if i not in labeled]
    if missing:
        raise NotFound(f"{len(missing)} item(s) are not labeled in session {s['id']!r}, e.g. {missing[:5]}; "
                       "nothing was removed", session=s["id"], items=missing[:5])
    version = time.time_ns()
    with STATES.label_lock(s["id"]):
        store.insert("labels", [[s["id"], i, labeled[i], version, 1] for i in ids],
                     column_names=["session_id", "item_id", "score", "version", "removed"])
        counts = label_counts(store, s["id"])
        STATES.set_labeled(store, s["id"], counts["labeled"])
    return {"removed": len(ids), "labels": counts}


def get_labels(store: Store, session_id: str) -> list[dict]:
    s = session_row(store, session_id)
    return [{"item_id": r["item_id"], "score": float(r["score"]), "labeled": str(r["labeled"]),
             **session_audit.provenance_of(r)} for r in store.rows(Query.named("sessions.labels", session_id=s["id"]))]


# -- training ----------------------------------------------------------------------------------
def train_round(store: Store, session_id: str, mode: str = "auto") -> dict[str, Any]:
    s = session_row(store, session_id)
    mode = TrainMode.parse(mode, "mode").value
    rows = store.rows(Query.named("sessions.labeled_vectors", session_id=s["id"], **_items(store, s["dataset"])))
    if not rows:
        raise BadInput("This session has no labels to train on yet (audit labels are held out to measure it): "
                       "label some items (POST /sessions/{id}/labels) first", session=s["id"])
    X = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    scores = np.asarray([r["score"] for r in rows], dtype=np.float64)
    prior = np.asarray(s["init_weights"], dtype=np.float32)
    latest = latest_round(store, s["id"])
    started = time.perf_counter()
    model = training.train(mode, X, scores, prior, latest["weights"],
                           fallback_threshold=lambda w, b: label_free_threshold(store, s["dataset"], w, b))
    model.metrics["seconds"] = round(time.perf_counter() - started, 3)
    # Round numbers are claimed, so concurrent trainings (even in other processes) never share one.
    round_no = latest["round"] + 1
    claimant = uuid.uuid4().hex
    while not claims.claim(store, "round", f"{s['id']}:{round_no}", claimant):
        round_no += 1
    _insert_round(store, s["id"], round_no, mode, model.weights, model.bias, model.threshold, model.metrics)
    session_audit.store_unseen(store, s["id"], round_no, [r["item_id"] for r in rows], model.unseen)
    STATES.set_round(store, s["id"], get_round(store, s["id"], round_no))
    return {"round": round_no, "mode": mode, "bias": model.bias, "threshold": model.threshold,
            "metrics": model.metrics}


# -- apply and publish -------------------------------------------------------------------------
def apply(store: Store, session_id: str, round_no: int | None = None) -> dict[str, Any]:
    """Score the whole dataset in one INSERT ... SELECT and publish the classifier as SQL."""
    s = session_row(store, session_id)
    r = get_round(store, s["id"], round_no)
    started = time.perf_counter()
    store.command(store.dialect.apply(store.database, items_table(s["dataset"]), s["id"], r["round"],
                                      r["weights"], r["bias"], r["threshold"]))
    seconds = time.perf_counter() - started
    published = publish_sql(store, s, r)
    for statement in published["statements"]:
        store.command(statement)
    counts = {int(c["round"]): c for c in store.rows(Query.named("sessions.prediction_counts", session_id=s["id"]))}
    c = counts[r["round"]]
    return {"round": r["round"], "items": int(c["items"]), "positives": int(c["positives"]),
            "seconds": round(seconds, 3), "function": published["function"], "view": published["view"],
            "example": published["example"]}


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
    return {"function": function, "view": f"{store.database}.{view}", "round": r["round"],
            "statements": statements, "example": dialect.classifier_example(store.database, table, function)}


def session_sql(store: Store, session_id: str) -> dict[str, Any]:
    s = session_row(store, session_id)
    applied = store.rows(Query.named("sessions.prediction_counts", session_id=s["id"]))
    round_no = int(applied[-1]["round"]) if applied else None
    out = publish_sql(store, s, get_round(store, s["id"], round_no))
    out["statements"] = [q.sql for q in out["statements"]]
    out["published"] = bool(applied)
    if not applied:
        out["note"] = "Not published yet: POST /sessions/{id}/apply runs these statements."
    return out


def predictions(store: Store, session_id: str, offset: int = 0, limit: int = 100,
                round_no: int | None = None) -> dict[str, Any]:
    s = session_row(store, session_id)
    offset = check_offset(offset, store.settings)
    limit = check_int(limit, "limit", 1, 10_000)
    applied = store.rows(Query.named("sessions.prediction_counts", session_id=s["id"]))
    if not applied:
        raise NotFound(f"Session {s['id']!r} has no predictions yet: POST /sessions/{s['id']}/apply first",
                       session=s["id"])
    by_round = {int(a["round"]): a for a in applied}
    round_no = max(by_round) if round_no is None else check_round(round_no)
    if round_no not in by_round:
        raise RoundNotFound(f"Round {round_no} was not applied; applied rounds: {sorted(by_round)}",
                            session=s["id"], round=round_no)
    rows = store.rows(Query.named("sessions.predictions", session_id=s["id"], round_no=round_no, limit=limit,
                                  offset=offset))
    return {"round": round_no, "total": int(by_round[round_no]["items"]),
            "positives": int(by_round[round_no]["positives"]), "offset": offset, "limit": limit,
            "items": [{"id": x["id"], "score": float(x["score"]), "positive": bool(x["positive"])} for x in rows]}


def export_weights(store: Store, session_id: str, round_no: int | None = None) -> dict[str, Any]:
    s = session_row(store, session_id)
    r = get_round(store, s["id"], round_no)
    return {"session": s["id"], "name": s["name"], "dataset": s["dataset"], "round": r["round"],
            "mode": r["mode"], "weights": r["weights"].tolist(), "bias": r["bias"], "threshold": r["threshold"]}
