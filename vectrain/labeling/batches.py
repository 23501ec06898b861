"""The next batch to label: four strategies over a session's current classifier.

    top       the seeds' query: highest similarity to the weights (the HNSW index serves it)
    boundary  nearest the decision threshold, where the hard negatives are
    mixed     half top, half boundary (top alone returns almost only positives)
    random    a uniform sample of the unlabeled rows (a baseline)

Every strategy skips the session's labeled items in the database (a NOT IN subquery on the
labels table, so no id list travels) and returns exactly k items whenever k unlabeled items
remain. Round trips: top is one query (two if the index's candidates run short and the exact
scan answers); on large tables boundary and mixed rank one pool of the index's nearest
candidates (one query), on small ones an exact scan finds the boundary; random reads k rows at
random (part, offset) positions, so it touches k granules instead of sorting the table.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from vectrain.core.choices import Strategy
from vectrain.core.names import items_table
from vectrain.search.nearest import nearest
from vectrain.storage.store import Store
from vectrain.storage.vectorsql.filters import Exclusion

RANDOM_ROUNDS = 4  # rejection-sampling rounds before random falls back to a sorted scan


def choose(
    store: Store, dataset: str, session_id: str, round_: dict, labeled: int, k: int, strategy: Strategy
) -> list[dict]:
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

    @property
    def large(self) -> bool:
        return self.store.registry.count_rows(self.dataset) > self.store.settings.session_exact_boundary_rows

    def top(self, k: int, pool: bool = False) -> list[dict]:
        found = nearest(self.store, self.dataset, self.w, k, self.exclusion, columns=("id", "url", "label"), pool=pool)
        # cosine to w/|w| -> the classifier's score dot(w, v) + b (items are unit vectors)
        return [
            {"id": r["id"], "url": r["url"], "label": r["label"], "score": self.norm * r["score"] + self.b}
            for r in found.items
        ]

    def _pool(self, k: int) -> list[dict]:
        """The index's nearest unlabeled candidates: the region a top-k user sees, where a large
        table's boundary is looked for (a full scan per batch would cost a second per 1M rows)."""
        settings = self.store.settings
        return self.top(min(max(k, settings.session_boundary_pool), settings.search_max_k), pool=True)

    def _by_boundary(self, items: list[dict]) -> list[dict]:
        return sorted(items, key=lambda i: (abs(i["score"] - self.t), i["id"]))

    def boundary(self, k: int) -> list[dict]:
        if self.large:
            pool = self._pool(k)
            if len(pool) >= k:
                return self._by_boundary(pool)[:k]
        query = self.store.dialect.boundary_batch(
            self.store.database, self.table, self.w, self.b, self.t, k, [self.exclusion]
        )
        return self._items(self.store.rows(query))

    def mixed(self, k: int) -> list[dict]:
        n_top = (k + 1) // 2
        if self.large:  # one query: the pool's best half, then the pool nearest the threshold
            pool = self._pool(k)
            if len(pool) >= k or len(pool) < self.store.settings.session_boundary_pool:
                top = pool[:n_top]
                taken = {i["id"] for i in top}
                return top + [i for i in self._by_boundary(pool[n_top:]) if i["id"] not in taken][: k - len(top)]
        top = self.top(n_top)
        taken = {i["id"] for i in top}
        rest = [i for i in self.boundary(k) if i["id"] not in taken][: k - len(top)]
        items = top + rest
        if len(items) < k:  # fewer unlabeled items than asked near the boundary: fill from the top
            more = [i for i in self.top(min(k * 2, self.store.settings.search_max_k)) if i["id"] not in taken]
            items += [i for i in more if i["id"] not in {x["id"] for x in rest}][: k - len(items)]
        return items

    def random(self, k: int) -> list[dict]:
        """A uniform sample of the unlabeled rows: uniform (part, offset) positions over the
        table, labeled rows rejected in the query. Reproducible: seeded by the session and its
        label count."""
        registry = self.store.registry
        seed = zlib.crc32(f"{self.session_id}:{self.labeled}".encode())
        rng = np.random.default_rng(seed)
        chosen: list[dict] = []
        seen: set[int] = set()
        for attempt in range(RANDOM_ROUNDS):
            parts = registry.parts(self.dataset) if attempt == 0 else registry.parts(self.dataset, fresh=True)
            total = sum(rows for _, rows in parts)
            unlabeled = total - self.labeled
            if unlabeled <= 0 or total == 0:
                break
            need = k - len(chosen)
            # enough draws that `need` survive the labeled share, with a margin
            draws = min(total, math.ceil(need * total / unlabeled * 1.3) + 8)
            positions = [int(p) for p in rng.choice(total, size=draws, replace=False) if int(p) not in seen]
            seen.update(positions)
            starts = np.cumsum([0] + [rows for _, rows in parts])
            picks = []
            for p in positions:
                i = int(np.searchsorted(starts, p, side="right")) - 1
                picks.append((parts[i][0], p - int(starts[i])))
            order = {pick: n for n, pick in enumerate(picks)}
            rows = self.store.rows(
                self.store.dialect.rows_at(self.store.database, self.table, self.w, self.b, picks, [self.exclusion])
            )
            rows.sort(key=lambda r: order.get((r["part"], int(r["offset"])), len(order)))
            known = {i["id"] for i in chosen}
            chosen += [r for r in self._items(rows) if r["id"] not in known][:need]
            if len(chosen) >= k:
                return chosen[:k]
        # Nearly everything is labeled (or the parts kept moving): the exact sorted scan answers.
        query = self.store.dialect.random_batch(
            self.store.database, self.table, self.w, self.b, k, f"{self.session_id}:{self.labeled}", [self.exclusion]
        )
        return self._items(self.store.rows(query))

    @staticmethod
    def _items(rows) -> list[dict]:
        return [{"id": r["id"], "url": r["url"], "label": r["label"], "score": float(r["score"])} for r in rows]
