"""Classifier training sessions: create, read, next batch and training rounds.

State lives in the database (sql/schema/002_sessions.sql): a session row, its labels (one live
row per item), and every round's weights. The current classifier is the latest round; round 0
is the starting one (prompt embedding, given vector, or the normalized mean of examples).
Next batches are chosen by vectrain.labeling.batches; labels are vectrain.labeling.labels; rounds
are stored by vectrain.labeling.rounds; apply and the published SQL are vectrain.labeling.publish.
A session with classes (multi-class) is vectrain.labeling.multiclass's: each entry point here
hands it over.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import numpy as np

from vectrain.core.choices import Strategy, TrainMode
from vectrain.core.errors import BadInput, RoundNotFound
from vectrain.core.names import FUNCTION_PREFIX, function_name, validate_name, view_name
from vectrain.core.validation import (
    check_fraction,
    check_k,
    check_text,
    exactly_one,
)
from vectrain.core.vectors import as_unit_vectors, float32_value
from vectrain.labeling import batches, candidates, estimates, leases, quality, rounds, scoring, team, training
from vectrain.labeling.labels import add_labels
from vectrain.labeling.multiclass import batches as class_batches
from vectrain.labeling.multiclass import sessions as multiclass
from vectrain.labeling.multiclass.model import is_multiclass
from vectrain.labeling.state import STATES, State, claim_session_name, items_params, label_counts, session_row
from vectrain.storage.query import Floats, Query
from vectrain.storage.store import Store

MAX_NAME = 63 - len(FUNCTION_PREFIX)  # the session's view is clf_<name>
DEFAULT_K = 10  # the batch size the scoring of a round reads ahead for
EMPTY_QUALITY = {"f1": None, "f1_low": None, "f1_high": None, "message": None}
PENDING = {"message": "scoring every row: the number follows", "pending": True}


# -- sessions ----------------------------------------------------------------------------------
def check_session_name(name) -> str:
    """A session's name: it names the SQL view clf_<name> and the function clf_<db>__<name>."""
    validate_name(name, "session")
    if len(name) > MAX_NAME or "__" in name:
        raise BadInput(
            f"Session name {name!r}: at most {MAX_NAME} characters and no '__' "
            f"(it names the SQL view {FUNCTION_PREFIX}<name> and function)",
            field="name",
        )
    return name


def create_session(
    store: Store,
    dataset: str,
    name: str,
    *,
    prompt: str | None = None,
    vector=None,
    positive_ids: list[str] | None = None,
    negative_ids: list[str] | None = None,
    audit_rate: float = 0.0,
    classes: list[str] | None = None,
    labelset: str | None = None,
    examples: dict | None = None,
    labeler: str = "",
) -> dict[str, Any]:
    """A session; the examples it starts from are `labeler`'s labels."""
    check_session_name(name)
    audit_rate = check_fraction(audit_rate, "audit_rate", 0.0, 1.0, high_open=False)
    if negative_ids is not None and positive_ids is None:
        raise BadInput("negative_ids go with positive_ids: the session starts from both", field="negative_ids")
    if classes is not None or labelset is not None or examples is not None:  # a multi-class session
        if classes is None:
            raise BadInput('labelset and examples start a multi-class session: give its "classes"', field="classes")
        starts = (("prompt", prompt), ("vector", vector), ("positive_ids", positive_ids))
        given = [k for k, v in starts if v is not None]
        if given:
            raise BadInput(
                f"{', '.join(given)}: a multi-class session starts from a labelset or examples", field=given[0]
            )
        return get_session(
            store,
            multiclass.create(
                store,
                dataset,
                name,
                classes,
                labelset=labelset,
                examples=examples,
                audit_rate=audit_rate,
                labeler=labeler,
            ),
        )
    source = exactly_one("to start the classifier from", prompt=prompt, vector=vector, positive_ids=positive_ids)
    info = store.registry.get(dataset)
    dim = int(info["dim"])
    examples: list[str] = []
    negatives: list[str] = []
    if prompt is not None:
        from vectrain.embed.encoders import text_vectors

        # The dataset's own encoder and model, so the prompt lands in the space of its rows.
        prompt = check_text(prompt, "prompt", store.settings)
        weights = text_vectors(info, [prompt], store.settings)
        weights = as_unit_vectors(weights, dim=dim, what=f"the {info['encoder']} text embedding")[0]
    elif vector is not None:
        weights = as_unit_vectors(vector, dim=dim, what="vector")[0]
    else:  # the average_vector of the examples (search's strategy): the mean of positives alone
        from vectrain.search.recommend import session_start

        weights, examples, negatives = session_start(store, dataset, positive_ids, negative_ids)
    session_id = uuid.uuid4().hex[:16]
    claim_session_name(store, name, session_id)
    store.command(
        Query.named(
            "sessions.insert",
            id=session_id,
            dataset=dataset,
            name=name,
            source=source,
            prompt=prompt or "",
            examples=examples,
            negatives=negatives,
            init_weights=Floats(weights),
            audit_rate=audit_rate,
            version=time.time_ns(),
        )
    )
    # Round 0 is scored now (next batches read its scores), and its label-free threshold comes
    # from them: Otsu's split of the score histogram.
    scored = scoring.score(store, session_id, dataset, 0, weights, 0.0, 0.0)
    values, counts = np.unique(np.round(scored.scores.astype(np.float64), 3), return_counts=True)
    threshold = training.otsu_threshold(values, counts)
    scoring.set_threshold(store, scored, threshold)
    rounds.insert_round(
        store,
        session_id,
        0,
        "init",
        weights,
        0.0,
        threshold,
        {
            "mode": "init",
            "labeled": 0,
            "positives": 0,
            "negatives": 0,
            "source": source,
            "threshold_source": "score distribution (Otsu)",
            "quality": {**EMPTY_QUALITY, "message": quality.few_labels(0, 0)},
        },
    )
    if examples:  # the examples are labels the user already gave: store them as such
        add_labels(
            store,
            session_id,
            [{"item_id": i, "score": 1.0} for i in examples] + [{"item_id": i, "score": -1.0} for i in negatives],
            labeler,
        )
    return get_session(store, session_id)


