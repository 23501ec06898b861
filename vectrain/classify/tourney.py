"""Pairwise tourney classification (the pairwise-classification article), in numpy.

Reading of the method, as implemented here:
1. Zero-shot first: every item of the fit population (the dataset, or one split) gets its
   argmax label, top similarity and margin (top-1 minus top-2).
2. The article excludes uncertain assignments before measuring class distributions: items
   whose top similarity is below the `min_score_quantile` quantile, or whose margin is below
   the `min_margin_quantile` quantile, are left out of the statistics (default: bottom 25% each).
3. For each class pair (a, b) and each dimension, the cross-variance is the mean squared
   difference over all cross pairs, E[(x_a - x_b)^2] = var_a + var_b + (mean_a - mean_b)^2;
   the ratio to the within-class variance var_a + var_b ranks dimensions by how much the two
   distributions differ. The top `dims` dimensions are kept for that pair. A class with fewer
   than 2 confident items falls back to the dimensions where the two label vectors differ most.
4. An item compares a pair by cosine similarity of its sub-vector with each label vector's
   sub-vector on the pair's dimensions; the higher wins (the first-seeded on an exact tie).
5. A single-elimination bracket over all classes, seeded randomly per item (a hash of seed,
   item id and class, so an item gets the same bracket alone or in a batch); an odd class out
   gets a bye. Each round is vectorized over all items.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import numpy as np

from vectrain.classify import labelsets
from vectrain.core.budget import Deadline
from vectrain.core.errors import BadInput
from vectrain.core.validation import check_fraction, check_int
from vectrain.search.selection import Selection
from vectrain.storage.store import Store

MAX_CLASSES = 256  # the pair table holds classes^2 x dims indices


@dataclass
class PairDims:
    dims: np.ndarray  # int64 [C, C, dims]: dimensions used to compare classes a and b
    confident: int  # items kept for the statistics
    fallback_classes: list[int]


def zero_shot(vectors: np.ndarray, label_vectors: np.ndarray):
    s = vectors @ label_vectors.T
    best = np.argmax(s, axis=1)
    top = s[np.arange(len(s)), best]
    if s.shape[1] > 1:
        second = np.partition(s, -2, axis=1)[:, -2]
    else:
        second = top
    return best, top, top - second, s


def fit_pair_dims(
    vectors: np.ndarray,
    label_vectors: np.ndarray,
    dims: int,
    min_score_quantile: float = 0.25,
    min_margin_quantile: float = 0.25,
) -> PairDims:
    n_classes, d = label_vectors.shape
    if not 1 <= dims <= d:
        raise BadInput(f"dims must be from 1 to the vector dimension {d}, got {dims}")
    for name, q in (("min_score_quantile", min_score_quantile), ("min_margin_quantile", min_margin_quantile)):
        if not 0 <= q < 1:
            raise BadInput(f"{name} must be in [0, 1), got {q}")
    best, top, margin, _ = zero_shot(vectors, label_vectors)
    keep = (top >= np.quantile(top, min_score_quantile)) & (margin >= np.quantile(margin, min_margin_quantile))
    mean = np.zeros((n_classes, d), dtype=np.float64)
    var = np.zeros((n_classes, d), dtype=np.float64)
    count = np.bincount(best[keep], minlength=n_classes)
    for c in np.flatnonzero(count >= 2):
        x = vectors[keep & (best == c)].astype(np.float64)
        mean[c], var[c] = x.mean(axis=0), x.var(axis=0)
    within = var[:, None, :] + var[None, :, :]
    cross = within + (mean[:, None, :] - mean[None, :, :]) ** 2
    ratio = cross / (within + 1e-12)
    weak = count < 2
    if weak.any():
        u = label_vectors.astype(np.float64)
        diff = np.abs(u[:, None, :] - u[None, :, :])
        pair_weak = weak[:, None] | weak[None, :]
        ratio[pair_weak] = diff[pair_weak]
    # Stable sort on -ratio: equal ratios keep dimension order, so the choice is deterministic.
    order = np.argsort(-ratio, axis=2, kind="stable")[:, :, :dims]
    return PairDims(order.astype(np.int64), int(keep.sum()), [int(c) for c in np.flatnonzero(weak)])


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def seeding(keys: list[str], n_classes: int, seed: int) -> np.ndarray:
    """[n, C] bracket order per item: a hash of (seed, item key, class), so it is reproducible
    per item whatever else is in the batch."""
    item = np.asarray([zlib.crc32(k.encode()) for k in keys], dtype=np.uint64)
    with np.errstate(over="ignore"):
        base = _splitmix64(item ^ (np.uint64(seed & 0xFFFFFFFF) << np.uint64(32)))
        h = _splitmix64(base[:, None] + np.arange(n_classes, dtype=np.uint64)[None, :])
    return np.argsort(h, axis=1, kind="stable")


def compare(
    vectors: np.ndarray,
    label_vectors: np.ndarray,
    pair_dims: np.ndarray,
    items: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
) -> np.ndarray:
    """Winner of a vs b for each (item, a, b), by cosine on the pair's dimensions."""
    dims = pair_dims[a, b]  # [m, dims]
    x = vectors[items[:, None], dims]
    ua, ub = label_vectors[a[:, None], dims], label_vectors[b[:, None], dims]
    nx = np.linalg.norm(x, axis=1) + 1e-12
    sa = (x * ua).sum(axis=1) / (nx * (np.linalg.norm(ua, axis=1) + 1e-12))
    sb = (x * ub).sum(axis=1) / (nx * (np.linalg.norm(ub, axis=1) + 1e-12))
    return np.where(sb > sa, b, a)


