"""A session's rounds: each round's weights, bias, threshold and metrics, read and stored."""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np

from vectrain.core.errors import RoundNotFound
from vectrain.core.names import items_table
from vectrain.core.validation import (
    check_round,
)
from vectrain.labeling import training
from vectrain.storage.query import Floats, Query
from vectrain.storage.store import Store


def round_summary(r: dict) -> dict:
    return {
        "round": int(r["round"]),
        "mode": r["mode"],
        "bias": float(r["bias"]),
        "threshold": float(r["threshold"]),
        "metrics": json.loads(r["metrics"] or "{}"),
        "created": str(r["created"]),
    }


def latest_round(store: Store, session_id: str) -> dict[str, Any]:
    rows = store.rows(Query.named("sessions.latest_round", session_id=session_id))
    if not rows:
        raise RoundNotFound(f"Session {session_id!r} has no rounds", session=session_id)
    return {**round_summary(rows[0]), "weights": np.asarray(rows[0]["weights"], dtype=np.float32)}


def get_round(store: Store, session_id: str, round_no: int | None) -> dict[str, Any]:
    """Round `round_no` of a session, or its latest round when None."""
    if round_no is None:
        return latest_round(store, session_id)
    round_no = check_round(round_no)
    rows = store.rows(Query.named("sessions.round", session_id=session_id, round_no=round_no))
    if not rows:
        raise RoundNotFound(f"Session {session_id!r} has no round {round_no}", session=session_id, round=round_no)
    return {**round_summary(rows[0]), "weights": np.asarray(rows[0]["weights"], dtype=np.float32)}


def insert_round(store, session_id, round_no, mode, weights, bias, threshold, metrics, claimant: str = ""):
    query = Query.named(
        "sessions.insert_round",
        session_id=session_id,
        round_no=int(round_no),
        mode=mode,
        weights=Floats(weights),
        bias=float(bias),
        threshold=float(threshold),
        metrics=json.dumps(metrics),
        claimant=claimant,
    )
    if claimant:  # the first insert of (session, round) wins; the others are dropped by the engine
        query = query.with_settings(insert_deduplication_token=f"round:{session_id}:{int(round_no)}")
    store.command(query)


def store_next_round(store, session_id: str, after: int, mode, weights, bias, threshold, metrics) -> int:
    """Store a new round numbered after `after` and return its number. Storing it is the claim
    (sql/schema/012_round_claims.sql): a concurrent trainer that stored the number first wins it,
    and this round takes the next; a process killed at any moment leaves the round stored whole or
    not at all, so the numbers never have a gap."""
    claimant = uuid.uuid4().hex
    round_no = int(after) + 1
    while True:
        insert_round(store, session_id, round_no, mode, weights, bias, threshold, metrics, claimant=claimant)
        winner = store.scalar(Query.named("sessions.round_claimant", session_id=session_id, round_no=round_no))
        if winner == claimant:
            return round_no
        round_no += 1


def label_free_threshold(store: Store, dataset: str, weights, bias: float) -> float:
    """Otsu's split of the dataset's score histogram: a threshold before labels can set one."""
    rows = store.query(store.dialect.score_histogram(store.database, items_table(dataset), weights)).result_rows
    if not rows:
        return float(bias)
    values, counts = np.array(rows, dtype=np.float64).T
    return training.otsu_threshold(values, counts) + float(bias)
