"""Audit sampling in sessions: random audit draws in next batches, label provenance, and the
estimate of the current classifier's quality over the whole dataset (vectrain.labeling.estimators).

Whether a label is an audit label is decided by the service alone, so it cannot be spoofed into
biasing the estimate:
- audit draws are uniform over the items neither labeled nor drawn before, in the order of a keyed
  hash with a secret salt (nobody can predict or steer them), and recorded in `audit_draws`;
- a draw waiting for its label is served again, first, in every later batch of a session that
  audits, and never drawn twice: a client cannot re-draw until it gets items it likes;
- an item ever drawn is an audit label whatever path labels it, and only such an item is: a
  label that claims `source: audit` for anything else is refused;
- audit labels are held out of training, so the classifier being measured never saw them.
What a client reports for other labels (the strategy and round that served them) is recorded as
provenance and does not enter the estimate: those labels count as known exactly, however chosen.
A client can still leave audit items unlabeled: they count as `audit_pending`, and the estimate
uses labeled draws only.

Sessions without audit keep the one-query next batch: nothing is read or written for them.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from vectrain.core.choices import Strategy
from vectrain.core.errors import BadInput, Forbidden
from vectrain.core.names import items_table
from vectrain.core.validation import check_int, check_round
from vectrain.labeling import estimators
from vectrain.storage.query import Floats, Query
from vectrain.storage.store import Store

_random = secrets.SystemRandom()
SOURCES = ("user", "audit", *Strategy.values())


# -- next batches ------------------------------------------------------------------------------
def audit_count(rate: float, audit: int | None, k: int) -> int:
    """Audit items wanted in a batch of k: the request's `audit`, else `rate` of k (a fractional
    part is rounded up with that probability, so the share is exact on average whatever k is)."""
    if audit is not None:
        return check_int(audit, "audit", 0, k)
    expected = float(rate or 0.0) * k
    whole = math.floor(expected)
    return min(k, whole + (1 if _random.random() < expected - whole else 0))


def next_batch(
    store: Store, state, k: int, strategy: Strategy, audit: int | None = None, record: bool = True
) -> dict[str, Any]:
    """k items: audit draws waiting for a label, new audit draws, then the strategy's picks.

    `state` is the session's (vectrain.labeling.state.State). New draws are recorded, so they need a
    caller that may write (`record`); a read-only caller previews the batch without them."""
    from vectrain.labeling.batches import choose

    want = audit_count(state.audit_rate, audit, k)
    if want == 0 and not state.audit_rate:  # no audit: the strategy's batch, one query
        items = choose(store, state.dataset, state.id, state.round, state.labeled, k, strategy)
        return {
            "items": [{**i, "source": strategy.value} for i in items],
            "strategy": strategy.value,
            "round": int(state.round["round"]),
            "audit": 0,
        }
    pending = [r["item_id"] for r in store.rows(Query.named("audit.pending", session_id=state.id))]
    again = pending[:k]
    new = max(0, want - len(again))
    if new and not record:
        raise Forbidden(
            "New audit draws are recorded with the session, and this API key may only read: "
            'ask with "audit": 0 to preview the batch.',
            session=state.id,
        )
    w, b = state.round["weights"], float(state.round["bias"])
    where = {"db": store.database, "items": items_table(state.dataset)}
    audit_items = []
    if again:
        rows = {r["id"]: r for r in store.rows(Query.named("audit.scored", w=Floats(w), b=b, ids=again, **where))}
        audit_items += [_item(rows[i]) for i in again if i in rows]
    if new:
        batch = time.time_ns()
        drawn = store.rows(
            Query.named("audit.draw", w=Floats(w), b=b, session_id=state.id, salt=_salt(), k=new, **where)
        )
        if drawn:
            store.insert(
                "audit_draws",
                [[state.id, batch, n, r["id"], int(state.round["round"]), int(r["pool"])] for n, r in enumerate(drawn)],
                column_names=["session_id", "batch", "position", "item_id", "round", "pool"],
            )
        audit_items += [_item(r) for r in drawn]
    items = []
    if k > len(audit_items):
        # The strategy picks from the unlabeled items minus the audit ones: ask for as many more
        # as the audit items it might return, and drop those.
        taken = {i["id"] for i in audit_items}
        chosen = choose(store, state.dataset, state.id, state.round, state.labeled, k, strategy)
        items = [{**i, "source": strategy.value} for i in chosen if i["id"] not in taken][: k - len(audit_items)]
    for item in audit_items:  # at random places: nothing in the order tells audit items apart
        items.insert(_random.randint(0, len(items)), item)
    return {"items": items, "strategy": strategy.value, "round": int(state.round["round"]), "audit": len(audit_items)}


def _salt() -> str:
    """A fresh secret for each draw: nobody can predict or reproduce which items it picks."""
    return secrets.token_hex(16)


def _item(row: dict) -> dict:
    return {"id": row["id"], "url": row["url"], "label": row["label"], "score": float(row["score"]), "source": "audit"}


# -- labels ------------------------------------------------------------------------------------
def provenance(label: dict, what: str) -> tuple[str, int]:
    """(source, round) a label reports: how it was sampled (default user: picked by hand), and the
    round that served it (-1: none)."""
    source, round_no = label.get("source"), label.get("round")
    if source is None:
        source = "user"
    elif source not in SOURCES:
        raise BadInput(f"{what}: unknown source {source!r}: use one of {', '.join(SOURCES)}", field=what)
    return source, (-1 if round_no is None else check_round(round_no))


def provenance_of(row: dict) -> dict:
    """A stored label's provenance, as the API shows it."""
    return {
        "source": row["source"],
        "audit": bool(row["audit"]),
        "round": int(row["served_round"]) if row["served_round"] >= 0 else None,
    }


