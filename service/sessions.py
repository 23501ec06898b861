"""Classifier training sessions: create, next batch, labels, training rounds, apply/publish.

State lives in the database (sql/schema/002_sessions.sql): a session row, its labels (one live
row per item), and every round's weights. The current classifier is the latest round; round 0
is the starting one (prompt embedding, given vector, or the normalized mean of examples).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

import numpy as np

from service import training
from service.errors import BadInput, Conflict, NotFound
from service.search import nearest
from service.store import Store, items_table
from service.vectors import as_unit_vectors
from service.vectorsql import Exclusion, validate_name

STRATEGIES = ("mixed", "top", "boundary", "random")
MODES = ("auto", "seed")
MAX_LABELS_PER_BATCH = 10_000
FUNCTION_PREFIX = "clf_"

# Round numbers are assigned read-then-write; one lock per session keeps two concurrent
# `train` calls of this process from writing the same round.
_train_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
_train_locks_guard = threading.Lock()


def _train_lock(session_id: str) -> threading.Lock:
    with _train_locks_guard:
        return _train_locks[session_id]


# -- sessions ----------------------------------------------------------------------------------
def create_session(store: Store, dataset: str, name: str, *, prompt: str | None = None,
                   vector=None, positive_ids: list[str] | None = None) -> dict[str, Any]:
    info = store.dataset(dataset)
    validate_name(name, "session")
    if len(name) > 63 - len(FUNCTION_PREFIX):
        raise BadInput(f"Session name {name!r} is too long: at most {63 - len(FUNCTION_PREFIX)} characters "
                       f"(it becomes the SQL function {FUNCTION_PREFIX}<name>)")
    given = [x for x in (prompt, vector, positive_ids) if x is not None]
    if len(given) != 1:
        raise BadInput('Give exactly one of "prompt", "vector" or "positive_ids" to start the classifier from')
    if store.rows("sessions.by_name", name=name):
        raise Conflict(f"A session named {name!r} already exists; pick another name "
                       f"(the name becomes the SQL function {FUNCTION_PREFIX}{name})")
    dim = int(info["dim"])
    examples: list[str] = []
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise BadInput("prompt must be non-empty text, e.g. \"dogs in the snow\"")
        from service.encoders import text_vectors

        # The dataset's own encoder and model, so the prompt lands in the space of its rows.
        weights = text_vectors(info, [prompt.strip()], store.settings)
        weights = as_unit_vectors(weights, dim=dim, what=f"the {info['encoder']} text embedding")[0]
        source = "prompt"
    elif vector is not None:
        weights = as_unit_vectors(vector, dim=dim, what="vector")[0]
        source = "vector"
    else:
        examples = _check_ids(positive_ids, "positive_ids")
        rows = store.rows("sessions.vectors_of", db=store.database, items=items_table(dataset), ids=examples)
        missing = sorted(set(examples) - {r["id"] for r in rows})
        if missing:
            raise NotFound(f"positive_ids: {len(missing)} not in dataset {dataset!r}, e.g. {missing[:5]}")
        mean = np.mean([np.asarray(r["vector"], dtype=np.float32) for r in rows], axis=0)
        weights = as_unit_vectors(mean, dim=dim, what="the mean of positive_ids")[0]
        source = "positive_ids"
    session_id = uuid.uuid4().hex[:16]
    store.command("sessions.insert", id=session_id, dataset=dataset, name=name, source=source,
                  prompt=prompt or "", examples=examples, init_weights=weights.tolist(), version=time.time_ns())
    threshold = label_free_threshold(store, dataset, weights, 0.0)
    _insert_round(store, session_id, 0, "init", weights, 0.0, threshold,
                  {"mode": "init", "labeled": 0, "positives": 0, "negatives": 0, "source": source,
                   "threshold_source": "score distribution (Otsu)"})
    if examples:  # the examples are positives the user already gave: store them as labels
        add_labels(store, session_id, [{"item_id": i, "score": 1.0} for i in examples])
    return get_session(store, session_id)


def _session(store: Store, session_id: str) -> dict[str, Any]:
    found = store.rows("sessions.get", id=str(session_id))
    if not found:
        raise NotFound(f"No session {session_id!r}. List sessions with GET /sessions or `vectrain session show`.")
    return found[0]


def get_session(store: Store, session_id: str) -> dict[str, Any]:
    s = _session(store, session_id)
    rounds = [_round_summary(r) for r in store.rows("sessions.rounds", session_id=s["id"])]
    counts = store.rows("sessions.label_counts", session_id=s["id"])[0]
    return {
        "id": s["id"], "dataset": s["dataset"], "name": s["name"], "source": s["source"],
        "prompt": s["prompt"] or None, "created": str(s["created"]),
        "round": rounds[-1]["round"] if rounds else 0,
        "labels": {k: int(v) for k, v in counts.items()},
        "rounds": rounds,
        "function": FUNCTION_PREFIX + s["name"],
    }


def list_sessions(store: Store) -> list[dict[str, Any]]:
    return [{**r, "created": str(r["created"])} for r in store.rows("sessions.list")]


def _round_summary(r: dict) -> dict:
    return {"round": int(r["round"]), "mode": r["mode"], "bias": float(r["bias"]),
            "threshold": float(r["threshold"]), "metrics": json.loads(r["metrics"] or "{}"),
            "created": str(r["created"])}


def current_round(store: Store, session_id: str, round_no: int | None = None) -> dict[str, Any]:
    if round_no is None:
        rows = store.rows("sessions.latest_round", session_id=session_id)
    else:
        rows = store.rows("sessions.round", session_id=session_id, round=int(round_no))
    if not rows:
        raise NotFound(f"Session {session_id!r} has no round {round_no}")
    r = rows[0]
    return {**_round_summary(r), "weights": np.asarray(r["weights"], dtype=np.float32)}


def _insert_round(store, session_id, round_no, mode, weights, bias, threshold, metrics):
    store.command("sessions.insert_round", session_id=session_id, round=int(round_no), mode=mode,
                  weights=np.asarray(weights, dtype=np.float32).tolist(), bias=float(bias),
                  threshold=float(threshold), metrics=json.dumps(metrics))


def label_free_threshold(store: Store, dataset: str, weights, bias: float) -> float:
    """Otsu's split of the dataset's score histogram: a threshold before labels can set one."""
    sql = store.dialect.score_histogram(store.database, items_table(dataset))
    result = store.run(sql, parameters={"w": np.asarray(weights, dtype=np.float32).tolist()})
    if not result.result_rows:
        return float(bias)
    values, counts = np.array(result.result_rows, dtype=np.float64).T
    return training.otsu_threshold(values, counts) + float(bias)


# -- next batch --------------------------------------------------------------------------------
def next_batch(store: Store, session_id: str, k: int = 10, strategy: str = "mixed") -> dict[str, Any]:
    """k unlabeled items chosen by `strategy`; exactly k whenever k unlabeled items remain."""
    s = _session(store, session_id)
    settings = store.settings
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= settings.search_max_k:
        raise BadInput(f"k must be an integer from 1 to {settings.search_max_k}, got {k!r}")
    if strategy not in STRATEGIES:
        raise BadInput(f"Unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    r = current_round(store, s["id"])
    w, b, t = r["weights"], r["bias"], r["threshold"]
    labeled = int(store.rows("sessions.label_counts", session_id=s["id"])[0]["labeled"])
    ctx = _Batch(store, s["dataset"], s["id"], w, b, t, labeled)
    if strategy == "top":
        items = ctx.top(k)
    elif strategy == "boundary":
        items = ctx.boundary(k)
    elif strategy == "random":
        items = ctx.random(k)
    else:
        items = ctx.mixed(k)
    return {"items": items, "strategy": strategy, "round": r["round"]}


class _Batch:
    """The four strategies over one session's current classifier (w, b, threshold t)."""

    def __init__(self, store, dataset, session_id, w, b, t, labeled):
        self.store, self.dataset, self.session_id = store, dataset, session_id
        self.w, self.b, self.t, self.labeled = np.asarray(w, dtype=np.float32), float(b), float(t), labeled
        self.norm = float(np.linalg.norm(self.w))
        self.table = items_table(dataset)
        self.params = {"session_id": session_id, "w": self.w.tolist(), "b": self.b, "t": self.t}

    def _items(self, rows):
        return [{"id": r["id"], "url": r["url"], "score": float(r["score"])} for r in rows]

    def top(self, k: int) -> list[dict]:
        # The seeds' query, served by the HNSW index: highest similarity to the weights.
        found = nearest(self.store, self.dataset, self.w, k, Exclusion("session"),
                        {"session_id": self.session_id}, excluded=self.labeled, columns="id, url")
        # cosine to w/|w| -> the classifier's score dot(w, v) + b (items are unit vectors)
        return [{"id": r["id"], "url": r["url"], "score": self.norm * r["score"] + self.b} for r in found.items]

    def boundary(self, k: int) -> list[dict]:
        settings = self.store.settings
        if self.store.count_rows(self.dataset) > settings.session_exact_boundary_rows:
            # A full scan per batch is too slow at this size: rank the index's nearest
            # candidates by distance to the threshold instead (the region a top-k user sees).
            pool = self.top(max(k, min(settings.session_boundary_pool, settings.ann_max_limit)))
            if len(pool) >= k:
                return sorted(pool, key=lambda i: abs(i["score"] - self.t))[:k]
        sql = self.store.dialect.boundary(self.store.database, self.table, k, Exclusion("session"))
        return self._items(self._fetch(sql))

    def random(self, k: int) -> list[dict]:
        sql = self.store.dialect.random_batch(self.store.database, self.table, k, Exclusion("session"))
        # Reproducible: the order depends on the session and how many labels it has.
        return self._items(self._fetch(sql, salt=f"{self.session_id}:{self.labeled}"))

    def mixed(self, k: int) -> list[dict]:
        """Half the most confident positives, half the items nearest the threshold (where the
        hard negatives are); the top-k alone returns almost only positives."""
        n_top = (k + 1) // 2
        top = self.top(n_top)
        taken = {i["id"] for i in top}
        rest = [i for i in self.boundary(k) if i["id"] not in taken][: k - len(top)]
        items = top + rest
        if len(items) < k:  # fewer unlabeled items than asked near the boundary: fill from the top
            more = [i for i in self.top(min(k * 2, self.store.settings.search_max_k)) if i["id"] not in taken]
            items += [i for i in more if i["id"] not in {x["id"] for x in rest}][: k - len(items)]
        return items

    def _fetch(self, sql: str, **extra) -> list[dict]:
        result = self.store.run(sql, parameters={**self.params, **extra}, settings=self.store.dialect.exact_settings())
        return [dict(zip(result.column_names, row)) for row in result.result_rows]


