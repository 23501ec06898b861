"""The next batch to label: four strategies over a session's current classifier.

    mixed     the default, to train a classifier with the fewest labels: 9 of 10 items from the
              band of unlabeled rows nearest the threshold (the 3k nearest), picked for diversity,
              and 1 of 10 uniform at random (exploration: a region the classifier is sure about
              and wrong gets found)
    boundary  all k from the band nearest the threshold, diverse: the hard cases alone
    top       the highest-scored items, to see what the classifier finds. At round 0 and after
              `seed` rounds it is exactly the seeds' query (the vector index's nearest to the
              weights: `top` with `seed` training is the seeds' loop); after `auto` rounds 2 of
              10 come from the band, so the threshold always has negatives to be set by
    random    a uniform sample of the unlabeled rows: a baseline, and labels an estimate may use

While the labels hold one class only (or none), every strategy but random runs the starter, and
the batch's `source` says so: only negatives labeled, the k top-scored (the positives are up
there); nothing or only positives labeled, k/2 top-scored and k/2 diverse around a probe score
that starts at the threshold and, every round still one-sided, moves down to the score at twice
the rank it had, until a negative turns up. So no strategy starves: `boundary` from a prompt used
to label 0 positives in 100 labels, and `top` 0 negatives.

Bands and the top are read from the session's latest scored round (vectrain.labeling.candidates):
exact, milliseconds at any size; the batch names that round (`scored_round`), which trails the
latest round while a large table scores. Every strategy skips the labeled items in the database,
and the items leased to labelers (`State.leased`, vectrain.labeling.leases) with them, and returns
exactly k items whenever k unlabeled items remain that are not leased. `random` reads k rows at random
(part, offset) positions, so it touches k granules instead of sorting the table.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from vectrain.core.choices import Strategy
from vectrain.core.names import items_table
from vectrain.labeling import candidates, scoring
from vectrain.labeling.candidates import ScanSource, ScoredSource
from vectrain.labeling.state import State
from vectrain.search.nearest import nearest
from vectrain.storage.registry import random_picks
from vectrain.storage.store import Store
from vectrain.storage.vectorsql.filters import Exclusion

RANDOM_ROUNDS = 4  # rejection-sampling rounds before random falls back to a sorted scan
BAND = 3  # a band holds BAND x k rows
RANDOM_SHARE, TOP_BAND_SHARE = 0.1, 0.2  # of mixed: random rows; of top (after auto rounds): band rows


@dataclass
class Batch:
    items: list[dict]  # {"id", "url", "label", "score"}
    source: str  # what ran
    scored_round: int | None  # the round whose scores chose it (None: an exact scan, or random)


def choose(store: Store, state: State, k: int, strategy: Strategy) -> Batch:
    return _Picker(store, state).pick(k, strategy)


class _Picker:
    def __init__(self, store: Store, state: State):
        self.store, self.state = store, state
        self.dataset, self.session_id, self.round = state.dataset, state.id, state.round
        self.metrics = state.round.get("metrics") or {}
        self.exclusion = Exclusion.session(state.id, state.labeled, state.leased)
        self._source = None

    @property
    def source(self):
        """The latest scored round, or an exact scan until the session has one (and its scoring
        is started when no scoring of the current round is under way)."""
        if self._source is None:
            scored = scoring.latest(self.store, self.session_id)
            rows = self.store.registry.count_rows(self.dataset)
            behind = scored is None or scored.round < self.round["round"] or scored.rows != rows
            if behind and scoring.scoring(self.store, self.session_id) is None:
                r = self.round
                scoring.submit(
                    self.store, self.session_id, self.dataset, r["round"], r["weights"], r["bias"], r["threshold"]
                )
            self._source = (
                ScoredSource(self.store, scored, self.state.labeled, self.state.leased)
                if scored is not None
                else ScanSource(
                    self.store, self.dataset, self.session_id, self.round, self.state.labeled, self.state.leased
                )
            )
        return self._source

    def pick(self, k: int, strategy: Strategy) -> Batch:
        self.n_band = BAND * k
        if strategy is Strategy.random:
            items, source = self.random(k), "random: uniform over the unlabeled rows"
            return self._batch(items, source) if isinstance(self.source, ScoredSource) else Batch(items, source, None)
        if strategy is Strategy.top and self.round["mode"] in ("init", "seed"):
            return Batch(self.index_top(k), "top: the seeds' query (the index's nearest to the weights)", None)
        positives, negatives = int(self.metrics.get("positives", 0)), int(self.metrics.get("negatives", 0))
        if positives == 0 or negatives == 0:
            return self.starter(k, positives, negatives)
        t = self.source.threshold
        if strategy is Strategy.boundary:
            items = self.diverse(t, k, [])
            return self._batch(
                items, f"boundary: {len(items)} diverse of the {BAND * k} unlabeled nearest the threshold"
            )
        if strategy is Strategy.top:
            top = self.top(k - round(k * TOP_BAND_SHARE), [])
            band = self.diverse(t, k - len(top), top)
            return self._batch(top + band, f"top: {len(top)} top-scored + {len(band)} diverse near the threshold")
        near = self.diverse(t, k - math.floor(k * RANDOM_SHARE), [])
        rand = self.random(k - len(near), exclude={i["id"] for i in near})
        return self._batch(near + rand, f"mixed: {len(near)} diverse near the threshold + {len(rand)} random")

    def starter(self, k: int, positives: int, negatives: int) -> Batch:
        if positives == 0 and negatives > 0:
            return self._batch(self.top(k, []), f"starter (only negatives labeled): the {k} top-scored")
        n_top = (k + 1) // 2
        top = self.top(n_top, [])
        center, where = self.source.probe(self.source.threshold, int(self.metrics.get("one_sided", 0)), k)
        band = self.diverse(center, k - len(top), top)
        what = "only positives labeled" if positives else "no labels"
        return self._batch(top + band, f"starter ({what}): {len(top)} top-scored + {len(band)} diverse {where}")

    def _batch(self, items: list[dict], source: str) -> Batch:
        scored = self.source.scored_round
        if scored is None:
            source += "; an exact scan (the session's first scoring is under way)"
        elif scored < self.round["round"]:
            source += f"; scored by round {scored} (round {self.round['round']} is still scoring)"
        return Batch(items, source, scored)

    # -- rows ---------------------------------------------------------------------------------
    def top(self, n: int, taken: list[dict]) -> list[dict]:
        if n <= 0:
            return []
        rows = self.source.top(n, {i["id"] for i in taken})
        urls = candidates.describe(self.store, self.dataset, [r["id"] for r in rows], vectors=False)
        return [_shown(r, urls[r["id"]]) for r in rows if r["id"] in urls]

    def diverse(self, center: float, m: int, taken: list[dict]) -> list[dict]:
        """m rows of the band around `center` (BAND x the batch's size, `taken` left out),
        farthest-first."""
        if m <= 0:
            return []
        rows = self.source.band(center, max(self.n_band, m), {i["id"] for i in taken})
        found = candidates.describe(self.store, self.dataset, [r["id"] for r in rows], vectors=True)
        rows = [r for r in rows if r["id"] in found]
        if not rows:
            return []
        C = np.stack([found[r["id"]].vector for r in rows])
        # Seeded with the labels. The batch's top-scored picks (`taken`) are not near-copies of a
        # band row: scores far apart are vectors far apart (|dz| <= |w| |dv|).
        labeled = candidates.labeled_vectors(self.store, self.session_id, self.dataset)
        order = candidates.farthest_first(C, m, labeled)
        return [_shown(rows[i], found[rows[i]["id"]]) for i in order]

    def index_top(self, k: int) -> list[dict]:
        w, b = np.asarray(self.round["weights"], dtype=np.float32), float(self.round["bias"])
        found = nearest(self.store, self.dataset, w, k, self.exclusion, columns=("id", "url", "label"))
        norm = float(np.linalg.norm(w))  # cosine to w/|w| -> the classifier's score dot(w, v) + b
        return [
            {"id": r["id"], "url": r["url"], "label": r["label"], "score": norm * r["score"] + b} for r in found.items
        ]

    def random(self, k: int, exclude: set[str] | None = None) -> list[dict]:
        """A uniform sample of the unlabeled rows (minus `exclude`): rows of the scored round at
        random ranks, or (before a session's first scoring) at random (part, offset) positions of
        the items; labeled rows rejected in the query. Reproducible: seeded by the session and its
        label count."""
        if k <= 0:
            return []
        exclude = exclude or set()
        rng = np.random.default_rng(zlib.crc32(f"{self.session_id}:{self.state.labeled}".encode()))
        if isinstance(self.source, ScoredSource):  # ranks of the scored round: its small granules
            rows = self.source.sample(k, exclude, rng, RANDOM_ROUNDS)
            if len(rows) == k:
                urls = candidates.describe(self.store, self.dataset, [r["id"] for r in rows], vectors=False)
                return [_shown(r, urls[r["id"]]) for r in rows if r["id"] in urls]
        registry, w, b = self.store.registry, self.round["weights"], float(self.round["bias"])
        table = items_table(self.dataset)
        chosen: list[dict] = []
        seen: set[int] = set()
        for attempt in range(RANDOM_ROUNDS):
            parts = registry.parts(self.dataset) if attempt == 0 else registry.parts(self.dataset, fresh=True)
            total = sum(rows for _, rows in parts)
            unlabeled = total - self.exclusion.count - len(exclude)
            if unlabeled <= 0 or total == 0:
                break
            need = k - len(chosen)
            # enough draws that `need` survive the labeled share, with a margin
            draws = min(total, math.ceil(need * total / unlabeled * 1.3) + 2)
            picks = random_picks(rng, parts, draws, seen)
            order = {pick: n for n, pick in enumerate(picks)}
            query = self.store.dialect.rows_at(self.store.database, table, w, b, picks, [self.exclusion])
            rows = self.store.rows(query)
            rows.sort(key=lambda r: order.get((r["part"], int(r["offset"])), len(order)))
            known = {i["id"] for i in chosen} | exclude
            chosen += [r for r in _items(rows) if r["id"] not in known][:need]
            if len(chosen) >= k:
                return chosen[:k]
        # Nearly everything is labeled (or the parts kept moving): the exact sorted scan answers.
        salt = f"{self.session_id}:{self.state.labeled}"
        query = self.store.dialect.random_batch(
            self.store.database, table, w, b, k + len(exclude), salt, [self.exclusion]
        )
        known = {i["id"] for i in chosen} | exclude
        return chosen + [r for r in _items(self.store.rows(query)) if r["id"] not in known][: k - len(chosen)]


def _items(rows) -> list[dict]:
    return [{"id": r["id"], "url": r["url"], "label": r["label"], "score": float(r["score"])} for r in rows]


def _shown(row: dict, described) -> dict:
    return {"id": row["id"], "url": described.url, "label": described.label, "score": row["score"]}