def get_session(store: Store, session_id: str) -> dict[str, Any]:
    s = session_row(store, session_id)
    history = [rounds.round_summary(r) for r in store.rows(Query.named("sessions.rounds", session_id=s["id"]))]
    if s["classes"]:  # a session with classes: its accuracy estimate is its own (labeling.multiclass.estimate)
        estimate, estimating, extra = None, False, multiclass.describe(store, s, history)
    else:
        estimate, estimating = estimates.current(store, s, history[-1]["round"] if history else 0)
        extra = {}
    return {
        "id": s["id"],
        "dataset": s["dataset"],
        "name": s["name"],
        "source": s["source"],
        "prompt": s["prompt"] or None,
        "created": str(s["created"]),
        "round": history[-1]["round"] if history else 0,
        "labels": label_counts(store, s["id"]),
        "labelers": team.labeler_counts(store, s["id"]),
        "rounds": history,
        "function": function_name(store.database, s["name"]),
        "view": f"{store.database}.{view_name(s['name'])}",
        "audit_rate": float32_value(s["audit_rate"]),
        "estimate": estimate,
        "estimating": estimating,
        **extra,
    }


def list_sessions(store: Store) -> list[dict[str, Any]]:
    return [{**r, "created": str(r["created"])} for r in store.rows(Query.named("sessions.list"))]


# -- the state a next batch needs (cached in vectrain.labeling.state) ---------------------------------
def _read_state(store: Store, session_id: str) -> State:
    rows = (
        store.rows(Query.named("sessions.state", session_id=session_id))
        if isinstance(session_id, str) and 1 <= len(session_id) <= 64
        else []
    )
    if not rows:
        session_row(store, session_id)  # raises SessionNotFound with its message
        raise RoundNotFound(f"Session {session_id!r} has no rounds", session=session_id)
    r = rows[0]
    return State(
        r["id"],
        r["dataset"],
        {**rounds.round_summary(r), "weights": np.asarray(r["weights"], np.float32)},
        int(r["labeled"]),
        float(r["audit_rate"]),
    )


# -- next batch --------------------------------------------------------------------------------
def next_batch(
    store: Store,
    session_id: str,
    k: int = 10,
    strategy: str | None = None,
    audit: int | None = None,
    record: bool = True,
    labeler: str = "",
) -> dict[str, Any]:
    """k unlabeled items chosen by `strategy` (default mixed; balanced in a multi-class session),
    `audit` of them random audit draws (`record`: the caller may write them;
    vectrain.labeling.audit); exactly k whenever k unlabeled items remain that are not leased to
    another labeler. A named `labeler` gets their own leased items back first and leases the rest
    (vectrain.labeling.leases)."""
    k = check_k(k, store.settings)
    if is_multiclass(store, session_id):
        row = session_row(store, session_id)
        return leases.lease(
            store,
            row["id"],
            record,
            labeler,
            lambda leased, own: class_batches.next_batch(store, row, k, strategy, audit, record, leased, own),
        )
    strategy = Strategy.parse(strategy or Strategy.mixed, "strategy")
    state = current_state(store, session_id)
    return leases.next_batch(store, state, k, strategy, audit, record, labeler)


