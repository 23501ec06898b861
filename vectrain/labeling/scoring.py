"""Every row's score under a session's round, in a table ordered by score (sql/schema/013), so a
next batch reads a range of it instead of scanning the dataset.

A round is scored once, by one INSERT ... SELECT (as `apply` scores into predictions), on a client
of its own in a background thread, one scoring at a time per process. `train` waits for it up to
VECTRAIN_SESSION_SCORE_WAIT seconds; a round that takes longer keeps scoring while the person
labels, and next batches use the latest scored round meanwhile (they say which). A scoring is
marked complete in `scored_rounds` only once its rows are all written, so a reader never ranges
over half a round; the scorings older than the one before it are dropped then (a partition each).

Each scoring's scores are also kept sorted in this process (4 bytes a row, at most CACHE_BYTES in
all): they place every range read exactly (vectrain.labeling.candidates), and the quality number
sums over them (vectrain.labeling.quality). On chDB this process is the only writer, so its latest
scoring is known here; on a server the latest is read from `scored_rounds` each time and its sorted
scores are cached by (round, version), which never change.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from vectrain.core.names import items_table
from vectrain.storage.query import Query
from vectrain.storage.store import Store

log = logging.getLogger(__name__)
CACHE_BYTES = 256 * 2**20  # sorted scores kept in this process: 64M rows
_PARTITION = re.compile(r"^\('(?P<session>.*)',(?P<round>\d+),(?P<version>\d+)\)$")


@dataclass(frozen=True)
class Scored:
    """A complete scoring of a session's round: every row's score, ascending (float32, as stored)."""

    session_id: str
    round: int
    version: int
    threshold: float  # the round's threshold
    scores: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.scores)

    def above(self, t: float) -> int:
        return self.rows - int(np.searchsorted(self.scores, np.float32(t), side="right"))

    def score_at_rank(self, rank: int) -> float:
        """The score of the row at `rank` from the top (0: the highest)."""
        rank = min(max(int(rank), 0), self.rows - 1)
        return float(self.scores[self.rows - 1 - rank])

    def window(self, center: float, count: int) -> tuple[float, float]:
        """The narrowest score range [lo, hi] around `center` that holds the `count` rows nearest
        it (every row, when there are fewer): bounds are stored scores, so the range read returns
        exactly those rows and the ties at the edges."""
        s = self.scores
        if count >= len(s):
            return float(s[0]), float(s[-1])
        p = int(np.searchsorted(s, center))
        lo_i, hi_i = max(0, p - count), min(len(s), p + count)
        segment = s[lo_i:hi_i].astype(np.float64)
        reach = np.partition(np.abs(segment - center), count - 1)[count - 1]
        first = lo_i + int(np.searchsorted(segment, center - reach, side="left"))
        last = lo_i + int(np.searchsorted(segment, center + reach, side="right")) - 1
        return float(s[first]), float(s[last])

    def top_window(self, count: int) -> tuple[float, float]:
        """The range holding the `count` highest scores (and their ties)."""
        s = self.scores
        return float(s[max(0, len(s) - count)]), float(s[-1])


class _Cache:
    """The latest scoring of each session, per store, bounded by bytes (least recently used out)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_store: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _of(self, store: Store) -> OrderedDict:
        return self.by_store.setdefault(store, OrderedDict())

    def get(self, store: Store, session_id: str) -> Scored | None:
        with self.lock:
            found = self._of(store).get(session_id)
            if found is not None:
                self._of(store).move_to_end(session_id)
            return found

    def put(self, store: Store, scored: Scored) -> None:
        """Keep `scored` unless a newer scoring of its session is kept already."""
        with self.lock:
            cache = self._of(store)
            held = cache.get(scored.session_id)
            if held is not None and (held.round, held.version) > (scored.round, scored.version):
                return
            cache[scored.session_id] = scored
            cache.move_to_end(scored.session_id)
            while len(cache) > 1 and sum(x.scores.nbytes for x in cache.values()) > CACHE_BYTES:
                cache.popitem(last=False)

    def forget(self, store: Store, session_id: str) -> None:
        with self.lock:
            self._of(store).pop(session_id, None)


