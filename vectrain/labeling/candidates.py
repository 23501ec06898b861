"""Where a next batch's items come from: the unlabeled rows nearest a score (a band), the top, and a
diverse pick within a band.

Two sources answer the same questions:
- `ScoredSource`: a scored round (vectrain.labeling.scoring). A band is one range read of
  session_scores' primary key: the narrowest score window around the center that holds the rows
  asked for plus as many rows as the session has labels, so it holds at least that many unlabeled
  rows whichever are labeled, and the rows nearest the center are exactly the window's nearest.
  The window is placed with the sorted scores kept in memory, so the read touches the granules
  of the window alone: milliseconds at any size.
- `ScanSource`: an exact scan of the items under the current weights, while a session has no
  scored round yet (its first scoring runs in the background).

Diversity: a band's rows are picked greedily farthest-first by cosine distance, seeded with the
labeled vectors (the first pick is the band row farthest from every label), so a batch holds no
near-copies of each other or of what is labeled. The vectors and urls of the rows a band reads
are kept in this process (at most VECTOR_CACHE_ROWS), and the scoring of a round reads its band
ahead (`prefetch`), while the person labels.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from vectrain.core.names import items_table
from vectrain.labeling.scoring import Scored
from vectrain.search.nearest import nearest
from vectrain.storage.query import Floats, Query
from vectrain.storage.store import Store
from vectrain.storage.vectorsql.filters import Exclusion

VECTOR_CACHE_ROWS = 20_000  # urls and vectors of band rows and labels: 40 MB at 512 dimensions
LABELED_CACHE_SESSIONS = 256


class _Rows:
    """(dataset, id) -> Described, per store, least recently used out."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_store: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.labeled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # store -> session -> matrix

    def get(self, store: Store, dataset: str, ids: list[str]) -> dict:
        with self.lock:
            cache = self.by_store.setdefault(store, OrderedDict())
            found = {}
            for i in ids:
                hit = cache.get((dataset, i))
                if hit is not None:
                    cache.move_to_end((dataset, i))
                    found[i] = hit
            return found

    def put(self, store: Store, dataset: str, rows: dict) -> None:
        with self.lock:
            cache = self.by_store.setdefault(store, OrderedDict())
            for i, row in rows.items():
                cache[(dataset, i)] = row
                cache.move_to_end((dataset, i))
            while len(cache) > VECTOR_CACHE_ROWS:
                cache.popitem(last=False)

    def put_labeled(self, store: Store, session_id: str, vectors: np.ndarray) -> None:
        with self.lock:
            cache = self.labeled.setdefault(store, OrderedDict())
            cache[session_id] = vectors
            cache.move_to_end(session_id)
            while len(cache) > LABELED_CACHE_SESSIONS:
                cache.popitem(last=False)

    def get_labeled(self, store: Store, session_id: str) -> np.ndarray | None:
        with self.lock:
            return self.labeled.setdefault(store, OrderedDict()).get(session_id)


ROWS = _Rows()


def remember_labeled(store: Store, session_id: str, vectors: np.ndarray) -> None:
    """The vectors a round trained on: what the next batches' diversity is seeded with."""
    ROWS.put_labeled(store, session_id, np.asarray(vectors, dtype=np.float32))


def labeled_vectors(store: Store, session_id: str, dataset: str) -> np.ndarray | None:
    """The vectors of the session's training labels (None without labels)."""
    found = ROWS.get_labeled(store, session_id)
    if found is None:  # a process that has not trained this session: read them once
        rows = store.rows(
            Query.named(
                "sessions.labeled_vectors", session_id=session_id, db=store.database, items=items_table(dataset)
            )
        )
        found = np.asarray([r["vector"] for r in rows], dtype=np.float32) if rows else np.zeros((0, 0), np.float32)
        ROWS.put_labeled(store, session_id, found)
    return found if len(found) else None


class Described(NamedTuple):
    url: str
    label: str  # the dataset's own label
    vector: np.ndarray | None  # None when read without it


def describe(store: Store, dataset: str, ids: list[str], vectors: bool) -> dict[str, Described]:
    """id -> what a batch shows of a row (and its vector): from this process's cache, else one
    read of the items."""
    found: dict = ROWS.get(store, dataset, ids)
    missing = [i for i in ids if i not in found or (vectors and found[i].vector is None)]
    if missing:
        where = {"db": store.database, "items": items_table(dataset), "ids": missing}
        if vectors:
            rows = {
                r["id"]: Described(r["url"], r["label"], np.asarray(r["vector"], dtype=np.float32))
                for r in store.rows(Query.named("items.urls_vectors", **where))
            }
        else:
            rows = {
                r["id"]: Described(r["url"], r["label"], None) for r in store.rows(Query.named("items.urls", **where))
            }
        ROWS.put(store, dataset, rows)
        found.update(rows)
    return found


def farthest_first(C: np.ndarray, m: int, L: np.ndarray | None = None) -> list[int]:
    """m rows of C (unit vectors) by greedy k-center on cosine distance: each pick the row
    farthest from the labels L and the picks so far (without labels, C's first row first)."""
    m = min(m, len(C))
    if m <= 0:
        return []
    if L is not None and len(L):
        chosen, d = [], 1.0 - (C @ L.T).max(axis=1)
    else:
        chosen, d = [0], 1.0 - C @ C[0]
        d[0] = -np.inf
    while len(chosen) < m:
        i = int(np.argmax(d))
        chosen.append(i)
        d = np.minimum(d, 1.0 - C @ C[i])
        d[chosen] = -np.inf
    return chosen