def insert_labels(
    store: Store,
    session_id: str,
    ids: list[str],
    scores: list[float],
    reported: list[tuple[str, int]],
    version: int,
    before=None,
) -> None:
    """Store a batch of labels with their provenance (sql/queries/audit.sql): one INSERT. A label
    that claims to be an audit label must be one: else nothing is stored. `reported`: each
    label's (source, round), from `provenance`. `before()` runs once the batch is accepted, just
    before it is written (the label history)."""
    sources, rounds = [p[0] for p in reported], [p[1] for p in reported]
    claimed = [i for i, source in zip(ids, sources) if source == "audit"]
    if claimed:
        drawn = {r["item_id"] for r in store.rows(Query.named("audit.drawn_among", session_id=session_id, ids=claimed))}
        false = [i for i in claimed if i not in drawn]
        if false:
            raise BadInput(
                f"{len(false)} label(s) claim source audit but were never drawn for this session's "
                f"audit, e.g. {false[:5]}; nothing was stored",
                field="labels",
                items=false[:5],
            )
    if before is not None:
        before()
    store.command(
        Query.named(
            "audit.insert_labels",
            session_id=session_id,
            ids=list(ids),
            scores=[float(s) for s in scores],
            sources=list(sources),
            rounds=[int(r) for r in rounds],
            version=int(version),
        )
    )


def store_unseen(store: Store, session_id: str, round_no: int, item_ids: list[str], unseen) -> None:
    """Keep a training round's cross-fitted decisions (vectrain.labeling.training.Model.unseen)."""
    if unseen is not None and len(item_ids):
        store.insert(
            "unseen_decisions",
            [[session_id, int(round_no), i, int(u)] for i, u in zip(item_ids, unseen)],
            column_names=["session_id", "round", "item_id", "positive"],
        )


# -- the estimate ------------------------------------------------------------------------------
_counts_cache: OrderedDict = OrderedDict()  # (database, session, round, rows) -> (items, predicted positive)
_cache_lock = threading.Lock()
CACHE_SIZE = 4096


