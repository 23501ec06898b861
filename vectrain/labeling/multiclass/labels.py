"""Labels of a multi-class session: {"item_id", "class"}, stored all or nothing, with the same
provenance and audit rules as binary labels (vectrain.labeling.audit), and who gave them as
binary labels record it (vectrain.labeling.team: each labeler's own answer is its class)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from vectrain.core.errors import BadInput, ItemNotFound
from vectrain.core.names import items_table
from vectrain.core.validation import check_ids
from vectrain.labeling import audit as session_audit
from vectrain.labeling import history, leases, team
from vectrain.labeling.multiclass.model import ClassSession, label_counts
from vectrain.labeling.multiclass.vectors import VECTORS
from vectrain.labeling.state import STATES, dataset_labels
from vectrain.storage.query import Query, Strings
from vectrain.storage.store import Store


def add_labels(store: Store, session: ClassSession, labels: list, labeler: str = "") -> dict[str, Any]:
    """Store a batch of class labels by `labeler`, all or nothing; re-labeling an item replaces its
    label. A class the session does not have, or a binary score, refuses the whole batch."""
    if not isinstance(labels, list) or not labels:
        raise BadInput('labels: give a non-empty list of {"item_id", "class"}', field="labels")
    ids, classes, provenance = [], [], []
    for n, label in enumerate(labels[: store.settings.max_ids + 1]):
        what = f"labels[{n}]"
        if not isinstance(label, dict) or "item_id" not in label:
            raise BadInput(f'{what}: expected {{"item_id": ..., "class": ...}}; nothing was stored', field="labels")
        if label.get("score") is not None:
            raise BadInput(
                f"{what}: session {session.name!r} labels items with a class, not a score: send "
                f'{{"item_id": ..., "class": ...}} with one of its classes; nothing was stored',
                field="labels",
            )
        if not isinstance(label.get("class"), str):
            raise BadInput(f"{what}: give the item's \"class\" (one of the session's classes)", field="labels")
        classes.append(session.classes[session.index(label["class"], what)])
        ids.append(label["item_id"])
        provenance.append(session_audit.provenance(label, what))
    ids = check_ids(ids, "labels", store.settings)
    require_items(store, session.dataset, ids, "labels")
    version = time.time_ns()
    with STATES.label_lock(session.id):
        insert(
            store,
            session.id,
            ids,
            classes,
            provenance,
            version,
            before=lambda: history.record(store, session.id, version, "label", ids, labeler),
            labeler=labeler,
        )
        leases.release(store, session.id, ids)
        counts = label_counts(store, session)
    return {"stored": len(ids), "labels": counts, "labelers": team.labeler_counts(store, session.id)}


def require_items(store: Store, dataset: str, ids: list[str], what: str) -> None:
    where = {"db": store.database, "items": items_table(dataset)}
    found = {r["id"] for r in store.rows(Query.named("items.existing_ids", ids=Strings(ids), **where))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ItemNotFound(
            f"{what}: {len(missing)} item(s) not in dataset {dataset!r}, e.g. {missing[:5]}; nothing was stored",
            dataset=dataset,
            items=missing[:5],
        )


def insert(store: Store, session_id: str, ids, classes, reported, version: int, before=None, labeler: str = "") -> None:
    """One INSERT of class labels with provenance and their labeler, then the labeler's own answers;
    a label that claims to be an audit label must be one (else nothing is stored). `before()` runs
    once the batch is accepted, just before it is written (the label history:
    vectrain.labeling.history)."""
    sources, rounds = [p[0] for p in reported], [p[1] for p in reported]
    session_audit.check_claims(store, session_id, ids, sources)
    if before is not None:
        before()
    store.command(
        Query.named(
            "classes.insert_labels",
            session_id=session_id,
            ids=Strings(ids),
            classes=Strings(classes),
            sources=Strings(sources),
            rounds=[int(r) for r in rounds],
            version=int(version),
            labeler=labeler,
        )
    )
    team.record_answers(store, session_id, labeler, list(ids), [1.0] * len(ids), version, classes=list(classes))


def get_labels(store: Store, session: ClassSession) -> list[dict]:
    """The session's live labels (`class`), each with who gave it (`labeler`), its provenance, the
    item's own label in the dataset (`label`), and every labeler's answer where two or more
    labelers answered (`answers`)."""
    rows = store.rows(Query.named("classes.labels", session_id=session.id))
    own = dataset_labels(store, session.dataset, [r["item_id"] for r in rows])
    answers = team.shared_answers(store, session.id)
    return [
        {
            "item_id": r["item_id"],
            "class": r["class"],
            "score": 1.0,
            "labeled": str(r["labeled"]),
            "label": own.get(r["item_id"], ""),
            "labeler": r["labeler"],
            **session_audit.provenance_of(r),
            "answers": answers.get(r["item_id"], []),
        }
        for r in rows
    ]


def classes_of(store: Store, session: ClassSession, ids: list[str]) -> dict[str, str]:
    """This session's label (the class) of each of `ids` that has one."""
    rows = store.rows(Query.named("sessions.labels_of_items", session_id=session.id, ids=Strings(ids)))
    return {r["item_id"]: r["class"] for r in rows}


def training_data(store: Store, session: ClassSession, dim: int, audit: bool = False):
    """(ids, vectors float32 [n, dim], class indices) of the training labels (audit labels are
    held out), or of the audit labels with `audit`."""
    name = "classes.audit_labels" if audit else "classes.training_labels"
    rows = store.rows(Query.named(name, session_id=session.id))
    ids = [r["item_id"] for r in rows]
    y = np.asarray([session.classes.index(r["class"]) for r in rows], dtype=np.int64)
    return ids, VECTORS.get(store, session, ids, dim).vectors, y