# -- labels ------------------------------------------------------------------------------------
def _check_ids(ids, what: str) -> list[str]:
    if not isinstance(ids, list) or not ids:
        raise BadInput(f"{what}: give a non-empty list of item ids")
    bad = [i for i in ids if not isinstance(i, str) or not i]
    if bad:
        raise BadInput(f"{what}: item ids must be non-empty strings, got {bad[0]!r}")
    dupes = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if dupes:
        raise BadInput(f"{what}: duplicate ids {dupes[:5]}; give each item once")
    return list(ids)


def add_labels(store: Store, session_id: str, labels: list[dict]) -> dict[str, Any]:
    """Store a batch of labels, all or nothing. Re-labeling an item replaces its label."""
    s = _session(store, session_id)
    if not isinstance(labels, list) or not labels:
        raise BadInput('labels: give a non-empty list of {"item_id", "score"}')
    if len(labels) > MAX_LABELS_PER_BATCH:
        raise BadInput(f"labels: at most {MAX_LABELS_PER_BATCH} per request, got {len(labels)}")
    ids, scores = [], []
    for n, label in enumerate(labels):
        if not isinstance(label, dict) or "item_id" not in label or "score" not in label:
            raise BadInput(f'labels[{n}]: expected {{"item_id": ..., "score": ...}}; nothing was stored')
        score = label["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not np.isfinite(score) \
                or not -1.0 <= float(score) <= 1.0:
            raise BadInput(f"labels[{n}] ({label['item_id']!r}): score {score!r} is outside [-1, 1]; "
                           "use +1 for positive, -1 for negative, or a grade between. Nothing was stored.")
        ids.append(label["item_id"])
        scores.append(float(score))
    _check_ids(ids, "labels")
    found = {r[0] for r in store.query("items.existing_ids", db=store.database,
                                       items=items_table(s["dataset"]), ids=ids).result_rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"labels: {len(missing)} item(s) not in dataset {s['dataset']!r}, e.g. "
                       f"{missing[:5]}; nothing was stored")
    version = time.time_ns()
    # One INSERT: a block this size is written atomically, and it is on disk when insert returns.
    store.insert("labels", [[s["id"], i, sc, version] for i, sc in zip(ids, scores)],
                 column_names=["session_id", "item_id", "score", "version"])
    counts = store.rows("sessions.label_counts", session_id=s["id"])[0]
    return {"stored": len(ids), "labels": {k: int(v) for k, v in counts.items()}}


def get_labels(store: Store, session_id: str) -> list[dict]:
    s = _session(store, session_id)
    return [{"item_id": r["item_id"], "score": float(r["score"]), "labeled": str(r["labeled"])}
            for r in store.rows("sessions.labels", session_id=s["id"])]


# -- training ----------------------------------------------------------------------------------
def train_round(store: Store, session_id: str, mode: str = "auto") -> dict[str, Any]:
    s = _session(store, session_id)
    if mode not in MODES:
        raise BadInput(f"Unknown mode {mode!r}: use one of {', '.join(MODES)}")
    rows = store.rows("sessions.labeled_vectors", session_id=s["id"], db=store.database,
                      items=items_table(s["dataset"]))
    if not rows:
        raise BadInput("This session has no labels yet: label some items (POST /sessions/{id}/labels) first")
    X = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    scores = np.asarray([r["score"] for r in rows], dtype=np.float64)
    prior = np.asarray(s["init_weights"], dtype=np.float32)
    with _train_lock(s["id"]):
        latest = current_round(store, s["id"])
        started = time.perf_counter()
        model = training.train(mode, X, scores, prior, latest["weights"],
                               fallback_threshold=lambda w, b: label_free_threshold(store, s["dataset"], w, b))
        model.metrics["seconds"] = round(time.perf_counter() - started, 3)
        round_no = latest["round"] + 1
        _insert_round(store, s["id"], round_no, mode, model.weights, model.bias, model.threshold, model.metrics)
    return {"round": round_no, "mode": mode, "bias": model.bias, "threshold": model.threshold,
            "metrics": model.metrics}


# -- apply and publish -------------------------------------------------------------------------
def apply(store: Store, session_id: str, round_no: int | None = None) -> dict[str, Any]:
    """Score the whole dataset in one INSERT ... SELECT and publish the classifier as SQL."""
    s = _session(store, session_id)
    r = current_round(store, s["id"], round_no)
    started = time.perf_counter()
    sql = store.dialect.apply(store.database, items_table(s["dataset"]))
    store.execute(sql, parameters={"session_id": s["id"], "round": r["round"], "w": r["weights"].tolist(),
                                   "b": r["bias"], "t": r["threshold"]})
    seconds = time.perf_counter() - started
    published = publish_sql(store, s, r)
    for statement in published["statements"]:
        store.execute(statement)
    counts = {int(c["round"]): c for c in store.rows("sessions.prediction_counts", session_id=s["id"])}[r["round"]]
    return {"round": r["round"], "items": int(counts["items"]), "positives": int(counts["positives"]),
            "seconds": round(seconds, 3), "function": published["function"], "view": published["view"],
            "example": published["example"]}


def publish_sql(store: Store, s: dict, r: dict) -> dict[str, Any]:
    """The statements that publish round r: a SQL function (global to the engine) and a view."""
    name = FUNCTION_PREFIX + s["name"]
    offset = r["bias"] - r["threshold"]  # folded in, so the function's output > 0 means positive
    table = items_table(s["dataset"])
    statements = [
        store.dialect.create_classifier_function(name, r["weights"], offset),
        store.dialect.create_classifier_view(store.database, name, table, r["weights"], offset),
    ]
    return {"function": name, "view": f"{store.database}.{name}", "round": r["round"], "statements": statements,
            "example": f"SELECT count() FROM {store.database}.{table} WHERE {name}(vector) > 0"}


def session_sql(store: Store, session_id: str) -> dict[str, Any]:
    s = _session(store, session_id)
    applied = store.rows("sessions.prediction_counts", session_id=s["id"])
    round_no = int(applied[-1]["round"]) if applied else None
    r = current_round(store, s["id"], round_no)
    out = publish_sql(store, s, r)
    out["published"] = bool(applied)
    if not applied:
        out["note"] = "Not published yet: POST /sessions/{id}/apply runs these statements."
    return out


def predictions(store: Store, session_id: str, offset: int = 0, limit: int = 100,
                round_no: int | None = None) -> dict[str, Any]:
    s = _session(store, session_id)
    if offset < 0 or not 1 <= limit <= 10_000:
        raise BadInput("offset must be >= 0 and limit from 1 to 10000")
    applied = store.rows("sessions.prediction_counts", session_id=s["id"])
    if not applied:
        raise NotFound(f"Session {s['id']!r} has no predictions yet: POST /sessions/{s['id']}/apply first")
    by_round = {int(a["round"]): a for a in applied}
    round_no = max(by_round) if round_no is None else round_no
    if round_no not in by_round:
        raise NotFound(f"Round {round_no} was not applied; applied rounds: {sorted(by_round)}")
    rows = store.rows("sessions.predictions", session_id=s["id"], round=round_no, limit=limit, offset=offset)
    return {"round": round_no, "total": int(by_round[round_no]["items"]),
            "positives": int(by_round[round_no]["positives"]), "offset": offset, "limit": limit,
            "items": [{"id": x["id"], "score": float(x["score"]), "positive": bool(x["positive"])} for x in rows]}


def export_weights(store: Store, session_id: str, round_no: int | None = None) -> dict[str, Any]:
    s = _session(store, session_id)
    r = current_round(store, s["id"], round_no)
    return {"session": s["id"], "name": s["name"], "dataset": s["dataset"], "round": r["round"],
            "mode": r["mode"], "weights": r["weights"].tolist(), "bias": r["bias"], "threshold": r["threshold"]}
