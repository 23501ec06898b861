"""The estimate of a session's classifier over the whole dataset, computed after each training round.

`after_round` (train_round's one hook) queues `refresh` on a worker thread (vectrain.labeling.
background) when the session audits, so nobody waits for it. `refresh` reads the round's strategy
labels, fits the predictor (vectrain.labeling.predictor), scores every item of the dataset in Arrow
blocks (the classifier's score, the kNN vote, the predictor's logit; numpy, not SQL) into
`audit_scores`, refits pv on the audit labels so far, and stores the round's estimate
(vectrain.labeling.estimators) with pv's parameters in `audit_predictors`. The next audit draws are
weighted by that predictor (vectrain.labeling.audit.draw). `current` is what GET /sessions/{id}
shows: the newest stored estimate, which says the round it is for, and whether a newer one is on
its way.

The estimate of round R counts the audit draws labeled when R's step ran, in the order drawn, up
to the first one still waiting for its label (a prefix of the draws stays a valid sample).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np

from vectrain.core import blas
from vectrain.labeling import background, estimators, predictor, rounds, training
from vectrain.labeling.state import items_params, session_row
from vectrain.storage import claims, itemvectors
from vectrain.storage.query import Query
from vectrain.storage.store import Store

HISTORY = 12  # earlier rounds' estimates shown beside the current one


def audits(store: Store, session: dict) -> bool:
    """Whether the session has a binary estimate to compute: a session with classes estimates its
    accuracy itself (vectrain.labeling.multiclass.estimate)."""
    if session.get("classes"):
        return False
    return float(session.get("audit_rate") or 0) > 0 or bool(
        store.scalar(Query.named("audit.has_draws", session_id=session["id"]))
    )


def after_round(store: Store, session: dict, round_no: int) -> None:
    """Queue the round's predictor and estimate (a background step) when the session audits."""
    if audits(store, session):
        background.submit(store, session["id"], int(round_no), refresh)


def settle(timeout: float | None = None) -> bool:
    """Wait for queued estimates (tests, benchmarks, a CLI about to exit); False on timeout."""
    return background.settle(timeout)


# -- the background step -----------------------------------------------------------------------
def refresh(store: Store, session_id: str, round_no: int) -> None:
    """Score, calibrate and estimate round `round_no` once (claimed: one process does it)."""
    session = session_row(store, session_id)
    if session.get("classes"):  # its own estimate: vectrain.labeling.multiclass.estimate
        return
    if store.scalar(Query.named("audit.has_predictor", session_id=session_id, round=round_no)):
        return
    name = f"{session_id}:{round_no}"
    if not claims.claim(store, "audit_scores", name, uuid.uuid4().hex):
        return
    try:
        with store.apart() as own, blas.one_thread():
            _compute(own, session, round_no)
    except Exception:
        # No half-written round: its scores go, and the claim with them, so a later read retries.
        store.command(Query.named("audit.delete_scores", session_id=session_id, round=round_no))
        claims.release(store, "audit_scores", name)
        raise


def _compute(store: Store, session: dict, round_no: int) -> None:
    sid, dataset = session["id"], session["dataset"]
    r = rounds.get_round(store, sid, round_no)
    rows = store.rows(Query.named("sessions.labeled_vectors", session_id=sid, **items_params(store, dataset)))
    X = np.asarray([x["vector"] for x in rows], np.float32).reshape(len(rows), -1)
    scores = np.asarray([x["score"] for x in rows], np.float64)
    fitted = _predictor(session, r, X, scores)
    ids, logit, positive = _score_items(store, session, round_no, r, fitted)
    est, (pv_a, pv_b) = _estimate(store, session, round_no, ids, logit, positive, fitted, scores > 0)
    store.command(
        Query.named(
            "audit.insert_predictor",
            session_id=sid,
            round=round_no,
            items=len(ids),
            pv_a=pv_a,
            pv_b=pv_b,
            estimate=json.dumps(est) if est else "",
        )
    )


