"""Leases: the items of a next batch belong to the named labeler it was handed to for a while
(VECTRAIN_LEASE_SECONDS), so labelers working on one session at the same time get disjoint
batches (sql/schema/020_labelers.sql).

A named labeler's next batch is, in order: their own leased items not labeled yet (a reload or
a second tab gets them back), then the strategy's picks (and audit draws) among the items
neither labeled nor leased to anyone. Every item served is (re)leased to them until now +
VECTRAIN_LEASE_SECONDS. A lease ends when its item is labeled (labeled items are skipped anyway)
or when its time is up. A caller without a name takes no lease and keeps none (there is no one
to give the items back to), and a read key only previews: both skip every leased item.

Grants are serialized per session without locks shared between processes: a grant is numbered
(the session's next number as read with the live leases), and its rows are one INSERT with the
deduplication token (session, number). Of two grants that read the same number the engine keeps
one block, atomically (as vectrain.storage.claims); the loser reads the winner back, reads the
live leases again (now with the winner's items) and asks again under the next number. A grant
that wins thus excluded every live lease of every earlier grant, and every later grant reads
it: no item is leased to two labelers at once. In one process, grants of a session take a lock
first, so they never race each other.

On chDB (one process per path) this process makes every grant: it reads a session's live leases
once, keeps them (`_Book`), and a grant needs no read-back, so a named labeler's batch costs one
insert beside the strategy's queries and a caller without a name nothing. On a server a named
labeler's batch reads the live leases, runs the strategy, inserts the grant and reads its winner
back (three round trips more), and a caller without a name reads the live leases (one).

The skip composes with any strategy: in a binary session the live leased ids ride on the session's
exclusion (vectrain.storage.vectorsql.filters.Exclusion) and are read past in the scored round's
bands (vectrain.labeling.candidates); a session with classes reads past them in its round's
scores (vectrain.labeling.multiclass.batches). `lease` is the same for both: given the batch rule,
it hands it the leased ids and the labeler's own, and grants what it returns.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

from vectrain.core.errors import Conflict
from vectrain.core.names import items_table
from vectrain.labeling import audit as session_audit
from vectrain.labeling.state import State
from vectrain.storage.query import Floats, Query
from vectrain.storage.store import Store

TRIES = 8  # grants lost to concurrent ones before a next batch gives up (409)
_lock_all = threading.Lock()
_locks: dict[str, threading.Lock] = {}
_books: dict[tuple[str, str], _Book] = {}  # (database, session) -> its leases, on chDB
Batcher = Callable[[tuple[str, ...], list[tuple[str, str]]], dict[str, Any]]  # (leased, own) -> a batch


@dataclass
class _Book:
    """A session's live leases as this process knows them, on chDB only: one process per path
    makes every grant, so after one read of the table this book is the truth (labels end leases
    in it as they are stored, `release`)."""

    next_grant: int
    leases: dict[str, tuple[str, int, str]]  # item -> (holder, until ns, source), oldest grant first


def _lock(session_id: str) -> threading.Lock:
    with _lock_all:
        return _locks.setdefault(session_id, threading.Lock())


def live(store: Store, session_id: str) -> tuple[int, list[tuple[str, str, str]]]:
    """(the next grant number, [(item, holder, source)] of the live leases, oldest first)."""
    now = time.time_ns()
    book = _book(store, session_id)
    if book is not None:
        with _lock_all:
            for item in [i for i, (_, until, _) in book.leases.items() if until <= now]:
                del book.leases[item]
            return book.next_grant, [(i, holder, source) for i, (holder, _, source) in book.leases.items()]
    row = store.rows(Query.named("leases.live", session_id=session_id, now=now))[0]
    return int(row["next_grant"]), list(zip(row["items"], row["holders"], row["sources"]))


def _book(store: Store, session_id: str) -> _Book | None:
    if store.target.kind != "chdb":
        return None
    key = (store.database, session_id)
    with _lock_all:
        if key in _books:
            return _books[key]
    row = store.rows(Query.named("leases.live", session_id=session_id, now=time.time_ns()))[0]
    book = _Book(int(row["next_grant"]), {i: (h, u, s) for i, h, u, s in zip(*(row[c] for c in COLUMNS))})
    with _lock_all:
        return _books.setdefault(key, book)


COLUMNS = ("items", "holders", "untils", "sources")


def release(store: Store, session_id: str, ids: list[str]) -> None:
    """Labeled items: their leases end (in this process's book; a server's reads skip labeled items)."""
    with _lock_all:
        book = _books.get((store.database, session_id))
        if book is not None:
            for i in ids:
                book.leases.pop(i, None)


def next_batch(
    store: Store, state: State, k: int, strategy, audit: int | None, record: bool, labeler: str
) -> dict[str, Any]:
    """The next batch of `labeler` in a binary session (vectrain.labeling.audit.next_batch under leases)."""

    def batch(leased: tuple[str, ...], own: list[tuple[str, str]]) -> dict[str, Any]:
        return _batch(store, replace(state, leased=leased), k, own, strategy, audit, record)

    return lease(store, state.id, record, labeler, batch)


def lease(store: Store, session_id: str, record: bool, labeler: str, batch: Batcher) -> dict[str, Any]:
    """A next batch under leases, of any kind of session: `batch(leased, own)` is the batch that
    skips the `leased` items and serves `own` ([(item, source)]: the labeler's own leased items)
    first; a named labeler who may write leases what it returns."""
    seconds = float(store.settings.lease_seconds)
    if seconds <= 0:
        return {**batch((), []), "lease_seconds": None}
    takes = bool(labeler) and record
    last = -1
    with _lock(session_id) if takes else nullcontext():
        for _ in range(TRIES):
            number, leases = live(store, session_id)
            number = max(number, last + 1)
            own = [(i, source) for i, holder, source in leases if holder == labeler] if takes else []
            answer = batch(tuple(i for i, _, _ in leases), own)
            if not takes or not answer["items"]:
                return {**answer, "lease_seconds": None}
            if _grant(store, session_id, number, labeler, answer["items"], seconds):
                return {**answer, "lease_seconds": seconds}
            last = number
    raise Conflict(
        f"Next batches of this session are being handed out faster than they can be leased ({TRIES} tries "
        "lost to other labelers): ask again.",
        session=session_id,
    )


def with_own(served: list[dict], more: dict[str, Any] | None, answer: dict[str, Any]) -> dict[str, Any]:
    """A batch: the labeler's own leased items (`served`) first, then `more` (a batch of the rest;
    None when `served` fills it). `answer`: the batch's fields when `served` alone is the batch."""
    audited = sum(i["source"] == "audit" for i in served)
    yours = f"{len(served)} leased to you, not labeled yet"
    if more is None:
        return {**answer, "items": served, "audit": audited, "source": yours, "scored_round": None}
    return {
        **more,
        "items": served + more["items"],
        "audit": more["audit"] + audited,
        "source": f"{yours} + {more['source']}" if served else more["source"],
    }


