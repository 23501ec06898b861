"""Zero-shot classification: the nearest label vector wins.

Over a whole dataset (or one split) it runs in the database as one INSERT ... SELECT into the
`zero_shot` table (join it with items_<dataset> ON id); for a few item ids it runs the same
SELECT without storing; for raw vectors or texts it is a matrix product here.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np

from service import labelsets
from service.budget import Deadline
from service.errors import ItemNotFound
from service.query import Query
from service.selection import Selection
from service.store import Store
from service.validation import check_int
from service.vectorsql import items_table

DEFAULT_RETURN_LIMIT = 10_000  # whole-dataset runs store everything; the response shows this many
MAX_RETURN_LIMIT = 100_000


def top_pairs(labels: list[str], scores: np.ndarray, top: int) -> list[list]:
    order = np.argsort(-scores, kind="stable")[:top]
    return [[labels[i], float(scores[i])] for i in order]


def numpy_scores(vectors: np.ndarray, label_vectors: np.ndarray) -> np.ndarray:
    return np.asarray(vectors, dtype=np.float32) @ np.asarray(label_vectors, dtype=np.float32).T


def _item(labels, item_id, scores: np.ndarray, top: int) -> dict:
    best = int(np.argmax(scores))  # first on ties, like indexOf(s, arrayMax(s)) in SQL
    second = np.partition(scores, -2)[-2] if len(scores) > 1 else scores[best]
    return {"id": item_id, "label": labels[best], "score": float(scores[best]),
            "margin": float(scores[best] - second) if len(scores) > 1 else 0.0,
            "top": top_pairs(labels, scores, top)}


def classify(store: Store, dataset: str, labelset: str, *, split: str | None = None,
             item_ids: list[str] | None = None, vectors=None, text: list[str] | str | None = None,
             top: int = 5, limit: int | None = DEFAULT_RETURN_LIMIT, deadline: Deadline = Deadline.none()) -> dict:
    """Zero-shot labels for a dataset/split (stored), item ids, vectors or texts."""
    selection = Selection.of(store.settings, split=split, item_ids=item_ids, vectors=vectors, text=text)
    top = check_int(top, "top", 1, 1000)
    # None (internal callers such as evaluation) returns every stored row.
    limit = check_int(limit, "limit", 0, MAX_RETURN_LIMIT) if limit is not None else 2**62
    ls, info = labelsets.for_dataset(store, labelset, dataset)
    started = time.perf_counter()
    if not selection.in_database:
        q = selection.rows(store, dataset, ls.dim, lambda texts: labelsets.query_text_vectors(store, ls, info, texts))
        s = numpy_scores(q.vectors, ls.vectors)
        items = [_item(ls.labels, None, s[i], top) for i in range(len(q))]
        return {"items": items, "stored": 0, "seconds": time.perf_counter() - started, "plan": "numpy"}

    if selection.item_ids is not None:
        query = store.dialect.zero_shot_select(store.database, items_table(dataset), ls.labels, ls.vectors,
                                               selection.filters())
        found = {r["id"]: np.asarray(r["scores"], dtype=np.float32) for r in store.rows(query)}
        missing = [i for i in selection.item_ids if i not in found]
        if missing:
            raise ItemNotFound(f"{len(missing)} item id(s) not in dataset {dataset!r}: {', '.join(missing[:5])}",
                               dataset=dataset, items=missing[:5])
        items = [_item(ls.labels, i, found[i], top) for i in selection.item_ids]
        return {"items": items, "stored": 0, "seconds": time.perf_counter() - started, "plan": "sql"}

    run = run_in_database(store, dataset, labelset, split=split, deadline=deadline)
    rows = store.rows(Query.named("classify.zero_shot_read", dataset=dataset, labelset=labelset,
                                  run_at=run["run_at"], limit=limit))
    items = [_item(ls.labels, r["id"], np.asarray(r["scores"], dtype=np.float32), top) for r in rows]
    return {"items": items, "stored": run["stored"], "truncated": run["stored"] > len(items),
            "table": "zero_shot", "run_at": run["run_at"].isoformat(), "seconds": time.perf_counter() - started,
            "plan": "sql"}


def run_in_database(store: Store, dataset: str, labelset: str, split: str | None = None,
                    deadline: Deadline = Deadline.none()) -> dict:
    """One INSERT ... SELECT: every row's label, score, margin and per-label scores -> zero_shot."""
    ls, info = labelsets.for_dataset(store, labelset, dataset)
    selection = Selection.of(store.settings, split=split)
    selection.check_split(store, dataset)
    # Millisecond timestamp of this run: it tags the rows written, so readers take exactly them.
    now = dt.datetime.now()
    run_at = now.replace(microsecond=(now.microsecond // 1000) * 1000)
    query = store.dialect.zero_shot_insert(store.database, items_table(dataset), dataset, labelset, ls.labels,
                                           ls.vectors, run_at, selection.filters())
    started = time.perf_counter()
    store.command(query.with_settings(deadline.sql_settings()))
    seconds = time.perf_counter() - started
    stored = int(store.scalar(Query.named("classify.zero_shot_count", dataset=dataset, labelset=labelset,
                                          run_at=run_at)))
    return {"stored": stored, "run_at": run_at, "seconds": seconds,
            "rows_per_second": stored / seconds if seconds > 0 else 0.0}
