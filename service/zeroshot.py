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
from service.errors import BadInput, NotFound
from service.store import Store, items_table
from service.vectors import as_unit_vectors

DEFAULT_RETURN_LIMIT = 10_000  # whole-dataset runs store everything; the response shows this many


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
             top: int = 5, limit: int | None = DEFAULT_RETURN_LIMIT) -> dict:
    """Zero-shot labels for a dataset/split (stored), item ids, vectors or texts."""
    given = [name for name, v in (("split", split), ("item_ids", item_ids), ("vectors", vectors), ("text", text))
             if v is not None]
    if len(given) > 1:
        raise BadInput(f"Give at most one of split, item_ids, vectors, text (got {', '.join(given)})")
    if not isinstance(top, int) or top < 1:
        raise BadInput("top must be a positive integer")
    ls, info = labelsets.for_dataset(store, labelset, dataset)
    started = time.perf_counter()
    if vectors is not None or text is not None:
        if text is not None:
            texts = [text] if isinstance(text, str) else list(text)
            if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
                raise BadInput("text: give one or more non-empty strings")
            spec = ls.encoder or info["encoder"]
            q = as_unit_vectors(labelsets.query_text_vectors(store, ls, info, texts), dim=ls.dim, what="text embeddings")
        else:
            q = as_unit_vectors(vectors, dim=ls.dim, what="vectors")
        s = numpy_scores(q, ls.vectors)
        items = [_item(ls.labels, None, s[i], top) for i in range(len(q))]
        return {"items": items, "stored": 0, "seconds": time.perf_counter() - started, "plan": "numpy"}

    params = {"lv": ls.vectors.tolist(), "ln": ls.labels}
    dialect = store.dialect
    table = items_table(dataset)
    if item_ids is not None:
        if not item_ids:
            raise BadInput("item_ids is empty: give at least one id")
        sql = dialect.zero_shot_select(store.database, table, len(ls.labels), where="id IN {ids:Array(String)}")
        result = store.run(sql, parameters={**params, "ids": list(item_ids)})
        found = {row[0]: np.asarray(row[1], dtype=np.float32) for row in result.result_rows}
        missing = [i for i in item_ids if i not in found]
        if missing:
            raise NotFound(f"{len(missing)} item id(s) not in dataset {dataset!r}: {', '.join(missing[:5])}")
        items = [_item(ls.labels, i, found[i], top) for i in item_ids]
        return {"items": items, "stored": 0, "seconds": time.perf_counter() - started, "plan": "sql"}

    run = run_in_database(store, dataset, labelset, split=split)
    rows = store.rows("classify.zero_shot_read", dataset=dataset, labelset=labelset, run_at=run["run_at"],
                      limit=int(limit) if limit is not None else 2**62)
    items = [_item(ls.labels, r["id"], np.asarray(r["scores"], dtype=np.float32), top) for r in rows]
    return {"items": items, "stored": run["stored"], "truncated": run["stored"] > len(items),
            "table": "zero_shot", "run_at": run["run_at"].isoformat(), "seconds": time.perf_counter() - started,
            "plan": "sql"}


def run_in_database(store: Store, dataset: str, labelset: str, split: str | None = None) -> dict:
    """One INSERT ... SELECT: every row's label, score, margin and per-label scores -> zero_shot."""
    ls, info = labelsets.for_dataset(store, labelset, dataset)
    where, params = None, {}
    if split is not None:
        from service.itemvectors import require_split

        require_split(store, dataset, split)
        where, params = "split = {split:String}", {"split": split}
    # Millisecond timestamp of this run: it tags the rows written, so readers take exactly them.
    run_at = dt.datetime.now().replace(microsecond=(dt.datetime.now().microsecond // 1000) * 1000)
    sql = store.dialect.zero_shot_insert(store.database, items_table(dataset), len(ls.labels), where=where)
    started = time.perf_counter()
    store.execute(sql, parameters={"lv": ls.vectors.tolist(), "ln": ls.labels, "dataset": dataset,
                                   "labelset": labelset, "run_at": run_at, **params})
    seconds = time.perf_counter() - started
    stored = int(store.query("classify.zero_shot_count", dataset=dataset, labelset=labelset,
                             run_at=run_at).result_rows[0][0])
    return {"stored": stored, "run_at": run_at, "seconds": seconds,
            "rows_per_second": stored / seconds if seconds > 0 else 0.0}
