"""Search by several positive and negative examples, with the two strategies of Qdrant's
recommend API, as Qdrant documents them:

    average_vector  one query vector, avg(positives) + (avg(positives) - avg(negatives)),
                    normalized; searched like any vector (the HNSW index serves it)
    best_score      every row is compared with every example: with max_pos and max_neg its
                    highest similarity to a positive and to a negative, it scores max_pos when
                    max_pos >= max_neg, else -(max_neg ^ 2). Negatives alone work too.

Examples are stored items (ids) or vectors. Examples given by id never come back, nor do
exclude_ids, and the answer holds exactly k rows whenever k others exist. best_score asks the
vector index for each positive's nearest rows and re-scores them exactly; it keeps that answer
only when it is provably the top k of those lists (no row outside them can score higher), and
otherwise scans the table.
"""

from __future__ import annotations

import time

import numpy as np

from vectrain.core.choices import Recommend
from vectrain.core.errors import BadInput, TooLarge
from vectrain.core.names import items_table
from vectrain.core.validation import check_count, check_ids, check_k
from vectrain.core.vectors import as_unit_vectors
from vectrain.search.nearest import SearchResult, nearest
from vectrain.storage.itemvectors import id_rows
from vectrain.storage.query import Floats, Query
from vectrain.storage.registry import INDEX_READY
from vectrain.storage.store import Store
from vectrain.storage.vectorsql.filters import Exclusion