def current_state(store: Store, session_id: str) -> State:
    """The session's State: cached in this process (chDB), else one query."""
    return STATES.get(store, session_id, lambda: _read_state(store, session_id))


# -- training ----------------------------------------------------------------------------------
def train_round(store: Store, session_id: str, mode: str = "auto") -> dict[str, Any]:
    """Fit a round on the session's labels, store it, and score every row under it: the answer
    waits for the scoring up to VECTRAIN_SESSION_SCORE_WAIT seconds (then the metrics hold the
    round's quality), else the scoring goes on in the background and stores the quality when done."""
    s = session_row(store, session_id)
    mode = TrainMode.parse(mode, "mode").value
    if s["classes"]:
        return multiclass.train_round(store, s, mode)
    rows = store.rows(Query.named("sessions.labeled_vectors", session_id=s["id"], **items_params(store, s["dataset"])))
    if not rows:
        raise BadInput(
            "This session has no labels to train on yet (audit labels are held out to measure it): "
            "label some items (POST /sessions/{id}/labels) first",
            session=s["id"],
        )
    X = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    scores = np.asarray([r["score"] for r in rows], dtype=np.float64)
    prior = np.asarray(s["init_weights"], dtype=np.float32)
    latest = rounds.latest_round(store, s["id"])
    start = rounds.get_round(store, s["id"], 0)
    started = time.perf_counter()
    model = training.train(
        mode,
        X,
        scores,
        prior,
        latest["weights"],
        start=(start["weights"], start["threshold"]),
        fallback_threshold=lambda w, b: rounds.label_free_threshold(store, s["dataset"], w, b),
    )
    metrics = model.metrics
    one_class = metrics["positives"] == 0 or metrics["negatives"] == 0
    metrics["one_sided"] = int(latest["metrics"].get("one_sided", 0)) + 1 if one_class else 0
    metrics["seconds"] = round(time.perf_counter() - started, 3)
    few = quality.few_labels(metrics["positives"], metrics["negatives"])
    metrics["quality"] = {**EMPTY_QUALITY, "message": few} if few else {**EMPTY_QUALITY, **PENDING}
    # Storing the round claims its number: concurrent trainings never share one, and a kill leaves no gap.
    round_no = rounds.store_next_round(
        store, s["id"], latest["round"], mode, model.weights, model.bias, model.threshold, metrics
    )
    candidates.remember_labeled(store, s["id"], X)
    future = scoring.submit(store, s["id"], s["dataset"], round_no, model.weights, model.bias, model.threshold)
    estimates.after_round(store, s, round_no)
    STATES.set_round(store, s["id"], rounds.get_round(store, s["id"], round_no))
    judged = _judge_when_scored(store, s, round_no, model, X, scores, metrics, future)
    judged.wait(store.settings.session_score_wait)
    metrics = judged.metrics
    return {"round": round_no, "mode": mode, "bias": model.bias, "threshold": model.threshold, "metrics": metrics}


class _Judged(threading.Event):
    metrics: dict


def _judge_when_scored(store: Store, s: dict, round_no: int, model, X, scores, metrics: dict, future) -> _Judged:
    """When the round is scored: its quality over every row, stored with the round (the event is
    set then, with the metrics), and the next batch's band read ahead."""
    judged = _Judged()
    judged.metrics = metrics

    def store_quality(found: dict) -> None:
        judged.metrics = {**metrics, "quality": found}
        rounds.insert_round(
            store, s["id"], round_no, metrics["mode"], model.weights, model.bias, model.threshold, judged.metrics
        )
        STATES.set_round(store, s["id"], rounds.get_round(store, s["id"], round_no))

    def judge(done):
        scored = None
        try:
            scored = done.result()
            if scored is None:
                store_quality({**EMPTY_QUALITY, "message": "not scored: a newer round came first"})
            elif metrics["quality"].get("pending"):
                z = X.astype(np.float64) @ model.weights.astype(np.float64) + model.bias
                found = quality.estimate(quality.SortedScores(scored.scores), model.threshold, model.oof, z, scores > 0)
                store_quality({**found, "scored_round": scored.round})
        except Exception:
            scoring.log.exception("the quality of round %s of session %s", round_no, s["id"])
            try:
                store_quality({**EMPTY_QUALITY, "message": "not available: scoring the round failed (see the log)"})
            except Exception:
                scoring.log.exception("storing round %s of session %s", round_no, s["id"])
        finally:
            judged.set()
        if scored is not None:  # the next batch's band, read while the person looks at this answer
            try:
                candidates.prefetch(store, s["dataset"], scored, len(scores), 2 * batches.BAND * DEFAULT_K)
            except Exception:
                scoring.log.exception("reading ahead for session %s", s["id"])

    future.add_done_callback(judge)
    return judged
