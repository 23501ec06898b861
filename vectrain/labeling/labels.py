"""A session's labels: stored all or nothing, removed all or nothing, listed with provenance."""

from __future__ import annotations

import time
from typing import Any

from vectrain.core.errors import BadInput, NotFound
from vectrain.core.validation import (
    check_ids,
    check_score,
)
from vectrain.core.vectors import float32_value
from vectrain.labeling import audit as session_audit
from vectrain.labeling import history, leases, team
from vectrain.labeling.multiclass import labels as class_labels
from vectrain.labeling.multiclass.model import ClassSession
from vectrain.labeling.multiclass.model import label_counts as class_counts
from vectrain.labeling.state import STATES, items_params, label_counts, session_row
from vectrain.storage.query import Query
from vectrain.storage.store import Store


def add_labels(store: Store, session_id: str, labels: list[dict], labeler: str = "") -> dict[str, Any]:
    """Store a batch of labels by `labeler` ('' : no name), all or nothing. Re-labeling an item
    replaces the session's label, whoever gave it; each labeler's own answer is kept beside it
    (vectrain.labeling.team)."""
    s = session_row(store, session_id)
    if s["classes"]:
        return class_labels.add_labels(store, ClassSession.of(s), labels, labeler)
    if not isinstance(labels, list) or not labels:
        raise BadInput('labels: give a non-empty list of {"item_id", "score"}', field="labels")
    ids, scores, provenance = [], [], []
    for n, label in enumerate(labels[: store.settings.max_ids + 1]):
        if isinstance(label, dict) and label.get("class") is not None:
            raise BadInput(
                f"labels[{n}]: session {s['name']!r} is binary: give a score in [-1, 1], not a class; "
                "nothing was stored",
                field="labels",
            )
        if not isinstance(label, dict) or "item_id" not in label or "score" not in label:
            raise BadInput(
                f'labels[{n}]: expected {{"item_id": ..., "score": ...}}; nothing was stored', field="labels"
            )
        scores.append(check_score(label["score"], f"labels[{n}]"))
        ids.append(label["item_id"])
        provenance.append(session_audit.provenance(label, f"labels[{n}]"))
    ids = check_ids(ids, "labels", store.settings)
    class_labels.require_items(store, s["dataset"], ids, "labels")
    version = time.time_ns()
    # One INSERT (with provenance): a block this size is written atomically, on disk when it returns.
    with STATES.label_lock(s["id"]):
        session_audit.insert_labels(
            store,
            s["id"],
            ids,
            scores,
            provenance,
            version,
            before=lambda: history.record(store, s["id"], version, "label", ids, labeler),
            labeler=labeler,
        )
        team.record_answers(store, s["id"], labeler, ids, scores, version)
        leases.release(store, s["id"], ids)
        counts = label_counts(store, s["id"])
        STATES.set_labeled(store, s["id"], counts["labeled"])
    return {"stored": len(ids), "labels": counts, "labelers": team.labeler_counts(store, s["id"])}


def remove_labels(store: Store, session_id: str, item_ids: list[str], labeler: str = "") -> dict[str, Any]:
    """Remove labels, all or nothing: every id must be labeled in this session. The session's label
    goes, and so does the remover's own answer; other labelers' answers stay theirs."""
    s = session_row(store, session_id)
    ids = check_ids(item_ids, "item_ids", store.settings)
    labeled = {r["item_id"]: float(r["score"]) for r in store.rows(Query.named("sessions.labels", session_id=s["id"]))}
    missing = [i for i in ids if i not in labeled]
    if missing:
        raise NotFound(
            f"{len(missing)} item(s) are not labeled in session {s['id']!r}, e.g. {missing[:5]}; nothing was removed",
            session=s["id"],
            items=missing[:5],
        )
    version = time.time_ns()
    with STATES.label_lock(s["id"]):
        history.record(store, s["id"], version, "remove", ids, labeler)
        store.insert(
            "labels",
            [[s["id"], i, labeled[i], version, 1, labeler] for i in ids],
            column_names=["session_id", "item_id", "score", "version", "removed", "labeler"],
        )
        team.record_answers(store, s["id"], labeler, ids, [labeled[i] for i in ids], version, removed=True)
        counts = class_counts(store, ClassSession.of(s)) if s["classes"] else label_counts(store, s["id"])
        STATES.set_labeled(store, s["id"], counts["labeled"])
    return {"removed": len(ids), "labels": counts}


def get_labels(store: Store, session_id: str) -> list[dict]:
    """The session's live labels (`score`), each with who gave it (`labeler`), its provenance, the
    item's own label in the dataset (`label`), and every labeler's answer where two or more
    labelers answered (`answers`)."""
    s = session_row(store, session_id)
    if s["classes"]:
        return class_labels.get_labels(store, ClassSession.of(s))
    query = Query.named("sessions.labels_with_items", session_id=s["id"], **items_params(store, s["dataset"]))
    answers = team.shared_answers(store, s["id"])
    return [
        {
            "item_id": r["item_id"],
            "score": float32_value(r["score"]),  # stored as Float32: the decimal that was sent
            "labeled": str(r["labeled"]),
            "label": r["label"],
            "labeler": r["labeler"],
            **session_audit.provenance_of(r),
            "answers": answers.get(r["item_id"], []),
        }
        for r in store.rows(query)
    ]