def _predictor(session: dict, r: dict, X: np.ndarray, scores: np.ndarray) -> predictor.Predictor:
    """p from the round's training labels: out-of-fold scores of the round's own fit (auto), else
    the round's scores."""
    w, b = np.asarray(r["weights"], np.float64), float(r["bias"])
    oof, folds = None, None
    if r["mode"] == "auto" and len(scores):
        prior = np.asarray(session["init_weights"], np.float32)
        oof, folds = predictor.out_of_fold(X, scores, lambda Xf, sf: training.fit_auto(Xf, sf, prior))
    if oof is None:
        oof = X.astype(np.float64) @ w + b if len(scores) else np.zeros(0)
    return predictor.Predictor.fit(X, scores > 0, oof, folds)


def _score_items(store: Store, session: dict, round_no: int, r: dict, fitted: predictor.Predictor):
    """Every item's logit and decision under round r, stored in audit_scores block by block."""
    import pyarrow as pa

    w32, b, t = np.asarray(r["weights"], np.float32), float(r["bias"]), float(r["threshold"])
    dim = int(store.registry.get(session["dataset"])["dim"])
    ids, logits, decisions = [], [], []
    for block_ids, matrix in itemvectors.blocks(store, session["dataset"], dim):
        score = (matrix @ w32).astype(np.float64) + b
        logit = fitted.logit(matrix, score).astype(np.float32)
        positive = (score > t).astype(np.uint8)
        n = len(block_ids)
        table = pa.table(
            {
                "session_id": pa.array([session["id"]] * n, pa.string()),
                "round": pa.array(np.full(n, round_no, np.uint32)),
                "item_id": block_ids,
                "logit": pa.array(logit),
                "positive": pa.array(positive),
            }
        )
        store.insert_arrow("audit_scores", table)
        ids.append(block_ids.to_numpy(zero_copy_only=False).astype(object))
        logits.append(logit)
        decisions.append(positive.astype(bool))
    if not ids:
        return np.zeros(0, object), np.zeros(0, np.float32), np.zeros(0, bool)
    return np.concatenate(ids), np.concatenate(logits), np.concatenate(decisions)


def _positions(ids: np.ndarray, wanted: list[str]) -> np.ndarray:
    """Each wanted id's index in the sorted `ids`, -1 when absent."""
    if not len(wanted):
        return np.zeros(0, np.int64)
    at = np.searchsorted(ids, np.asarray(wanted, object))
    at = np.minimum(at, len(ids) - 1)
    return np.where(ids[at] == np.asarray(wanted, object), at, -1).astype(np.int64)


def _estimate(store, session, round_no, ids, logit, positive, fitted, train_y):
    """(the round's estimate or None, pv's parameters)."""
    sid, n = session["id"], len(ids)
    labels = store.rows(Query.named("audit.live_labels", session_id=sid))
    at = _positions(ids, [x["item_id"] for x in labels])
    ok = at >= 0
    y = np.zeros(n, bool)
    y[at[ok]] = np.asarray([x["score"] > 0 for x in labels], bool)[ok]
    known = np.zeros(n, bool)
    known[at[ok]] = ~np.asarray([bool(x["audit"]) for x in labels], bool)[ok]
    draws = store.rows(Query.named("audit.draws", session_id=sid))
    drawn_at = _positions(ids, [d["item_id"] for d in draws])
    used = 0  # the labeled prefix of the draws
    while used < len(draws) and draws[used]["labeled"] and drawn_at[used] >= 0:
        used += 1
    draws, A = draws[:used], drawn_at[:used]
    pi = np.asarray([d["weight"] / d["normalizer"] for d in draws], np.float64)
    pv_a, pv_b = predictor.recalibrate(fitted.crossfit_logit, train_y, logit[A], y[A], pi)
    changed = any(d["items"] and int(d["items"]) != n for d in draws)
    if changed or (used < store.settings.estimate_min_audit and len(A) + known.sum() < n):
        return None, (pv_a, pv_b)
    p, pv = predictor.sigmoid(logit), predictor.sigmoid(pv_a * logit.astype(np.float64) + pv_b)
    design_of, designs = _designs(store, sid, round_no, draws, logit)
    normalizer = [d["normalizer"] for d in draws]
    inputs = estimators.from_arrays(positive, y, p, pv, known, A, pi, design_of, normalizer, designs)
    est = estimators.estimate(*inputs)
    return (None if est is None else {"round": int(round_no), **est}), (pv_a, pv_b)