def bracket(
    vectors: np.ndarray, label_vectors: np.ndarray, pair_dims: np.ndarray, order: np.ndarray, check=lambda: None
) -> np.ndarray:
    """Run every item's single-elimination bracket; `order` [n, C] seeds it. Returns winners."""
    alive = order.copy()
    n = len(alive)
    items = np.arange(n)
    while alive.shape[1] > 1:
        check()
        m = alive.shape[1]
        pairs = m // 2
        a, b = alive[:, 0 : 2 * pairs : 2], alive[:, 1 : 2 * pairs : 2]
        winners = compare(vectors, label_vectors, pair_dims, np.repeat(items, pairs), a.ravel(), b.ravel())
        winners = winners.reshape(n, pairs)
        alive = np.concatenate([winners, alive[:, 2 * pairs :]], axis=1) if m % 2 else winners
    return alive[:, 0]


def classify(
    store: Store,
    dataset: str,
    labelset: str,
    *,
    split: str | None = None,
    item_ids: list[str] | None = None,
    vectors=None,
    text=None,
    dims: int = 64,
    fit_split: str | None = None,
    seed: int = 0,
    min_score_quantile: float = 0.25,
    min_margin_quantile: float = 0.25,
    deadline: Deadline = Deadline.none(),
) -> dict:
    selection = Selection.of(store.settings, split=split, item_ids=item_ids, vectors=vectors, text=text)
    ls, info = labelsets.for_dataset(store, labelset, dataset)
    dims = check_int(dims, "dims", 1, ls.dim)
    seed = check_int(seed, "seed", 0, 2**32 - 1)
    min_score_quantile = check_fraction(min_score_quantile, "min_score_quantile")
    min_margin_quantile = check_fraction(min_margin_quantile, "min_margin_quantile")
    if len(ls.labels) < 2:
        raise BadInput("A tourney needs a label set with at least 2 labels")
    if len(ls.labels) > MAX_CLASSES:
        raise BadInput(f"The tourney handles at most {MAX_CLASSES} labels; this label set has {len(ls.labels)}")
    dim = ls.dim
    started = time.perf_counter()
    fit = Selection.of(store.settings, split=fit_split)
    population = fit.rows(store, dataset, dim)
    if not len(population):
        raise BadInput(f"Dataset {dataset!r} has no rows to fit the pair dimensions on")
    deadline.check()
    fitted = fit_pair_dims(population.vectors, ls.vectors, dims, min_score_quantile, min_margin_quantile)
    deadline.check()
    if selection.kind == fit.kind and selection.split == fit.split:
        targets = population
    else:
        targets = selection.rows(
            store, dataset, dim, lambda texts: labelsets.query_text_vectors(store, ls, info, texts)
        )
    keys = [i if i is not None else f"#{n}" for n, i in enumerate(targets.ids)]
    order = seeding(keys, len(ls.labels), seed)
    winners = bracket(targets.vectors, ls.vectors, fitted.dims, order, check=deadline.check)
    zs_best, _, _, s = zero_shot(targets.vectors, ls.vectors)
    items = [
        {
            "id": targets.ids[i],
            "label": ls.labels[winners[i]],
            "score": float(s[i, winners[i]]),
            "zero_shot_label": ls.labels[zs_best[i]],
        }
        for i in range(len(targets))
    ]
    seconds = time.perf_counter() - started
    return {
        "items": items,
        "seconds": seconds,
        "dims": dims,
        "confident_items": fitted.confident,
        "fit_rows": len(population),
        "fallback_labels": [ls.labels[c] for c in fitted.fallback_classes],
        "true_labels": targets.labels,
        "queries_per_second": len(targets) / seconds if seconds else 0.0,
    }
