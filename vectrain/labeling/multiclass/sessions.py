"""Multi-class sessions: create one (round 0), describe it, train a round.

Round 0 starts from a label set (each class's vector is the set's label of the same name: with
no examples round 0 is zero-shot exactly), from examples (stored as labels; round 0 is trained on
them), or both; a class with neither starts unknown and the session cannot predict it until it
has a label. Until two classes are known, next batches are uniform random draws.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np

from vectrain.core.errors import BadInput
from vectrain.core.validation import check_ids
from vectrain.labeling.multiclass import labels as class_labels
from vectrain.labeling.multiclass import scoring, training
from vectrain.labeling.multiclass.model import (
    ClassSession,
    check_classes,
    get_round,
    insert_round,
    label_counts,
    latest_round_no,
    starts,
    store_next_round,
)
from vectrain.labeling.state import claim_session_name
from vectrain.storage.query import Floats, Query
from vectrain.storage.store import Store

SUMMARY_METRICS = ("labeled", "per_class", "active", "alpha", "accuracy", "macro_f1", "cv_folds", "seconds")


def create(
    store: Store,
    dataset: str,
    name: str,
    classes,
    *,
    labelset: str | None = None,
    examples: dict | None = None,
    audit_rate: float = 0.0,
    labeler: str = "",
) -> str:
    """Create the session and its round 0; returns its id. `name` and `audit_rate` are checked;
    the examples are `labeler`'s labels."""
    classes = check_classes(classes)
    info = store.registry.get(dataset)
    dim = int(info["dim"])
    start: list[np.ndarray | None] = [None] * len(classes)
    if labelset is not None:
        from vectrain.classify import labelsets

        ls, _ = labelsets.for_dataset(store, labelset, dataset)
        position = {label: i for i, label in enumerate(ls.labels)}
        start = [ls.vectors[position[c]] if c in position else None for c in classes]
        if all(v is None for v in start):
            raise BadInput(
                f"labelset: no class is a label of label set {labelset!r} (its labels: "
                f"{', '.join(ls.labels[:20])}{' ...' if len(ls.labels) > 20 else ''}); a class takes the "
                "vector of the label with its exact name",
                field="labelset",
            )
    ids, y = _examples(store, dataset, classes, examples)
    session = ClassSession(uuid.uuid4().hex[:16], dataset, name, tuple(classes), labelset or "", audit_rate)
    claim_session_name(store, name, session.id)
    source = "+".join(part for part, given in (("labelset", labelset), ("examples", ids)) if given) or "classes"
    store.command(
        Query.named(
            "classes.insert_session",
            id=session.id,
            dataset=dataset,
            name=name,
            source=source,
            examples=ids,
            audit_rate=audit_rate,
            version=time.time_ns(),
            classes=list(classes),
            labelset=labelset or "",
            class_prior=Floats(np.stack([v if v is not None else np.zeros(dim, np.float32) for v in start])),
        )
    )
    if ids:  # the examples are labels the user already gave: stored as such
        given = [classes[c] for c in y]
        class_labels.insert(store, session.id, ids, given, [("user", -1)] * len(ids), time.time_ns(), labeler=labeler)
    P = training.prior_matrix(start, dim)
    started = time.perf_counter()
    _, X, y = class_labels.training_data(store, session, dim) if ids else ([], np.zeros((0, dim), np.float32), y)
    model = training.train(X, y, P)
    model.metrics.update(source=source, seconds=round(time.perf_counter() - started, 3))
    insert_round(store, session.id, 0, "init", model)
    if int(model.active.sum()) >= 2:
        scoring.submit(store, session, get_round(store, session, 0))
    return session.id


def _examples(store: Store, dataset: str, classes: list[str], examples) -> tuple[list[str], np.ndarray]:
    """The example items as (ids, class indices), checked; nothing for None."""
    if examples is None:
        return [], np.zeros(0, dtype=np.int64)
    if not isinstance(examples, dict) or not examples:
        raise BadInput('examples: give {"class": [item ids], ...}', field="examples")
    ids, y = [], []
    for name, items in examples.items():
        if name not in classes:
            raise BadInput(f"examples: {name!r} is not one of the classes", field="examples")
        if not isinstance(items, list) or not items:
            raise BadInput(f"examples[{name!r}]: give a non-empty list of item ids", field="examples")
        ids += items
        y += [classes.index(name)] * len(items)
    ids = check_ids(ids, "examples", store.settings)  # distinct: an item is an example of one class
    class_labels.require_items(store, dataset, ids, "examples")
    return ids, np.asarray(y, dtype=np.int64)


def describe(store: Store, row: dict, history: list[dict]) -> dict[str, Any]:
    """What GET /sessions/{id} adds for a multi-class session; `history` (the rounds' summaries)
    keeps the per-class metrics of the latest round only."""
    from vectrain.labeling.multiclass import estimate

    session = ClassSession.of(row)
    for r in history[:-1]:
        r["metrics"] = {k: v for k, v in r["metrics"].items() if k in SUMMARY_METRICS}
    latest = get_round(store, session, history[-1]["round"]) if history else None
    return {
        "classes": list(session.classes),
        "labelset": session.labelset or None,
        "labels": label_counts(store, session),
        "active": [bool(a) for a in latest.active] if latest is not None else None,
        "scored_round": scoring.latest_scored(store, session.id),
        "estimate": estimate.estimate(store, session, latest) if latest is not None else None,
    }


def train_round(store: Store, row: dict, mode: str = "auto") -> dict[str, Any]:
    if mode != "auto":
        raise BadInput(f"mode {mode!r}: a multi-class session trains its softmax classifier (mode auto)", field="mode")
    session = ClassSession.of(row)
    dim = int(store.registry.get(session.dataset, count=False)["dim"])
    ids, X, y = class_labels.training_data(store, session, dim)
    if not ids:
        raise BadInput(
            "This session has no labels to train on yet (audit labels are held out to measure it): "
            "label some items (POST /sessions/{id}/labels) first",
            session=session.id,
        )
    P = training.prior_matrix(starts(store, session.id, len(session.classes)), dim)
    started = time.perf_counter()
    model = training.train(X, y, P)
    model.metrics["seconds"] = round(time.perf_counter() - started, 3)
    # Storing the round claims its number: concurrent trainings never share one, and a kill leaves no gap.
    round_no = store_next_round(store, session.id, latest_round_no(store, session.id), "auto", model)
    if int(model.active.sum()) >= 2:
        scoring.submit(store, session, get_round(store, session, round_no))
    return {"round": round_no, "mode": "auto", "bias": 0.0, "threshold": 0.0, "metrics": model.metrics}