def _designs(store, sid, round_no, draws, logit):
    """Each draw's design index (one design per batch, ordered by the round whose scores weighted
    it, so each round's logits are read once) and a generator of each design's q over all items:
    floor / pool + (1 - floor) sqrt(pv (1 - pv)) / design_sum, or 1 / pool for a uniform batch."""
    first: dict[int, dict] = {}
    for d in draws:
        first.setdefault(int(d["batch"]), d)
    order = sorted(first, key=lambda b: (int(first[b]["design_round"]), b))
    index = {b: i for i, b in enumerate(order)}
    design_of = np.asarray([index[int(d["batch"])] for d in draws], np.int64)

    def designs():
        cached, g = None, None
        for b in order:
            d = first[b]
            dr, pool = int(d["design_round"]), max(int(d["pool"]), 1)
            if dr >= 0 and d["design_sum"] > 0 and dr != cached:
                lg = logit if dr == round_no else _logits(store, sid, dr, len(logit))
                pv = None if lg is None else predictor.sigmoid(d["pv_a"] * lg.astype(np.float64) + d["pv_b"])
                g, cached = (None if pv is None else np.sqrt(pv * (1 - pv))), dr
            if dr >= 0 and d["design_sum"] > 0 and g is not None:
                yield d["floor"] / pool + (1 - d["floor"]) * g / d["design_sum"]
            else:  # uniform (or its scores are gone: the variance's model part then reads it as uniform)
                yield np.full(len(logit), 1 / pool)

    return design_of, designs()


def _logits(store, sid, round_no, n):
    table = store.query_arrow(Query.named("audit.logits_of_round", session_id=sid, round=round_no))
    values = table.column("logit").to_numpy()
    return values if len(values) == n else None


# -- what GET /sessions/{id} shows -------------------------------------------------------------
def _predictors(store: Store, session_id: str, limit: int) -> list[dict]:
    return store.rows(Query.named("audit.predictors", session_id=session_id, limit=limit))


def current(store: Store, session: dict, latest_round: int) -> tuple[dict[str, Any] | None, bool]:
    """(the newest stored estimate with the stop rule, or None; whether a newer one is on its way).
    A latest round without one (a restart, another replica's round) is queued here."""
    if not audits(store, session):
        return None, False
    stored = _predictors(store, session["id"], HISTORY)
    busy = background.busy(store, session["id"])
    if (not stored or int(stored[0]["round"]) < latest_round) and not busy and latest_round > 0:
        background.submit(store, session["id"], latest_round, refresh)
        busy = True
    if not stored or not stored[0]["estimate"]:
        return None, busy
    est = json.loads(stored[0]["estimate"])
    est["audit_pending"] = int(store.scalar(Query.named("audit.pending_count", session_id=session["id"])) or 0)
    est["history"] = [
        {k: e.get(k) for k in ("round", "audited", "f1", "f1_low", "f1_high")}
        for e in (json.loads(r["estimate"]) for r in reversed(stored) if r["estimate"])
    ]
    return est | stop_rule(store, session, est), busy


def stop_rule(store: Store, session: dict, est: dict) -> dict:
    settings = store.settings
    more = settings.estimate_more_labels
    share = float(session.get("audit_rate") or 0) or (est["audited"] or 0) / max(est["labeled"], 1)
    rule = estimators.stop_rule(est, more_audit=more * share, more_labels=more)
    if est.get("m_eff") is None and est["f1"] is not None:  # every item labeled
        text = f"F1 is {est['f1']:.3f} exactly: every item is labeled."
        return {**rule, "more_labels": more, "stop": True, "stop_reason": text}
    if rule["f1_at_least"] is None:
        return {**rule, "more_labels": more, "stop": False, "stop_reason": "F1 is undefined: no positives found yet."}
    text = (
        f"F1 is at least {rule['f1_at_least']:.3f} with 95% confidence; another {more} labels "
        f"(about {more * share:.0f} of them audit draws) would narrow its interval by about "
        f"{rule['narrow_by']:.3f}, from {rule['width']:.3f} to {rule['width_after']:.3f}."
    )
    stop = rule["narrow_by"] < settings.estimate_stop_gain
    if stop:
        text += " More labels are unlikely to tell you much more."
    return {**rule, "more_labels": more, "stop": stop, "stop_reason": text}