class Source:
    """What a strategy reads: rows as {"id", "score"}, nearest a score or highest scored."""

    rows: int
    scored_round: int | None
    threshold: float

    def band(self, center: float, n: int, exclude: set[str]) -> list[dict]:
        raise NotImplementedError

    def top(self, n: int, exclude: set[str]) -> list[dict]:
        raise NotImplementedError

    def probe(self, t0: float, widen: int, k: int) -> tuple[float, str]:
        """The starter's center (vectrain.labeling.batches): the score at rank (rows above t0) x
        2^widen, and where that is."""
        raise NotImplementedError


class ScoredSource(Source):
    """`leased`: items leased to labelers (vectrain.labeling.leases), skipped as `exclude` is."""

    def __init__(self, store: Store, scored: Scored, labeled: int, leased: tuple[str, ...] = ()):
        self.store, self.scored, self.labeled, self.leased = store, scored, labeled, frozenset(leased)
        self.rows, self.scored_round, self.threshold = scored.rows, scored.round, scored.threshold

    def _read(self, lo: float, hi: float) -> list[dict]:
        s = self.scored
        query = Query.named("scores.window", session_id=s.session_id, round_no=s.round, version=s.version, lo=lo, hi=hi)
        return [{"id": i, "score": float(z)} for i, z in self.store.query(query).result_rows]

    def _until(self, n: int, exclude: set[str], window, order) -> list[dict]:
        exclude = exclude | self.leased
        count = n + len(exclude) + self.labeled
        while True:
            found = sorted((r for r in self._read(*window(count)) if r["id"] not in exclude), key=order)
            if len(found) >= n or count >= self.rows:  # short only when labels were added since the count
                return found[:n]
            count *= 2

    def band(self, center: float, n: int, exclude: set[str]) -> list[dict]:
        return self._until(
            n, exclude, lambda c: self.scored.window(center, c), lambda r: (abs(r["score"] - center), r["id"])
        )

    def top(self, n: int, exclude: set[str]) -> list[dict]:
        return self._until(n, exclude, self.scored.top_window, lambda r: (-r["score"], r["id"]))

    def sample(self, n: int, exclude: set[str], rng: np.random.Generator, rounds: int) -> list[dict]:
        """n rows uniform over the unlabeled ones (minus `exclude`): ranks drawn at random and read
        by their scores (`scores.at`; within a tie, the row at that place in item_id order), a
        labeled row's rank rejected. Short after `rounds` draws only when nearly all is labeled."""
        s, chosen, taken = self.scored.scores, [], set(exclude) | self.leased
        for _ in range(rounds):
            unlabeled, need = self.rows - self.labeled - len(taken), n - len(chosen)
            if need <= 0 or unlabeled <= 0:
                break
            size = min(self.rows, math.ceil(need * self.rows / unlabeled * 1.3) + 2)
            ranks = rng.choice(self.rows, size=size, replace=False)  # ascending ranks of the sorted scores
            query = Query.named(
                "scores.at",
                session_id=self.scored.session_id,
                round_no=self.scored.round,
                version=self.scored.version,
                scores=Floats(np.unique(s[ranks])),
            )
            ties: dict[float, list[tuple[str, bool]]] = {}
            for item_id, z, labeled in self.store.query(query).result_rows:
                ties.setdefault(float(np.float32(z)), []).append((item_id, bool(labeled)))
            for r in ranks:
                group = ties.get(float(s[r]), [])
                place = int(r) - int(np.searchsorted(s, s[r], side="left"))
                if place < len(group) and not group[place][1] and group[place][0] not in taken and len(chosen) < n:
                    taken.add(group[place][0])
                    chosen.append({"id": group[place][0], "score": float(s[r])})
        return chosen

    def probe(self, t0: float, widen: int, k: int) -> tuple[float, str]:
        rank = min(self.rows - 1, max(self.scored.above(t0), k) * 2 ** min(widen, 62))
        return self.scored.score_at_rank(rank), f"near the score at rank {rank:,} of {self.rows:,}"


class ScanSource(Source):
    """The current round's scores by an exact scan (no scored round yet)."""

    def __init__(
        self, store: Store, dataset: str, session_id: str, round_: dict, labeled: int, leased: tuple[str, ...] = ()
    ):
        self.store, self.dataset = store, dataset
        self.w, self.b = np.asarray(round_["weights"], dtype=np.float32), float(round_["bias"])
        self.threshold, self.scored_round = float(round_["threshold"]), None
        self.exclusion = Exclusion.session(session_id, labeled, leased)
        self.rows = store.registry.count_rows(dataset)

    def band(self, center: float, n: int, exclude: set[str]) -> list[dict]:
        query = self.store.dialect.boundary_batch(
            self.store.database, items_table(self.dataset), self.w, self.b, center, n + len(exclude), [self.exclusion]
        )
        found = [{"id": r["id"], "score": float(r["score"])} for r in self.store.rows(query)]
        return [r for r in found if r["id"] not in exclude][:n]

    def top(self, n: int, exclude: set[str]) -> list[dict]:
        k = min(n + len(exclude), self.store.settings.search_max_k)
        found = nearest(self.store, self.dataset, self.w, k, self.exclusion, columns=("id",)).items
        norm = float(np.linalg.norm(self.w))  # cosine to w/|w| -> dot(w, v) + b (items are unit vectors)
        return [{"id": r["id"], "score": norm * r["score"] + self.b} for r in found if r["id"] not in exclude][:n]

    def probe(self, t0: float, widen: int, k: int) -> tuple[float, str]:
        return t0, "near the threshold (the round is not scored yet, so the probe does not widen)"


def prefetch(store: Store, dataset: str, scored: Scored, labeled: int, n: int) -> None:
    """Read ahead the urls and vectors of the n unlabeled rows nearest the round's threshold."""
    band = ScoredSource(store, scored, labeled).band(scored.threshold, n, set())
    describe(store, dataset, [r["id"] for r in band], vectors=True)
