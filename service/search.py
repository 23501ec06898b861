"""Nearest-neighbour search over an items table, with exact k under exclusions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from service.errors import BadInput, NotFound
from service.store import Store, items_table
from service.vectors import as_unit_vectors
from service.vectorsql import Exclusion


@dataclass
class SearchResult:
    items: list[dict]
    plan: str  # "ann" (vector index) or "exact" (full scan)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def item_vector(store: Store, dataset: str, item_id: str) -> np.ndarray:
    rows = store.rows("items.get", db=store.database, items=items_table(dataset), id=item_id)
    if not rows:
        raise NotFound(f"No item {item_id!r} in dataset {dataset!r}")
    return np.asarray(rows[0]["vector"], dtype=np.float32)


def nearest(store: Store, dataset: str, vector, k: int = 10, exclusion: Exclusion = Exclusion(),
            params: dict | None = None, excluded: int = 0, exact: bool = False,
            where: str | None = None, columns: str = "id, url, label") -> SearchResult:
    """Top-k rows by cosine similarity to `vector`, best first, skipping `exclusion`.

    Returns exactly k rows whenever k rows pass the exclusion: the ANN query (vector index,
    post-filtered) is tried first with a fetch multiplier sized from `excluded`; if the index's
    candidates run short, the exact scan answers instead.
    """
    settings = store.settings
    info = store.dataset(dataset, count=False)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= settings.search_max_k:
        raise BadInput(f"k must be an integer from 1 to {settings.search_max_k}, got {k!r}")
    q = as_unit_vectors(vector, dim=int(info["dim"]), what="query vector")[0]
    dialect = store.dialect
    sql = dialect.search(store.database, items_table(dataset), k, exclusion, where=where, columns=columns)
    bound = {"q": q.tolist(), **(params or {})}
    started = time.perf_counter()
    plan, rows = "exact", None
    if not exact and _index_pays(store, dataset, int(info["dim"]), k, excluded):
        rows = _fetch(store, sql, bound, dialect.ann_settings(k, excluded, settings.ann_ef_search))
        plan = "ann"
        if len(rows) < k:
            rows = None  # the post-filter dropped too many candidates: answer exactly instead
    if rows is None:
        rows = _fetch(store, sql, bound, dialect.exact_settings())
        plan = "exact"
    return SearchResult(items=rows, plan=plan, seconds=time.perf_counter() - started)


def _index_pays(store: Store, dataset: str, dim: int, k: int, excluded: int) -> bool:
    """Whether to ask the HNSW index. Not when there is none (high-dim datasets), not for k
    above the index's limit, and not when the candidates to fetch are a large share of the
    table: then the scan is exact and costs about the same, while the index's recall deep in
    its candidate list is not exact."""
    settings = store.settings
    if k > settings.ann_max_limit or not store.has_index(dim):
        return False
    if excluded == 0:
        return True
    fetched = k * store.dialect.ann_settings(k, excluded, 0).get("vector_search_index_fetch_multiplier", 1)
    return fetched * settings.exact_scan_ratio < store.count_rows(dataset)


def search(store: Store, dataset: str, *, vector=None, item_id: str | None = None, k: int = 10,
           exclude_ids: list[str] | None = None, exact: bool = False) -> SearchResult:
    """Search by a vector or by a stored item's vector, excluding a list of ids."""
    if (vector is None) == (item_id is None):
        raise BadInput("Give exactly one of item_id or vector")
    if item_id is not None:
        vector = item_vector(store, dataset, item_id)
    exclude = sorted(set(exclude_ids or []))
    if exclude:
        return nearest(store, dataset, vector, k, Exclusion("ids"), {"exclude_ids": exclude},
                       excluded=len(exclude), exact=exact)
    return nearest(store, dataset, vector, k, exact=exact)


def _fetch(store: Store, sql: str, params: dict, settings: dict) -> list[dict]:
    result = store.run(sql, parameters=params, settings=settings)
    out = []
    for row in result.result_rows:
        item = dict(zip(result.column_names, row))
        item["score"] = float(item["score"])
        out.append(item)
    return out
