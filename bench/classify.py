"""kNN and zero-shot at scale, on synthetic CLIP-like vectors (bench/data.py).

1. kNN: 10,000 test queries against 50,000 labeled train rows (512-d), k=10, exact. The
   vectrain batch plan (read the train split via Arrow, blocked torch matmul + top-k, votes)
   timed end to end from the database, against numpy brute force (blocked matmul +
   argpartition) on the same in-memory arrays in the same run; labels must be identical.
   ANN (one HNSW query per item) on a sample: seconds and recall@10 of the neighbours.
2. Zero-shot: a 1,000,000-row dataset against 100 labels, in the database (one INSERT ...
   SELECT into zero_shot); a sample checked against numpy.

    .venv/bin/python -m bench.classify
    .venv/bin/python -m bench.classify --zero-shot-rows 200000   # quicker
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from bench.data import centers, synthetic_clip
from bench.report import machine, table, write_section
from vectrain.classify import knn, labelsets
from vectrain.classify.zeroshot import run_stored
from vectrain.core.config import Settings
from vectrain.loaders.writer import DatasetWriter
from vectrain.search.nearest import nearest
from vectrain.storage.itemvectors import split_rows
from vectrain.storage.store import Store
from vectrain.storage.vectorsql.filters import Labeled, Split

K = 10


def numpy_knn(
    train: np.ndarray, train_y: np.ndarray, queries: np.ndarray, k: int, n_classes: int, block: int = 1024
) -> np.ndarray:
    """The baseline: blocked brute force in numpy, majority vote (ties: nearest neighbour's class)."""
    out = np.empty(len(queries), dtype=np.int64)
    for s in range(0, len(queries), block):
        sims = queries[s : s + block] @ train.T
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        v = np.take_along_axis(sims, idx, axis=1)
        order = np.argsort(-v, axis=1, kind="stable")
        idx = np.take_along_axis(idx, order, axis=1)
        lab = train_y[idx]
        votes = np.zeros((len(lab), n_classes))
        np.add.at(votes, (np.repeat(np.arange(len(lab)), k), lab.ravel()), 1)
        tied = votes == votes.max(1, keepdims=True)
        first = np.argmax(np.take_along_axis(tied, lab, axis=1), axis=1)
        out[s : s + block] = lab[np.arange(len(lab)), first]
    return out


def bench_knn(store: Store, n_train: int, n_test: int, ann_queries: int) -> dict:
    n = n_train + n_test
    ids, vecs = [], []
    for i, v in synthetic_clip(n, seed=3):
        ids += i
        vecs.append(v)
    vectors = np.concatenate(vecs)
    c = centers()
    labels = np.argmax(vectors @ c.T, axis=1) % 100  # 100 classes: the nearest center's group
    names = [f"c{x:02d}" for x in labels]
    splits = ["train"] * n_train + ["test"] * n_test
    writer = DatasetWriter(store, "knn", 512, "synthetic", total=n, progress=False)
    writer.write(ids=ids, vectors=vectors, labels=names, splits=splits, normalized=True)
    summary = writer.finish()
    print(summary.line(), flush=True)

    # Warm-up (torch import, first Arrow read) on a few queries, then the timed runs.
    knn.classify(store, "knn", vectors=vectors[:10], k=K)
    train, test = vectors[:n_train], vectors[n_train:]
    train_y = labels[:n_train]
    started = time.perf_counter()
    base = numpy_knn(train, train_y, test, K, 100)
    numpy_s = time.perf_counter() - started
    print(f"numpy brute force: {numpy_s:.2f} s", flush=True)
    started = time.perf_counter()
    result = knn.classify(store, "knn", split="test", k=K)
    ours_s = time.perf_counter() - started
    print(f"vectrain exact kNN (from the database): {ours_s:.2f} s", flush=True)
    got = [it["label"] for it in result["items"]]
    identical = got == [f"c{x:02d}" for x in base]
    mismatches = sum(a != f"c{b:02d}" for a, b in zip(got, base))
    accuracy = float(np.mean([a == t for a, t in zip(got, result["true_labels"])]))

    # ANN: per-query HNSW neighbours vs the exact top-10 (recall), on a sample.
    rows = split_rows(store, "knn", "train", 512, labeled_only=True)
    idx, _ = knn.topk(rows.vectors, test[:ann_queries], K)
    voters = [Split("train"), Labeled()]
    recalls = []
    started = time.perf_counter()
    for i in range(ann_queries):
        found = nearest(
            store, "knn", test[i], K, filters=voters, excluded=2 * K * n_test // n_train + 1, columns=("id", "label")
        )
        want = {rows.ids[j] for j in idx[i]}
        recalls.append(len(want & {r["id"] for r in found.items}) / K)
    ann_s = time.perf_counter() - started
    ann = knn.classify(store, "knn", vectors=test[:ann_queries], k=K, exact=False)
    exact_small = knn.classify(store, "knn", vectors=test[:ann_queries], k=K)
    ann_agree = float(np.mean([a["label"] == b["label"] for a, b in zip(ann["items"], exact_small["items"])]))
    return {
        "n_train": n_train,
        "n_test": n_test,
        "numpy_s": numpy_s,
        "ours_s": ours_s,
        "identical": identical,
        "mismatches": mismatches,
        "accuracy": accuracy,
        "ann_queries": ann_queries,
        "ann_ms": 1000 * ann_s / ann_queries,
        "recall": float(np.mean(recalls)),
        "ann_agree": ann_agree,
        "ann_fallbacks": ann["exact_fallbacks"],
    }


def bench_zero_shot(store: Store, n: int, n_labels: int) -> dict:
    writer = DatasetWriter(store, "zs", 512, "synthetic", total=n, progress=True)
    sample = None
    for ids, v in synthetic_clip(n, seed=5):
        writer.write(ids=ids, vectors=v, normalized=True)
        if sample is None:
            sample = (ids[:2000], v[:2000])
    summary = writer.finish(build_index=False)  # zero-shot scans every row; it needs no index
    print(summary.line(), flush=True)
    c = centers()
    lv = c[np.random.default_rng(0).choice(len(c), n_labels, replace=False)]
    labelsets.create(store, "hundred", [f"l{i:03d}" for i in range(n_labels)], vectors=lv, dataset="zs")
    run = run_stored(store, "zs", "hundred")
    print(f"zero-shot {run['stored']} rows x {n_labels} labels in {run['seconds']:.1f} s", flush=True)
    got = dict(
        store.client.query(
            "SELECT id, label FROM zero_shot FINAL WHERE dataset = 'zs' AND id IN {ids:Array(String)}",
            parameters={"ids": sample[0]},
        ).result_rows
    )
    want = np.argmax(sample[1] @ lv.T, axis=1)
    agree = float(np.mean([got[i] == f"l{w:03d}" for i, w in zip(sample[0], want)]))
    return {
        "n": n,
        "labels": n_labels,
        "seconds": run["seconds"],
        "stored": run["stored"],
        "rows_s": run["rows_per_second"],
        "load_s": summary.seconds,
        "agree": agree,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=50_000)
    ap.add_argument("--test", type=int, default=10_000)
    ap.add_argument("--ann-queries", type=int, default=300)
    ap.add_argument("--zero-shot-rows", type=int, default=1_000_000)
    ap.add_argument("--labels", type=int, default=100)
    args = ap.parse_args()
    path = tempfile.mkdtemp(prefix="vectrain-bench-classify-")
    store = Store(Settings(database_url=f"chdb://{path}", database="bench"), owner="bench.classify")
    store.migrate()
    k = bench_knn(store, args.train, args.test, args.ann_queries)
    print(k, flush=True)
    z = bench_zero_shot(store, args.zero_shot_rows, args.labels)
    print(z, flush=True)
    md = f"""## Classification at scale

`.venv/bin/python -m bench.classify` — {machine()}. Synthetic CLIP-like vectors (bench/data.py,
512-d, clustered around real CLIP vectors), temp chDB.

kNN, k={K}, majority vote, {k["n_test"]:,} queries against {k["n_train"]:,} labeled rows (100 classes):

{
        table(
            ["plan", "seconds", "queries/s", "vs numpy", "labels"],
            [
                [
                    "numpy brute force (in memory, blocked matmul + argpartition)",
                    k["numpy_s"],
                    f"{k['n_test'] / k['numpy_s']:,.0f}",
                    "1.00x",
                    "baseline",
                ],
                [
                    "vectrain exact batch (from the DB: Arrow read + torch matmul/top-k)",
                    k["ours_s"],
                    f"{k['n_test'] / k['ours_s']:,.0f}",
                    f"{k['ours_s'] / k['numpy_s']:.2f}x",
                    "identical" if k["identical"] else f"{k['mismatches']} differ",
                ],
            ],
        )
    }

Accuracy against the generating labels: {k["accuracy"]:.4f}. For reference, a SQL CROSS JOIN
took 178 s per 1,000 queries against 50k rows on this engine (docs/ARCHITECTURE.md).

ANN kNN (one HNSW query per item, {k["ann_queries"]} queries): {k["ann_ms"]:.1f} ms per query,
recall@10 of the neighbours {k["recall"]:.4f}, predicted labels equal to the exact plan's on
{k["ann_agree"] * 100:.1f}% ({k["ann_fallbacks"]} queries fell back to an exact scan).

Zero-shot in the database: {z["stored"]:,} rows x {
        z["labels"]
    } labels, read in primary-key blocks, scored in BLAS, stored in
`zero_shot`: **{z["seconds"]:.1f} s** ({z["rows_s"]:,.0f} rows/s); the first 2,000 rows agree with
numpy's argmax on {z["agree"] * 100:.2f}%. (Loading the rows, without an index: {z["load_s"]:.1f} s.)
"""
    write_section("classify", md)
    store.close()


if __name__ == "__main__":
    main()
