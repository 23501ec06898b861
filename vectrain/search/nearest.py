"""Nearest-neighbour search over an items table, with exact k under exclusions.

A query is a stored item, a vector, a text (datasets with a text encoder) or an image; the
answer is exactly k rows whenever k rows pass the exclusion: the vector index answers first
with a candidate fetch sized from the exclusion, and a full scan answers when it comes up short.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vectrain.core.names import items_table
from vectrain.core.validation import check_k, check_text, exactly_one
from vectrain.core.vectors import as_unit_vectors
from vectrain.storage.itemvectors import item_vector
from vectrain.storage.store import Store
from vectrain.storage.vectorsql.filters import Exclusion, Filter


@dataclass
class SearchResult:
    items: list[dict]
    plan: str  # "ann" (vector index) or "exact" (full scan)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def nearest(
    store: Store,
    dataset: str,
    vector,
    k: int = 10,
    exclusion: Exclusion = Exclusion(),
    filters: Sequence[Filter] = (),
    columns: Sequence[str] = ("id", "url", "label"),
    exact: bool = False,
    excluded: int | None = None,
    pool: bool = False,
) -> SearchResult:
    """Top-k rows by cosine similarity to `vector`, best first, skipping `exclusion` and rows
    failing `filters`. `excluded` (default: the exclusion's count) is how many rows the filters
    may remove, which sizes the index's candidate fetch. `pool`: candidates the caller re-ranks
    (boundary batches), so the index searches a shorter candidate list."""
    settings = store.settings
    info = store.registry.get(dataset, count=False)
    k = check_k(k, settings)
    q = as_unit_vectors(vector, dim=int(info["dim"]), what="query vector")[0]
    dialect = store.dialect
    query = dialect.nearest(store.database, items_table(dataset), q, k, [exclusion, *filters], columns)
    excluded = exclusion.count if excluded is None else excluded
    started = time.perf_counter()
    plan, rows = "exact", None
    if not exact and _index_pays(store, dataset, int(info["dim"]), k, excluded):
        rows = _fetch(
            store, query.with_settings(dialect.ann_settings(k, excluded, settings.ann_ef_search, deep=not pool))
        )
        plan = "ann"
        if len(rows) < k:
            rows = None  # the post-filter dropped too many candidates: answer exactly instead
    if rows is None:
        rows = _fetch(store, query.with_settings(dialect.exact_settings()))
        plan = "exact"
    return SearchResult(items=rows, plan=plan, seconds=time.perf_counter() - started)


def _index_pays(store: Store, dataset: str, dim: int, k: int, excluded: int) -> bool:
    """Whether to ask the HNSW index. Not when there is none (high-dim datasets), not for k
    above the index's limit, and not when the candidates to fetch are a large share of the
    table: then the scan is exact and costs about the same, while the index's recall deep in
    its candidate list is not exact."""
    settings = store.settings
    if k > settings.ann_max_limit or store.registry.index_state(dataset, dim) != "ready":
        return False  # no index, or not on every part: only a scan is exact (and the plan says so)
    if store.registry.count_rows(dataset) < settings.ann_min_rows:
        return False  # a small table: the scan costs about what the index does, and is exact
    if excluded == 0:
        return True
    fetched = k * store.dialect.ann_settings(k, excluded, 0).get("vector_search_index_fetch_multiplier", 1)
    return fetched * settings.exact_scan_ratio < store.registry.count_rows(dataset)


def query_vector(
    store: Store, dataset: str, *, item_id: str | None = None, vector=None, text: str | None = None, image=None
) -> np.ndarray:
    """The vector of a search: a stored item's, a given one, or a text or image embedded by the
    dataset's own encoder (so the query lands in the space of its rows)."""
    exactly_one("to search by", item_id=item_id, vector=vector, text=text, image=image)
    if item_id is not None:
        return item_vector(store, dataset, item_id)
    if vector is not None:
        return vector
    from vectrain.embed.encoders import encoder_for, text_vectors

    info = store.registry.get(dataset, count=False)
    if text is not None:
        return text_vectors(info, [check_text(text, "text", store.settings)], store.settings)[0]
    return encoder_for(info, store.settings).encode_images([image])[0]


def _fetch(store: Store, query) -> list[dict]:
    out = store.rows(query)
    for item in out:
        item["score"] = float(item["score"])
    return out
