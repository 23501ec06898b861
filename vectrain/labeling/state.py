"""A session's stored row and label counts, and the state a next batch needs, kept in-process by
the process that writes it.

On chDB this process is the only writer (one process per path), so a session's latest round and
label count are updated in place by train, label and unlabel, and a next batch costs one round
trip: its batch query. On a ClickHouse server other replicas may write, so the state is read in
one query each time.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from vectrain.core.errors import Conflict, SessionNotFound
from vectrain.core.names import FUNCTION_PREFIX, items_table
from vectrain.storage import claims
from vectrain.storage.query import Query
from vectrain.storage.store import Store


@dataclass(frozen=True)
class State:
    id: str
    dataset: str
    round: dict  # the latest round, with its weights
    labeled: int
    audit_rate: float = 0.0  # share of each batch drawn for the audit (vectrain.labeling.audit)
    leased: tuple[str, ...] = ()  # items leased to labelers, skipped by this batch (never cached)


class StateCache:
    """Each session's State, per store."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_store: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._label_locks: dict[str, threading.Lock] = {}

    def get(self, store: Store, session_id: str, read: Callable[[], State]) -> State:
        """The cached state, or `read()` (one query) cached when this process is the only writer."""
        cache = self._for(store)
        if cache is not None and session_id in cache:
            return cache[session_id]
        state = read()
        if cache is not None:
            with self._lock:
                cache[session_id] = state
        return state

    def set_labeled(self, store: Store, session_id: str, labeled: int) -> None:
        cache = self._for(store)
        if cache is not None and session_id in cache:
            with self._lock:
                cache[session_id] = replace(cache[session_id], labeled=labeled)

    def set_round(self, store: Store, session_id: str, round_: dict) -> None:
        """A newer round replaces the cached one (concurrent trainings may finish out of order)."""
        cache = self._for(store)
        if cache is not None and session_id in cache:
            with self._lock:
                if round_["round"] >= cache[session_id].round["round"]:
                    cache[session_id] = replace(cache[session_id], round=round_)

    def forget(self, store: Store, session_id: str) -> None:
        """A deleted session (its dataset was deleted)."""
        cache = self._for(store)
        if cache is not None:
            with self._lock:
                cache.pop(session_id, None)

    def label_lock(self, session_id: str) -> threading.Lock:
        """Label writes of one session, serialized in this process so the count kept is the last one."""
        with self._lock:
            return self._label_locks.setdefault(session_id, threading.Lock())

    def _for(self, store: Store) -> dict | None:
        if store.target.kind != "chdb":
            return None
        with self._lock:
            return self._by_store.setdefault(store, {})


STATES = StateCache()


# -- reads of a session's row --------------------------------------------------------------
def session_row(store: Store, session_id: str) -> dict[str, Any]:
    if not isinstance(session_id, str) or not 1 <= len(session_id) <= 64:
        raise SessionNotFound(f"No session {str(session_id)[:64]!r}.", session=str(session_id)[:64])
    found = store.rows(Query.named("sessions.get", id=session_id))
    if not found:
        raise SessionNotFound(
            f"No session {session_id!r}. List sessions with GET /sessions or `vectrain session show`.",
            session=session_id,
        )
    return found[0]


def items_params(store: Store, dataset: str) -> dict:
    return {"db": store.database, "items": items_table(dataset)}


def label_counts(store: Store, session_id: str) -> dict[str, int]:
    counts = store.rows(Query.named("sessions.label_counts", session_id=session_id))[0]
    return {k: int(v) for k, v in counts.items()}


def dataset_labels(store: Store, dataset: str, ids: list[str]) -> dict[str, str]:
    """The dataset's own label of each of `ids` (point reads by the primary key)."""
    if not ids:
        return {}
    rows = store.rows(Query.named("items.labels_of", ids=list(ids), **items_params(store, dataset)))
    return {r["id"]: r["label"] for r in rows}


def claim_session_name(store: Store, name: str, session_id: str) -> None:
    """Take `name` for the session, or Conflict if a session has it or another request won it
    first (the claim holds across processes: vectrain.storage.claims)."""
    taken = Conflict(
        f"A session named {name!r} already exists; pick another name (the name becomes the SQL "
        f"view {FUNCTION_PREFIX}{name})",
        session_name=name,
    )
    if store.rows(Query.named("sessions.by_name", name=name)):
        raise taken
    if not claims.claim(store, "session", name, session_id):  # another request won the name
        raise taken
