"""Every item scored once per round, in the background, into `class_scores`.

After a round is trained (and when a session starts) its classifier scores every row: the
vectors stream out of the items table in Arrow blocks (vectrain.storage.itemvectors.blocks, as
zero-shot's run_stored), one float32 matrix product and a softmax per block, and each block's
top class, probability and margin go into the round's partition of class_scores, on a client of
its own. A marker row in class_scored says the partition is whole. Next batches then read that
table with range reads: the smallest margins in its order, a class's most confident items in its
projection.

One worker thread per store scores rounds one after another. A next batch waits for the latest
round's scoring on datasets up to VECTRAIN_CLASS_SCORE_WAIT_ROWS rows (a fraction of a second
there); on larger ones it reads the newest whole round and says which. After a round is scored,
the partitions of rounds before the one it replaces are dropped, unless they were applied.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np
import pyarrow as pa

from vectrain.core import blas
from vectrain.core.budget import Deadline
from vectrain.labeling.multiclass import training
from vectrain.labeling.multiclass.model import ClassRound, ClassSession
from vectrain.storage import itemvectors
from vectrain.storage.query import Query
from vectrain.storage.store import Store

log = logging.getLogger("vectrain")

READ_AHEAD = 2
INSERT_ROWS = 131_072  # rows per insert: fewer parts to merge (zero-shot's measured choice)


class _Worker:
    def __init__(self):
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="class-scoring")
        self.inflight: dict[tuple[str, int], Future] = {}
        self.lock = threading.Lock()


_workers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_workers_lock = threading.Lock()


def _worker(store: Store) -> _Worker:
    with _workers_lock:
        worker = _workers.get(store)
        if worker is None:
            worker = _workers[store] = _Worker()
        return worker


def submit(store: Store, session: ClassSession, rnd: ClassRound) -> Future:
    """Score a round in the background (once: a round in flight is not submitted again)."""
    worker = _worker(store)
    key = (session.id, rnd.round)
    with worker.lock:
        future = worker.inflight.get(key)
        if future is not None:
            return future
        future = worker.executor.submit(_run, store, session, rnd)
        worker.inflight[key] = future

    def done(f: Future) -> None:
        with worker.lock:
            worker.inflight.pop(key, None)
        if f.exception() is not None:
            log.error("scoring round %s of session %s failed", rnd.round, session.id, exc_info=f.exception())

    future.add_done_callback(done)
    return future


def pending(store: Store, session_id: str) -> list[Future]:
    worker = _worker(store)
    with worker.lock:
        return [f for (sid, _), f in worker.inflight.items() if sid == session_id]


def wait(store: Store, session_id: str, timeout: float | None = None) -> None:
    """Wait for the session's scorings in flight (tests, benchmarks, apply)."""
    for future in pending(store, session_id):
        future.result(timeout=timeout)


def _run(store: Store, session: ClassSession, rnd: ClassRound) -> dict:
    with store.apart() as own:
        return score_round(own, session, rnd)


def is_whole(store: Store, session_id: str, round_no: int) -> bool:
    r = store.rows(Query.named("classes.round_scored", session_id=session_id, round_no=int(round_no)))[0]
    return bool(r["items"]) and int(r["items"]) == int(r["stored"])


def latest_scored(store: Store, session_id: str) -> int | None:
    """The newest round whose scores are whole, or None."""
    rows = store.rows(Query.named("classes.latest_scored", session_id=session_id))
    if not rows:
        return None
    round_no = int(rows[0]["round"])
    if is_whole(store, session_id, round_no):
        return round_no
    return None


def round_to_read(store: Store, session: ClassSession, latest: ClassRound, deadline: Deadline) -> int:
    """The round whose scores a next batch reads: the latest round once it is scored (waited for
    on small datasets, or when no round is scored yet), else the newest scored one."""
    scored = latest_scored(store, session.id)
    if scored == latest.round:
        return scored
    future = submit(store, session, latest)
    small = store.registry.count_rows(session.dataset) <= store.settings.class_score_wait_rows
    if scored is None or small:
        try:
            future.result(timeout=deadline.remaining())
        except FutureTimeout:
            if scored is None:
                raise deadline.error() from None
            return scored
        except Exception:  # the scoring failed (it is logged): the newest whole round still serves
            if scored is None:
                raise
            return scored
        return latest.round
    return scored


def score_round(store: Store, session: ClassSession, rnd: ClassRound, deadline: Deadline = Deadline.none()) -> dict:
    """Score every row under a round into its partition of class_scores (emptied first), then
    mark it whole and drop the partitions it supersedes. `store` should be a client of its own."""
    started = time.perf_counter()
    where = {"session_id": session.id, "round_no": int(rnd.round)}
    store.command(Query.named("classes.drop_round", **where))
    dim = int(rnd.weights.shape[1])
    names = pa.array(list(session.classes), pa.string())
    constants = pa.array([session.id], pa.string())
    done = 0
    with blas.one_thread(), ThreadPoolExecutor(1, thread_name_prefix="class-scores-insert") as writer:
        written: Future | None = None
        batch: list[pa.Table] = []

        def flush() -> None:
            nonlocal written, batch, done
            if written is not None:
                done += written.result()
            written = writer.submit(_insert, store, pa.concat_tables(batch)) if batch else None
            batch = []

        for ids, matrix in itemvectors.blocks(store, session.dataset, dim, None, READ_AHEAD):
            deadline.check()
            s = training.score(matrix, rnd.weights, rnd.biases, rnd.active)
            batch.append(_table(ids, s, names, constants, int(rnd.round)))
            if sum(t.num_rows for t in batch) >= INSERT_ROWS:
                flush()
        flush()
        flush()  # the last insert acknowledged
    seconds = time.perf_counter() - started
    store.command(Query.named("classes.insert_scored", items=done, seconds=round(seconds, 3), **where))
    _drop_superseded(store, session.id, int(rnd.round))
    return {"round": int(rnd.round), "items": done, "seconds": seconds}


def _table(ids: pa.Array, s: training.Scored, names: pa.Array, constants: pa.Array, round_no: int) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "session_id": constants.take(np.zeros(n, np.int32)),
            "round": pa.array(np.full(n, round_no, np.uint32)),
            "item_id": ids,
            "class": names.take(s.top.astype(np.int32)),
            "score": pa.array(s.score),
            "margin": pa.array(s.margin),
        }
    )


def _insert(store: Store, table: pa.Table) -> int:
    store.insert_arrow("class_scores", table)
    return table.num_rows


def _drop_superseded(store: Store, session_id: str, round_no: int) -> None:
    """Drop the partitions of rounds before the newest one this round replaces (a batch may be
    reading that one), unless they were applied."""
    present = sorted(int(r["round"]) for r in store.rows(Query.named("classes.stored_rounds", session_id=session_id)))
    applied = {int(r["round"]) for r in store.rows(Query.named("classes.applied", session_id=session_id))}
    earlier = [r for r in present if r < round_no]
    keep = applied | set(earlier[-1:])
    for r in earlier:
        if r not in keep:
            store.command(Query.named("classes.drop_round", session_id=session_id, round_no=r))