CACHE = _Cache()
_worker = ThreadPoolExecutor(1, thread_name_prefix="vectrain-scoring")
_inflight: dict[tuple[int, str], tuple[int, Future]] = {}
_inflight_lock = threading.Lock()


def score(store: Store, session_id: str, dataset: str, round_no: int, weights, bias: float, threshold: float) -> Scored:
    """Score every row of the dataset under this round (on a client of its own), mark it
    complete, drop the session's older scorings; returns the scoring, kept in this process."""
    version = time.time_ns()
    started = time.perf_counter()
    where = {"session_id": session_id, "round_no": int(round_no), "version": version}
    with store.apart() as own:
        own.command(
            own.dialect.score_rows(own.database, items_table(dataset), session_id, round_no, version, weights, bias)
        )
        column = own.query_arrow(Query.named("scores.sorted", **where)).column("score")
        scores = np.ascontiguousarray(column.to_numpy(), dtype=np.float32)
        seconds = time.perf_counter() - started
        own.command(Query.named("scores.mark", rows=len(scores), seconds=seconds, **where))
        _drop_older(own, session_id, int(round_no), version)
    scored = Scored(session_id, int(round_no), version, float(threshold), scores)
    CACHE.put(store, scored)
    return scored


def _drop_older(store: Store, session_id: str, round_no: int, version: int) -> None:
    """Drop the session's scorings older than the one before this one: a batch that took the
    previous scoring a moment ago still finds its rows."""
    older = []
    for p in store.rows(Query.named("scores.partitions", db=store.database, session_id=session_id)):
        m = _PARTITION.match(p["partition"])
        if m and m["session"] == session_id and (int(m["round"]), int(m["version"])) < (round_no, version):
            older.append(((int(m["round"]), int(m["version"])), p["partition_id"]))
    for _, partition_id in sorted(older)[:-1]:
        store.command(Query.named("scores.drop_partition", partition_id=partition_id))


def submit(
    store: Store, session_id: str, dataset: str, round_no: int, weights, bias: float, threshold: float
) -> Future:
    """Score the round in the background; a scoring waiting in line is skipped when a newer round
    of its session is submitted after it. The future's result is the Scored (None if skipped)."""
    key = (id(store), session_id)

    def job():
        with _inflight_lock:
            newest = _inflight.get(key, (round_no, None))[0]
        if newest > round_no:
            return None
        try:
            return score(store, session_id, dataset, round_no, weights, bias, threshold)
        except Exception:
            log.exception("scoring round %s of session %s failed", round_no, session_id)
            raise
        finally:
            with _inflight_lock:
                if _inflight.get(key, (None, None))[1] is future:
                    del _inflight[key]

    with _inflight_lock:
        future = _worker.submit(job)
        _inflight[key] = (int(round_no), future)
    return future


def scoring(store: Store, session_id: str) -> int | None:
    """The round being scored for this session in this process, or None."""
    with _inflight_lock:
        found = _inflight.get((id(store), session_id))
    return found[0] if found else None


def latest(store: Store, session_id: str) -> Scored | None:
    """The session's latest complete scoring, or None before its first."""
    held = CACHE.get(store, session_id)
    if held is not None and store.target.kind == "chdb":
        return held
    rows = store.rows(Query.named("scores.latest", session_id=session_id))
    if not rows:
        return None
    round_no, version = int(rows[0]["round"]), int(rows[0]["version"])
    if held is not None and (held.round, held.version) == (round_no, version):
        return held
    where = {"session_id": session_id, "round_no": round_no, "version": version}
    column = store.query_arrow(Query.named("scores.sorted", **where)).column("score")
    threshold = store.rows(Query.named("sessions.round", session_id=session_id, round_no=round_no))[0]["threshold"]
    scored = Scored(
        session_id, round_no, version, float(threshold), np.ascontiguousarray(column.to_numpy(), np.float32)
    )
    CACHE.put(store, scored)
    return scored


def set_threshold(store: Store, scored: Scored, threshold: float) -> Scored:
    """The scoring of a round whose threshold was set from its scores (round 0's)."""
    scored = replace(scored, threshold=float(threshold))
    CACHE.put(store, scored)
    return scored


def forget(store: Store, session_id: str) -> None:
    CACHE.forget(store, session_id)