def estimate(store: Store, session: dict) -> dict[str, Any] | None:
    """The latest round's precision, recall, F1 and positives over the whole dataset from the
    session's audit labels (vectrain.labeling.estimators), with the stop hint; None until there are
    VECTRAIN_ESTIMATE_MIN_AUDIT audit labels."""
    settings = store.settings
    counts = store.rows(Query.named("audit.counts", session_id=session["id"]))[0]
    if int(counts["audited"]) < max(1, settings.estimate_min_audit):
        return None
    rounds = store.rows(
        Query.named("audit.recent_rounds", session_id=session["id"], limit=settings.estimate_stop_rounds + 1)
    )
    if not rounds:
        return None
    per_round = []
    for labels, items, positive, _round in estimate_inputs(store, session, rounds):
        try:
            per_round.append(estimators.estimate(labels, items, positive))
        except ValueError:  # rows deleted or added under the labels: counts that do not add up
            return None
    current = per_round[0]
    earlier = [e["f1"] for e in reversed(per_round[1:])]
    stop, reason = estimators.stop_hint(
        current["f1_low"],
        current["f1_high"],
        current["f1"],
        earlier,
        settings.estimate_stop_width,
        settings.estimate_stop_change,
        settings.estimate_stop_rounds,
    )
    pending = int(store.scalar(Query.named("audit.pending_count", session_id=session["id"])) or 0)
    return {
        "round": int(rounds[0]["round"]),
        **current,
        "audit_pending": pending,
        "stop": stop,
        "stop_reason": reason,
        "history": [{"round": int(r["round"]), "f1": e["f1"]} for r, e in zip(rounds, per_round)][::-1],
    }


def estimate_inputs(store: Store, session: dict, rounds: list[dict]):
    """Per round (weights, bias, threshold): the estimator's Labels, the dataset's items and the
    round's predicted positives among them."""
    classifiers = {
        "weights": [np.asarray(r["weights"], np.float32).tolist() for r in rounds],
        "biases": [float(r["bias"]) for r in rounds],
        "thresholds": [float(r["threshold"]) for r in rounds],
    }
    where = {"db": store.database, "items": items_table(session["dataset"])}
    predicted = _predicted_counts(store, session, rounds, classifiers, where)
    rows = store.rows(Query.named("audit.labeled_decisions", session_id=session["id"], **classifiers, **where))

    def column(name, dtype):
        return np.asarray([r[name] for r in rows], dtype)

    decisions = np.asarray([r["decisions"] for r in rows], bool).reshape(len(rows), len(rounds))
    unseen = {}  # round -> item -> the decision of a fold model that did not train on it
    for u in store.rows(
        Query.named("audit.unseen", session_id=session["id"], rounds=[int(r["round"]) for r in rounds])
    ):
        unseen.setdefault(int(u["round"]), {})[u["item_id"]] = bool(u["positive"])
    for i, r in enumerate(rounds):
        crossfit = unseen.get(int(r["round"]), {})
        labels = estimators.Labels.of(
            predicted=decisions[:, i],
            positive=column("score", np.float64) > 0,
            first=column("first", np.int64),
            audit=column("audit", bool),
            draw=column("batch", np.int64),
            position=column("position", np.int64),
            unseen=[crossfit.get(x["item_id"], decisions[n, i]) for n, x in enumerate(rows)],
        )
        items, positive = predicted[int(r["round"])]
        yield labels, items, positive, r


def _predicted_counts(
    store: Store, session: dict, rounds: list[dict], classifiers: dict, where: dict
) -> dict[int, tuple[int, int]]:
    """(items, predicted positives) per round: one scan of the dataset for the rounds not seen yet
    (a round's classifier never changes; the key holds the row count, which a load changes)."""
    rows_now = store.registry.count_rows(session["dataset"])
    keys = [(store.database, session["id"], int(r["round"]), rows_now) for r in rounds]
    with _cache_lock:
        found = {key[2]: _counts_cache[key] for key in keys if key in _counts_cache}
    missing = [i for i, key in enumerate(keys) if key[2] not in found]
    if missing:
        subset = {name: [values[i] for i in missing] for name, values in classifiers.items()}
        row = store.rows(Query.named("audit.predicted_counts", **subset, **where))[0]
        with _cache_lock:
            for j, i in enumerate(missing):
                value = (int(row["items"]), int(row["positives"][j]))
                found[keys[i][2]] = value
                _counts_cache[keys[i]] = value
                while len(_counts_cache) > CACHE_SIZE:
                    _counts_cache.popitem(last=False)
    return found
