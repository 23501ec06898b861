"""A session's label history and undo (sql/schema/014_label_history.sql).

Every change of a session's labels is one action: a batch of labels (POST .../labels, the
examples a session starts from), or a removal (one label or several). Before an action writes,
the labels it replaces are recorded with their provenance (`record`), so undo restores them
exactly as newer versions, in any process and after a restart; the labels table's newest
version stays the one truth that training, batches and exports read.

Undo takes back the newest action not undone yet, so repeated undos walk back through the
session's history one action (one request, however many items) at a time. The history is
written first: a crash between it and the labels leaves an action whose undo restores what is
already there, never a label without its history.
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


def record(store: Store, session_id: str, action: int, kind: str, ids: list[str]) -> None:
    """Keep the live labels of `ids` as they are before `action` (the version it writes with)."""
    if kind not in KINDS:
        raise ValueError(f"unknown action kind {kind!r}")
    store.command(Query.named("history.record", session_id=session_id, action=int(action), kind=kind, ids=list(ids)))


def undo(store: Store, session_id: str) -> dict[str, Any]:
    """Take back the newest action not undone yet: what it replaced is the label again (or no
    label, where there was none). NotFound (`nothing_to_undo`) when every action is undone."""
    s = session_row(store, session_id)
    with STATES.label_lock(s["id"]):
        pending = store.rows(Query.named("history.undoable", session_id=s["id"], limit=2))
        if not pending:
            raise NothingToUndo(
                f"Nothing to undo in session {s['name']!r}: every label change has been taken back "
                "(or none was made yet).",
                session=s["id"],
            )
        action = int(pending[0]["action"])
        before = store.rows(Query.named("history.before", session_id=s["id"], action=action))
        version = time.time_ns()
        # The labels first, then the mark: a crash between them leaves the action to be undone
        # again, which writes the same labels.
        store.command(Query.named("history.restore", session_id=s["id"], action=action, version=version))
        store.command(Query.named("history.mark_undone", session_id=s["id"], action=action, version=version))
        counts = class_counts(store, ClassSession.of(s)) if s["classes"] else label_counts(store, s["id"])
        STATES.set_labeled(store, s["id"], counts["labeled"])
    restored = [{"item_id": r["item_id"], "score": float(r["score"]) if r["had"] else None} for r in before]
    if s["classes"]:  # a session with classes: the class restored
        restored = [{**x, "class": r["class"] if r["had"] else None} for x, r in zip(restored, before)]
    return {
        "undone": {
            "kind": pending[0]["what"],
            "action": action,
            "items": restored,
        },
        "more": len(pending) > 1,
        "labels": counts,
    }
