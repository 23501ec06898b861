"""Zero-shot classification: the nearest label vector wins.

Every path is one matrix product of unit vectors with the label set's unit vectors (cosine
similarities), in BLAS. Over a whole dataset or a split, the rows stream from the database in
Arrow blocks, each block is scored and its compact result (label, score, margin, the top few
labels) inserted into the `zero_shot` table (join it with items_<dataset> ON id): memory stays
bounded by the block, and nothing but vectors crosses to this process. A SQL dotProduct per
label per row measured 100 s for 1M rows x 100 labels; this path is bounded by reading the
vectors. For item ids, vectors or texts nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from vectrain.classify import labelsets
from vectrain.core import blas
from vectrain.core.budget import Deadline
from vectrain.core.validation import check_int
from vectrain.search.selection import Selection
from vectrain.storage import itemvectors
from vectrain.storage.itemvectors import id_rows
from vectrain.storage.query import Query
from vectrain.storage.store import Store

DEFAULT_RETURN_LIMIT = 10_000  # whole-dataset runs store everything; the response shows this many
MAX_RETURN_LIMIT = 100_000
STORED_TOP = 5  # labels kept per row in zero_shot.top_labels / top_scores
# Rows are read in blocks of under 32 MiB of vectors (itemvectors.block_rows: 15,872 rows at 512
# dims), READ_AHEAD blocks ahead of the one being scored, and inserted INSERT_ROWS at a time:
# fewer parts for the table to merge. With 65k-row blocks read one ahead and inserted one by one
# against 32k-row blocks read two ahead, 1M rows x 100 labels took 2.8 s against 2.5 s (means of
# 18 runs, interleaved) and 15% more CPU.
READ_AHEAD = 2
INSERT_ROWS = 131_072


@dataclass
class Scored:
    """Zero-shot results of a block of rows."""

    best: np.ndarray  # int [n]: winning label index (first on ties, like numpy argmax)
    score: np.ndarray  # float32 [n]: similarity to the winner
    margin: np.ndarray  # float32 [n]: best minus second best
    top: np.ndarray  # int [n, t]: label indices by similarity, best first
    top_scores: np.ndarray  # float32 [n, t]
    scores: np.ndarray  # float32 [n, labels]


def numpy_scores(vectors: np.ndarray, label_vectors: np.ndarray) -> np.ndarray:
    return np.asarray(vectors, dtype=np.float32) @ np.asarray(label_vectors, dtype=np.float32).T


def score_block(vectors: np.ndarray, label_vectors: np.ndarray, top: int) -> Scored:
    s = numpy_scores(vectors, label_vectors)
    n, labels = s.shape
    rows = np.arange(n)
    # The top max(top, 2) labels (the second best gives the margin) by repeated argmax: each pass
    # is one vectorized scan, where argpartition and lexsort per row took twice the matmul's time.
    # argmax takes the first of equal scores, so ties go by label position on every run.
    t = min(max(top, 2), labels)
    top_idx = np.empty((n, t), dtype=np.int64)
    top_scores = np.empty((n, t), dtype=np.float32)
    work = s.copy() if t > 1 else s
    for j in range(t):
        best_j = work.argmax(axis=1)
        top_idx[:, j] = best_j
        top_scores[:, j] = work[rows, best_j]
        if j + 1 < t:
            work[rows, best_j] = -np.inf
    margin = (top_scores[:, 0] - top_scores[:, 1]) if labels > 1 else np.zeros(n, np.float32)
    t = min(top, labels)
    return Scored(top_idx[:, 0], top_scores[:, 0].copy(), margin, top_idx[:, :t], top_scores[:, :t], s)


def _item(labels: list[str], item_id, s: Scored, i: int, top: int) -> dict:
    return {
        "id": item_id,
        "label": labels[int(s.best[i])],
        "score": float(s.score[i]),
        "margin": float(s.margin[i]),
        "top": [[labels[int(j)], float(v)] for j, v in zip(s.top[i][:top], s.top_scores[i][:top])],
    }


def classify(
    store: Store,
    dataset: str,
    labelset: str,
    *,
    split: str | None = None,
    item_ids: list[str] | None = None,
    vectors=None,
    text: list[str] | str | None = None,
    top: int = 5,
    limit: int | None = DEFAULT_RETURN_LIMIT,
    store_scores: bool = False,
    deadline: Deadline = Deadline.none(),
) -> dict:
    """Zero-shot labels for a dataset/split (stored), item ids, vectors or texts."""
    selection = Selection.of(store.settings, split=split, item_ids=item_ids, vectors=vectors, text=text)
    top = check_int(top, "top", 1, 1000)
    # None (internal callers such as evaluation) returns every stored row.
    limit = check_int(limit, "limit", 0, MAX_RETURN_LIMIT) if limit is not None else 2**62
    ls, info = labelsets.for_dataset(store, labelset, dataset)
    started = time.perf_counter()
    if selection.kind in ("vectors", "text", "item_ids"):
        if selection.item_ids is not None:
            rows = id_rows(store, dataset, list(selection.item_ids), ls.dim)
        else:
            rows = selection.rows(
                store, dataset, ls.dim, lambda texts: labelsets.query_text_vectors(store, ls, info, texts)
            )
        s = score_block(rows.vectors, ls.vectors, top)
        items = [_item(ls.labels, rows.ids[i], s, i, top) for i in range(len(rows))]
        return {"items": items, "stored": 0, "seconds": time.perf_counter() - started, "plan": "numpy"}

    run = run_stored(store, dataset, labelset, split=split, store_scores=store_scores, deadline=deadline)
    rows = store.rows(
        Query.named("classify.zero_shot_read", dataset=dataset, labelset=labelset, run_at=run["run_at"], limit=limit)
    )
    items = [
        {
            "id": r["id"],
            "label": r["label"],
            "score": float(r["score"]),
            "margin": float(r["margin"]),
            "top": [[lab, float(v)] for lab, v in list(zip(r["top_labels"], r["top_scores"]))[:top]],
        }
        for r in rows
    ]
    return {
        "items": items,
        "stored": run["stored"],
        "truncated": run["stored"] > len(items),
        "table": "zero_shot",
        "run_at": run["run_at"].isoformat(),
        "seconds": time.perf_counter() - started,
        "plan": "stream",
    }


def run_stored(
    store: Store,
    dataset: str,
    labelset: str,
    split: str | None = None,
    store_scores: bool = False,
    deadline: Deadline = Deadline.none(),
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Score every row (of one split) and store the results in zero_shot, block by block.
    `progress(rows_done)` is called after every block."""
    ls, info = labelsets.for_dataset(store, labelset, dataset)
    selection = Selection.of(store.settings, split=split)
    selection.check_split(store, dataset)
    # Millisecond timestamp of this run: it tags the rows written, so readers take exactly them.
    now = dt.datetime.now()
    run_at = now.replace(microsecond=(now.microsecond // 1000) * 1000)
    dim = ls.dim
    labels = pa.array(ls.labels, pa.string())
    constants = pa.array([dataset, labelset], pa.string())
    stamp = np.datetime64(run_at, "ms")
    started = time.perf_counter()
    done = 0
    # Three stages at once: the next blocks are read (itemvectors.blocks), this one scored here, the
    # last ones inserted by `writer`. A few blocks wait at each stage, so memory stays bounded; a
    # row counts as done once its insert is acknowledged. BLAS keeps to one thread: the engine's
    # read and insert need the other cores (on 2 cores, run in a worker thread as jobs are, 1M rows
    # x 100 labels took 3.4-4.0 s with BLAS on both, 2.9-3.4 s with one thread).
    with blas.one_thread(), ThreadPoolExecutor(1, thread_name_prefix="zero-shot-insert") as writer:
        written: Future | None = None

        def acknowledge() -> None:
            nonlocal done
            if written is not None:
                done += written.result()
                if progress:
                    progress(done)

        scored: list[pa.Table] = []
        for ids, matrix in itemvectors.blocks(store, dataset, dim, split, READ_AHEAD):
            deadline.check()
            scored.append(
                _result_table(ids, score_block(matrix, ls.vectors, STORED_TOP), labels, constants, stamp, store_scores)
            )
            if sum(t.num_rows for t in scored) >= INSERT_ROWS:
                acknowledge()
                written, scored = writer.submit(_insert, store, pa.concat_tables(scored)), []
        if scored:
            acknowledge()
            written = writer.submit(_insert, store, pa.concat_tables(scored))
        acknowledge()
    seconds = time.perf_counter() - started
    # Every row inserted and acknowledged (ids are unique in an items table); counting them back
    # with FINAL took 0.2-0.5 s of a 3 s run at 1M rows.
    return {
        "stored": done,
        "run_at": run_at,
        "seconds": seconds,
        "rows_per_second": done / seconds if seconds > 0 else 0.0,
    }


def _result_table(
    ids: pa.Array, s: Scored, labels: pa.Array, constants: pa.Array, stamp: np.datetime64, store_scores: bool
) -> pa.Table:
    """A block's rows of zero_shot; strings by Arrow's take, not by Python lists of strings."""
    n = len(ids)
    t = s.top.shape[1]
    offsets = pa.array(np.arange(0, n * t + 1, t, dtype=np.int32))
    return pa.table(
        {
            "dataset": constants.take(np.zeros(n, np.int32)),
            "labelset": constants.take(np.ones(n, np.int32)),
            "id": ids,
            "label": labels.take(s.best.astype(np.int32)),
            "score": pa.array(s.score.astype(np.float32)),
            "margin": pa.array(s.margin.astype(np.float32)),
            "top_labels": pa.ListArray.from_arrays(offsets, labels.take(s.top.ravel().astype(np.int32))),
            "top_scores": pa.ListArray.from_arrays(offsets, pa.array(s.top_scores.astype(np.float32).ravel())),
            "scores": _scores_column(s.scores if store_scores else None, n),
            "run_at": pa.array(np.full(n, stamp), pa.timestamp("ms")),
        }
    )


def _insert(store: Store, table: pa.Table) -> int:
    # A block's ids are unique, so ReplacingMergeTree's merge of the block at insert time finds
    # nothing to replace: skipping it halved an insert (57 to 28 ms for 65k rows).
    store.insert_arrow("zero_shot", table, settings={"optimize_on_insert": 0})
    return table.num_rows


def _scores_column(scores: np.ndarray | None, n: int) -> pa.Array:
    if scores is None:
        return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), pa.array([], pa.float32()))
    width = scores.shape[1]
    offsets = pa.array(np.arange(0, n * width + 1, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(scores.astype(np.float32).ravel()))
