"""The next batch to label: four strategies over a session's current classifier.

    top       the seeds' query: highest similarity to the weights (the HNSW index serves it)
    boundary  nearest the decision threshold, where the hard negatives are
    mixed     half top, half boundary (top alone returns almost only positives)
    random    a uniform sample of the unlabeled rows (a baseline)

Every strategy skips the session's labeled items in the database and returns exactly k items
whenever k unlabeled items remain.
"""

from __future__ import annotations

import numpy as np

from service.search import nearest
from service.store import Store
from service.validation import Strategy
from service.vectorsql import Exclusion, items_table


def choose(store: Store, dataset: str, session_id: str, round_: dict, labeled: int, k: int,
           strategy: Strategy) -> list[dict]:
    picker = _Picker(store, dataset, session_id, round_, labeled)
    return {
        Strategy.top: picker.top,
        Strategy.boundary: picker.boundary,
        Strategy.random: picker.random,
        Strategy.mixed: picker.mixed,
    }[strategy](k)


class _Picker:
    def __init__(self, store: Store, dataset: str, session_id: str, round_: dict, labeled: int):
        self.store, self.dataset, self.session_id = store, dataset, session_id
        self.w = np.asarray(round_["weights"], dtype=np.float32)
        self.b, self.t = float(round_["bias"]), float(round_["threshold"])
        self.labeled = labeled
        self.norm = float(np.linalg.norm(self.w))
        self.table = items_table(dataset)
        self.exclusion = Exclusion.session(session_id, labeled)

    def top(self, k: int) -> list[dict]:
        found = nearest(self.store, self.dataset, self.w, k, self.exclusion, columns=("id", "url"))
        # cosine to w/|w| -> the classifier's score dot(w, v) + b (items are unit vectors)
        return [{"id": r["id"], "url": r["url"], "score": self.norm * r["score"] + self.b} for r in found.items]

    def boundary(self, k: int) -> list[dict]:
        settings = self.store.settings
        if self.store.registry.count_rows(self.dataset) > settings.session_exact_boundary_rows:
            # A full scan per batch is too slow at this size: rank the index's nearest
            # candidates by distance to the threshold instead (the region a top-k user sees).
            pool = self.top(max(k, min(settings.session_boundary_pool, settings.ann_max_limit)))
            if len(pool) >= k:
                return sorted(pool, key=lambda i: abs(i["score"] - self.t))[:k]
        query = self.store.dialect.boundary_batch(self.store.database, self.table, self.w, self.b, self.t, k,
                                                  [self.exclusion])
        return self._items(self.store.rows(query))

    def random(self, k: int) -> list[dict]:
        # Reproducible: the order depends on the session and how many labels it has.
        query = self.store.dialect.random_batch(self.store.database, self.table, self.w, self.b, k,
                                                f"{self.session_id}:{self.labeled}", [self.exclusion])
        return self._items(self.store.rows(query))

    def mixed(self, k: int) -> list[dict]:
        n_top = (k + 1) // 2
        top = self.top(n_top)
        taken = {i["id"] for i in top}
        rest = [i for i in self.boundary(k) if i["id"] not in taken][: k - len(top)]
        items = top + rest
        if len(items) < k:  # fewer unlabeled items than asked near the boundary: fill from the top
            more = [i for i in self.top(min(k * 2, self.store.settings.search_max_k)) if i["id"] not in taken]
            items += [i for i in more if i["id"] not in {x["id"] for x in rest}][: k - len(items)]
        return items

    @staticmethod
    def _items(rows) -> list[dict]:
        return [{"id": r["id"], "url": r["url"], "score": float(r["score"])} for r in rows]
