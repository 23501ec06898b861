"""Deleting and renaming sessions.

A session's name is claimed (vectrain.storage.claims) and names what it publishes: the SQL
function clf_<database>__<name> and the view <database>.clf_<name>. Deleting a session removes
its labels, label history, labelers' answers, leases, rounds, predictions, audit draws, scored
rounds and what it published, and frees its name. Renaming claims the new name first (409 when
taken), writes a newer version of the session's row, publishes the applied classifier again under
the new name (dropping the old function and view), then frees the old name. Deleting a dataset
deletes its sessions the same way (vectrain.jobs.lifecycle).
"""

from __future__ import annotations

import time
from typing import Any

from vectrain.core.names import function_name, view_name
from vectrain.labeling import publish, rounds, scoring
from vectrain.labeling.multiclass import publish as class_publish
from vectrain.labeling.sessions import check_session_name, get_session
from vectrain.labeling.state import STATES, claim_session_name, session_row
from vectrain.storage import claims
from vectrain.storage.query import Query
from vectrain.storage.store import Store

SYNC = {"mutations_sync": 2}  # the rows are gone when the delete answers
SESSION_TABLES = (
    "predictions",
    "labels",
    "label_history",
    "label_votes",
    "leases",
    "rounds",
    "audit_draws",
    "unseen_decisions",
    "audit_scores",
    "audit_predictors",
    "session_scores",
    "scored_rounds",
    "class_scores",  # sessions with classes: every item under a round, whole rounds, applied rounds
    "class_scored",
    "class_applied",
)


def delete_sessions(store: Store, sessions: list[dict]) -> None:
    """Delete sessions (rows with id and name) and everything that refers to them."""
    if not sessions:
        return
    ids = [s["id"] for s in sessions]
    for s in sessions:  # what a session published: a global function, a view in the database
        unpublish(store, s["name"])
    store.command(Query.named("lifecycle.delete_sessions", ids=ids, version=time.time_ns()))
    for table in SESSION_TABLES:
        store.command(Query.named(f"lifecycle.delete_{table}", ids=ids).with_settings(SYNC))
    for s in sessions:
        claims.release(store, "session", s["name"])
        STATES.forget(store, s["id"])
        scoring.forget(store, s["id"])


def delete_session(store: Store, session_id: str) -> dict[str, Any]:
    s = session_row(store, session_id)
    labeled = int(store.scalar(Query.named("sessions.label_counts", session_id=s["id"])) or 0)
    delete_sessions(store, [s])
    return {"id": s["id"], "name": s["name"], "dataset": s["dataset"], "labels": labeled}


def rename_session(store: Store, session_id: str, name: str) -> dict[str, Any]:
    """Give a session another name (idempotent: its own name changes nothing)."""
    s = session_row(store, session_id)
    check_session_name(name)
    if name == s["name"]:
        return get_session(store, s["id"])
    claim_session_name(store, name, s["id"])
    store.command(Query.named("sessions.rename", id=s["id"], name=name, version=time.time_ns()))
    if s["classes"]:  # a session with classes: its applied round published under the new name
        class_publish.republish(store, {**s, "name": name})
    applied = [] if s["classes"] else store.rows(Query.named("sessions.prediction_counts", session_id=s["id"]))
    if applied:  # published under the old name: publish the applied round under the new one
        r = rounds.get_round(store, s["id"], int(applied[-1]["round"]))
        for statement in publish.publish_sql(store, {**s, "name": name}, r)["statements"]:
            store.command(statement)
    unpublish(store, s["name"])
    claims.release(store, "session", s["name"])
    return get_session(store, s["id"])


def unpublish(store: Store, name: str) -> None:
    store.command(store.dialect.drop_function(function_name(store.database, name)))
    store.command(store.dialect.drop_table(store.database, view_name(name)))