def _batch(store: Store, state: State, k: int, own: list[tuple[str, str]], strategy, audit, record) -> dict[str, Any]:
    """The labeler's own leased items (scored under the current round), then a batch of the rest."""
    served = []
    if own:
        w, b = state.round["weights"], float(state.round["bias"])
        where = {"db": store.database, "items": items_table(state.dataset)}
        rows = {
            r["id"]: r
            for r in store.rows(
                Query.named("leases.scored", w=Floats(w), b=b, ids=[i for i, _ in own], session_id=state.id, **where)
            )
        }
        served = [
            {"id": i, "url": rows[i]["url"], "label": rows[i]["label"], "score": float(rows[i]["score"]), "source": src}
            for i, src in own
            if i in rows
        ][:k]
    rest = k - len(served)
    more = session_audit.next_batch(store, state, rest, strategy, audit, record) if rest > 0 else None
    return with_own(served, more, {"strategy": strategy.value, "round": int(state.round["round"])})


def _grant(store: Store, session_id: str, number: int, holder: str, items: list[dict], seconds: float) -> bool:
    """Lease `items` to `holder` as grant `number`: True when this grant is the one the engine kept."""
    claimant = uuid.uuid4().hex
    until = time.time_ns() + int(seconds * 1e9)
    store.insert(
        "leases",
        [[session_id, number, claimant, holder, i["id"], n, i["source"], until] for n, i in enumerate(items)],
        ["session_id", "grant_no", "claimant", "holder", "item_id", "position", "source", "until"],
        settings={"insert_deduplication_token": f"lease:{session_id}:{number}"},
    )
    book = _book(store, session_id)
    if book is None:  # a server: other replicas may have made grant `number` too
        return store.scalar(Query.named("leases.winner", session_id=session_id, grant_no=number)) == claimant
    with _lock_all:  # chDB: this process alone grants, under the session's lock
        book.next_grant = number + 1
        for i in items:
            book.leases.pop(i["id"], None)  # re-leased: to the end, in the order of this grant
            book.leases[i["id"]] = (holder, until, i["source"])
    return True