def example_vectors(
    store: Store,
    dataset: str,
    positive_ids=None,
    negative_ids=None,
    positive_vectors=None,
    negative_vectors=None,
    limit: int | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Unit vectors of the positive and negative examples, and the ids among them. Ids must be
    distinct, stored, and not both positive and negative; at most `limit` examples (default
    VECTRAIN_SEARCH_MAX_EXAMPLES)."""
    settings = store.settings
    limit = settings.search_max_examples if limit is None else limit
    info = store.registry.get(dataset, count=False)
    dim = int(info["dim"])
    pos_ids = check_ids(list(positive_ids or []), "positive_ids", settings, allow_empty=True)
    neg_ids = check_ids(list(negative_ids or []), "negative_ids", settings, allow_empty=True)
    both = sorted(set(pos_ids) & set(neg_ids))
    if both:
        raise BadInput(
            f"{len(both)} item(s) are both positive and negative examples, e.g. {both[:5]}", field="negative_ids"
        )
    parts = {}
    for what, vectors in (("positive_vectors", positive_vectors), ("negative_vectors", negative_vectors)):
        vectors = list(vectors or [])
        check_count(vectors, what, settings.max_vectors)
        parts[what] = as_unit_vectors(vectors, dim=dim, what=what) if vectors else np.zeros((0, dim), np.float32)
    total = len(pos_ids) + len(neg_ids) + len(parts["positive_vectors"]) + len(parts["negative_vectors"])
    if total == 0:
        raise BadInput(
            "Give at least one example: positive_ids, negative_ids, positive_vectors or negative_vectors",
            field="positive_ids",
        )
    if total > limit:
        raise TooLarge(
            f"At most {limit} examples per request (VECTRAIN_SEARCH_MAX_EXAMPLES), got {total}", field="positive_ids"
        )
    ids = pos_ids + neg_ids
    rows = id_rows(store, dataset, ids, dim).vectors if ids else np.zeros((0, dim), np.float32)
    positives = np.concatenate([rows[: len(pos_ids)], parts["positive_vectors"]])
    negatives = np.concatenate([rows[len(pos_ids) :], parts["negative_vectors"]])
    return positives.astype(np.float32), negatives.astype(np.float32), ids


def average_vector(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """avg(positives) + (avg(positives) - avg(negatives)), as a unit vector."""
    dim = positives.shape[1] if len(positives) else negatives.shape[1]
    pos = positives.astype(np.float64).mean(axis=0) if len(positives) else np.zeros(dim)
    neg = negatives.astype(np.float64).mean(axis=0) if len(negatives) else np.zeros(dim)
    return as_unit_vectors(2 * pos - neg, what="the average of the examples (positives minus negatives)")[0]


def session_start(store: Store, dataset: str, positive_ids, negative_ids=None) -> tuple[np.ndarray, list, list]:
    """A session's starting weights from example items, and the positive and negative ids: the
    average_vector of the examples, which for positives alone is their normalized mean."""
    examples = check_ids(positive_ids, "positive_ids", store.settings)
    negatives = check_ids(list(negative_ids or []), "negative_ids", store.settings, allow_empty=True)
    pos, neg, _ = example_vectors(
        store, dataset, positive_ids=examples, negative_ids=negatives, limit=store.settings.max_ids
    )
    return average_vector(pos, neg), examples, negatives


def best_scores(vectors: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """best_score of unit rows against unit examples (the reference the SQL is tested against)."""
    v = np.asarray(vectors, np.float64)
    max_pos = (v @ positives.T.astype(np.float64)).max(axis=1) if len(positives) else np.full(len(v), -np.inf)
    max_neg = (v @ negatives.T.astype(np.float64)).max(axis=1) if len(negatives) else np.full(len(v), -np.inf)
    return np.where(max_pos >= max_neg, max_pos, -(max_neg**2))


def recommend(
    store: Store,
    dataset: str,
    *,
    positive_ids=None,
    negative_ids=None,
    positive_vectors=None,
    negative_vectors=None,
    strategy: str | Recommend | None = None,
    k: int = 10,
    exclude_ids=None,
    exact: bool = False,
) -> SearchResult:
    """The k best rows for these examples (module docstring), never an example given by id."""
    k = check_k(k, store.settings)
    strategy = Recommend.parse(strategy or Recommend.average_vector, "strategy")
    exclude = check_ids(list(exclude_ids or []), "exclude_ids", store.settings, allow_empty=True)
    positives, negatives, ids = example_vectors(
        store, dataset, positive_ids, negative_ids, positive_vectors, negative_vectors
    )
    exclusion = Exclusion.of_ids(exclude + ids)
    if strategy == Recommend.average_vector:
        return nearest(store, dataset, average_vector(positives, negatives), k, exclusion, exact=exact)
    return _best_score(store, dataset, positives, negatives, k, exclusion, exact)


def _best_score(
    store: Store, dataset: str, positives, negatives, k: int, exclusion: Exclusion, exact: bool
) -> SearchResult:
    started = time.perf_counter()
    settings = store.settings
    info = store.registry.get(dataset, count=False)
    depth = min(settings.ann_max_limit, max(2 * k, k + 10))
    use_index = (
        not exact
        and len(positives) > 0
        and k <= settings.ann_max_limit
        and store.registry.index_state(dataset, int(info["dim"])) == INDEX_READY
        and depth * settings.exact_scan_ratio < store.registry.count_rows(dataset)
    )
    if use_index:
        found = _from_candidates(store, dataset, positives, negatives, k, depth, exclusion, int(info["dim"]))
        if found is not None:
            return SearchResult(items=found, plan="ann", seconds=time.perf_counter() - started)
    query = Query.named(
        "recommend.best_score",
        positives=Floats(positives),
        negatives=Floats(negatives),
        exclude=list(exclusion.ids),
        k=k,
        db=store.database,
        items=items_table(dataset),
    )
    items = [{**r, "score": float(r["score"])} for r in store.rows(query.with_settings(store.dialect.exact_settings()))]
    return SearchResult(items=items, plan="exact", seconds=time.perf_counter() - started)


def _from_candidates(store, dataset, positives, negatives, k, depth, exclusion, dim) -> list[dict] | None:
    """The top k among each positive's `depth` nearest rows, if provably the top k overall."""
    candidates: dict[str, dict] = {}
    bound = -np.inf  # no row outside the lists is more similar than this to any positive
    for p in positives:
        found = nearest(store, dataset, p, depth, exclusion)
        for r in found.items:
            candidates.setdefault(r["id"], r)
        if len(found.items) == depth:
            bound = max(bound, found.items[-1]["score"])
        else:  # this list holds every row that passes the exclusion: nothing is outside
            bound, complete = -np.inf, True
            break
    else:
        complete = False
    ids = sorted(candidates)
    scores = best_scores(id_rows(store, dataset, ids, dim).vectors, positives, negatives)
    order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:k]
    if len(order) < k and not complete:
        return None
    # Outside the lists a row scores at most `bound` (its best positive), or at most 0 through a
    # negative: the answer stands only if its k-th score beats that.
    ceiling = max(bound, 0.0) if len(negatives) else bound
    if not complete and scores[order[-1]] <= ceiling:
        return None
    return [{**candidates[ids[i]], "score": float(scores[i])} for i in order]
