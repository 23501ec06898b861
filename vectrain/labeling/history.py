"""A session's label history and undo (sql/schema/014_label_history.sql).

Every change of a session's labels is one action: a batch of labels (POST .../labels, the
examples a session starts from), or a removal (one label or several). Before an action writes,
the labels it replaces are recorded with their provenance (`record`), so undo restores them
exactly as newer versions, in any process and after a restart; the labels table's newest
version stays the one truth that training, batches and exports read.

Undo is per labeler: it takes back the newest action of the labeler who asks that is not undone
yet, so repeated undos walk back through their own history one action (one request, however
many items) at a time, and never take back another labeler's work. An item another labeler has
labeled since keeps that newer label (`kept`); the others get the label the action replaced (with
its labeler), and the actor's own answers (label_votes) are what they were before it. The
history is written first: a crash between it and the labels leaves an action whose undo
restores what is already there, never a label without its history.
"""

from __future__ import annotations

import time
from typing import Any

from vectrain.core.errors import NothingToUndo
from vectrain.labeling.multiclass.model import ClassSession
from vectrain.labeling.multiclass.model import label_counts as class_counts
from vectrain.labeling.state import STATES, label_counts, session_row
from vectrain.storage.query import Query
from vectrain.storage.store import Store

KINDS = ("label", "remove")


def record(store: Store, session_id: str, action: int, kind: str, ids: list[str], labeler: str = "") -> None:
    """Keep the live labels of `ids` as they are before `action` (the version it writes with),
    and `labeler`'s own answers, so their undo restores both."""
    if kind not in KINDS:
        raise ValueError(f"unknown action kind {kind!r}")
    store.command(
        Query.named(
            "history.record", session_id=session_id, action=int(action), kind=kind, ids=list(ids), labeler=labeler
        )
    )


def undo(store: Store, session_id: str, labeler: str = "") -> dict[str, Any]:
    """Take back `labeler`'s newest action not undone yet: what it replaced is the label again (or
    no label, where there was none), except on items another labeler changed since. NotFound
    (`nothing_to_undo`) when every action of theirs is undone."""
    s = session_row(store, session_id)
    with STATES.label_lock(s["id"]):
        pending = store.rows(Query.named("history.undoable", session_id=s["id"], labeler=labeler, limit=2))
        if not pending:
            who = f" by {labeler}" if labeler else ""
            raise NothingToUndo(
                f"Nothing to undo in session {s['name']!r}: every label change{who} has been taken back "
                "(or none was made yet).",
                session=s["id"],
            )
        action = int(pending[0]["action"])
        before = store.rows(Query.named("history.before", session_id=s["id"], action=action, labeler=labeler))
        version = time.time_ns()
        restored = [r for r in before if not r["kept"]]
        # The labels first, then the mark: a crash between them leaves the action to be undone
        # again, which writes the same labels. The actor's own answers go back on every item.
        if restored:
            store.insert("labels", [_restored(s["id"], r, labeler, version) for r in restored], LABEL_COLUMNS)
        store.insert(
            "label_votes",
            [
                [s["id"], r["item_id"], labeler, float(r["own_score"]), r["own_class"], 1 - int(r["own_had"]), version]
                for r in before
            ],
            ["session_id", "item_id", "labeler", "score", "class", "removed", "version"],
        )
        store.command(
            Query.named("history.mark_undone", session_id=s["id"], action=action, version=version, labeler=labeler)
        )
        counts = class_counts(store, ClassSession.of(s)) if s["classes"] else label_counts(store, s["id"])
        STATES.set_labeled(store, s["id"], counts["labeled"])
    items = [{"item_id": r["item_id"], "score": float(r["score"]) if _restores(r) else None} for r in restored]
    if s["classes"]:  # a session with classes: the class restored
        items = [{**x, "class": r["class"] if _restores(r) else None} for x, r in zip(items, restored)]
    return {
        "undone": {
            "kind": pending[0]["what"],
            "action": action,
            "items": items,
            "kept": [r["item_id"] for r in before if r["kept"]],
        },
        "more": len(pending) > 1,
        "labels": counts,
    }


LABEL_COLUMNS = [
    "session_id",
    "item_id",
    "score",
    "class",
    "version",
    "removed",
    "source",
    "audit",
    "served_round",
    "served_batch",
    "first_version",
    "labeled",
    "labeler",
]


def _restores(row: dict) -> bool:
    """The replaced label comes back: there was one, and its labeler still gives that answer."""
    return bool(row["had"]) and bool(row["stands"])


def _restored(session_id: str, r: dict, actor: str, version: int) -> list:
    """The labels row an undo writes for one item: the replaced label with its provenance, or a removal."""
    back = _restores(r)
    return [
        session_id,
        r["item_id"],
        float(r["score"]),
        r["class"],
        version,
        0 if back else 1,
        r["source"],
        int(r["audit"]),
        int(r["served_round"]),
        int(r["served_batch"]),
        int(r["first_version"]),
        r["labeled"],
        r["replaced_by"] if back else actor,
    ]
