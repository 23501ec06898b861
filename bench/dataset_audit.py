"""Whole-dataset audits: flipped labels found, planted near-duplicates grouped, time at 100k rows.

    .venv/bin/python -m bench.dataset_audit [--seeds 0 1 2 3 4] [--rows 100000]

1. Label errors: the 2,000 Food-101 CLIP ViT-B/32 embeddings (../shared/data) with their true
   classes, 5% of the labels flipped at random to another class; `audit_labels` over the whole
   dataset (k=10). Precision and recall of the top 5% flagged against the flipped set.
2. Near-duplicates: the same 2,000 plus planted copies (1 to 3 noisy copies of 100 random items,
   copy = normalize(v + s * N(0, 1/d))); `find_duplicates` at threshold 0.98. Recall: planted
   pairs (item, copy) that land in one group; groups found that hold anything else are counted.
3. Scale: `--rows` synthetic vectors clustered like CLIP (bench/data.py), 1% of them planted copies:
   the time of each audit end to end (read from chDB, compute, store) and the process's peak RSS.
All through the service functions on a temp chDB, as the CLI runs them (no time budget).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
import uuid

import numpy as np

from bench.report import SHARED_DATA, machine, table, write_section

FLIP = 0.05


def food():
    data = np.load(SHARED_DATA / "food10_clip_vitb32_train.npz")
    X = data["vectors"].astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    classes = [str(c) for c in data["classes"]]
    return X, [classes[i] for i in data["labels"]], classes


def flip(labels, classes, seed):
    rng = np.random.default_rng(seed)
    out = list(labels)
    picks = rng.choice(len(out), size=int(FLIP * len(out)), replace=False)
    for i in picks:
        out[i] = str(rng.choice([c for c in classes if c != out[i]]))
    return out, set(picks.tolist())


def plant(X, originals, noise, seed, most=3):
    """Noisy copies of `originals` rows: (all vectors, planted pairs (original, copy))."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    copies, pairs = [], []
    for o in originals:
        for _ in range(int(rng.integers(1, most + 1))):
            v = X[o] + noise / np.sqrt(d) * rng.normal(size=d)
            pairs.append((int(o), len(X) + len(copies)))
            copies.append(v / np.linalg.norm(v))
    return np.concatenate([X, np.asarray(copies, np.float32)]), pairs


def load(store, name, X, labels=None):
    from vectrain.loaders.writer import DatasetWriter

    ids = [f"r{i:07d}" for i in range(len(X))]
    writer = DatasetWriter(store, name, X.shape[1], "features", total=len(ids), progress=False)
    for start in range(0, len(ids), 50_000):
        part = slice(start, start + 50_000)
        writer.write(ids=ids[part], vectors=X[part], labels=None if labels is None else labels[part], normalized=True)
    writer.finish(build_index=False)
    return ids


def score_duplicates(out, ids, pairs, planted_rows):
    group_of = {item: g for g, group in enumerate(out["groups"]) for item in group}
    found = sum(1 for a, b in pairs if ids[a] in group_of and group_of.get(ids[a]) == group_of.get(ids[b]))
    planted_ids = {ids[i] for i in planted_rows}
    foreign = sum(1 for g in out["groups"] if any(i not in planted_ids for i in g))
    return found / len(pairs), foreign


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    from bench.data import synthetic_clip
    from vectrain.core.config import Settings
    from vectrain.quality.dataset_audit import audit_labels, find_duplicates
    from vectrain.storage.store import Store

    path = tempfile.mkdtemp(prefix="vectrain_audit_")
    store = Store(
        Settings(database_url=f"chdb://{path}", database=f"aud_{uuid.uuid4().hex[:8]}"), owner="bench.dataset_audit"
    )
    store.migrate()
    started = time.perf_counter()
    X, labels, classes = food()
    label_rows, dup_rows, scale_rows = [], [], []
    try:
        for seed in args.seeds:
            noisy, flips = flip(labels, classes, seed)
            ids = load(store, f"food_flip{seed}", X, noisy)
            top = len(flips)  # the top 5%
            for k in (5, 10, 20):
                out = audit_labels(store, f"food_flip{seed}", k=k, limit=top)
                flagged = {ids.index(x["id"]) for x in out["items"]}
                hit = len(flagged & flips)
                label_rows.append(
                    [seed, k, top, out["flagged"], hit / max(len(flagged), 1), hit / len(flips), out["seconds"]]
                )
                print(
                    f"labels seed {seed} k {k}: precision {hit / max(len(flagged), 1):.3f} recall "
                    f"{hit / len(flips):.3f}",
                    file=sys.stderr,
                    flush=True,
                )
            for noise in (0.1, 0.15):
                rng = np.random.default_rng(100 + seed)
                originals = rng.choice(len(X), size=100, replace=False)
                V, pairs = plant(X, originals, noise, seed)
                name = f"food_dup{seed}_{int(noise * 100)}"
                ids = load(store, name, V)
                out = find_duplicates(store, name, threshold=0.98, limit=10_000)
                recall, foreign = score_duplicates(out, ids, pairs, {i for p in pairs for i in p})
                sims = [float(V[a] @ V[b]) for a, b in pairs]
                dup_rows.append(
                    [seed, noise, len(pairs), f"{min(sims):.4f}", out["count"], recall, foreign, out["seconds"]]
                )
                print(
                    f"duplicates seed {seed} noise {noise}: recall {recall:.4f}, {foreign} groups with others",
                    file=sys.stderr,
                    flush=True,
                )
        # Scale: synthetic rows + 1% planted copies.
        n = args.rows
        base = np.concatenate([v for _, v in synthetic_clip(n - n // 100, seed=7)])
        rng = np.random.default_rng(7)
        V, pairs = plant(base, rng.choice(len(base), size=n - len(base), replace=False), 0.1, 7, most=1)
        # Labels for the label audit: which of 20 random directions a row is nearest (a partition).
        directions = rng.normal(size=(20, V.shape[1])).astype(np.float32)
        classes_of = np.argmax(V @ directions.T, axis=1)
        t0 = time.perf_counter()
        ids = load(store, "synthetic", V, [f"k{c}" for c in classes_of])
        load_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = find_duplicates(store, "synthetic", threshold=0.98, limit=10)
        dup_seconds = time.perf_counter() - t0
        recall, _ = score_duplicates(
            {"groups": _all_groups(store, "synthetic", out["run_at"])}, ids, pairs, {i for p in pairs for i in p}
        )
        rss_dup = peak_rss_mb()
        t0 = time.perf_counter()
        lab = audit_labels(store, "synthetic", k=10, limit=10)
        lab_seconds = time.perf_counter() - t0
        scale_rows = [
            [
                "duplicates (threshold 0.98)",
                n,
                dup_seconds,
                f"{out['pairs']:,} pairs, {out['count']:,} groups; planted pairs found {recall:.4f}",
                rss_dup,
            ],
            ["label audit (k=10)", n, lab_seconds, f"{lab['flagged']:,} flagged", peak_rss_mb()],
        ]
        print(
            f"scale {n}: duplicates {dup_seconds:.1f} s (recall {recall:.4f}), labels {lab_seconds:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    finally:
        store.close()
        shutil.rmtree(path, ignore_errors=True)
    seconds = time.perf_counter() - started

    def mean_by_k(k, col):
        return float(np.mean([r[col] for r in label_rows if r[1] == k]))

    label_summary = [[k, mean_by_k(k, 4), mean_by_k(k, 5), mean_by_k(k, 6)] for k in (5, 10, 20)]
    dup_summary = [
        [noise, float(np.mean([r[5] for r in dup_rows if r[1] == noise])), sum(r[6] for r in dup_rows if r[1] == noise)]
        for noise in (0.1, 0.15)
    ]
    text = (
        "## Label errors and near-duplicates over a whole dataset (`bench/dataset_audit.py`)\n\n"
        f"{machine()}; {seconds:.0f} s in all. Command: `.venv/bin/python -m bench.dataset_audit --seeds "
        f"{' '.join(map(str, args.seeds))} --rows {args.rows}`\n\n"
        f"**Label errors.** The 2,000 Food-101 CLIP embeddings with {FLIP:.0%} of their labels flipped at random "
        f"to another class (one flip set per seed, {len(args.seeds)} seeds); the audit over the whole dataset; "
        "precision and recall of the top 5% (100 items) against the flipped set, mean over seeds:\n\n"
        + table(["k", "precision @ top 5%", "recall @ top 5%", "seconds"], label_summary)
        + "\n\nPer seed:\n\n"
        + table(["seed", "k", "top", "flagged in all", "precision", "recall", "seconds"], label_rows)
        + "\n\n**Near-duplicates.** The same 2,000 plus 1-3 noisy copies of 100 random items "
        "(copy = normalize(v + s N(0, 1/d))), threshold 0.98. Recall: planted (item, copy) pairs found in "
        "one group; `groups with others`: groups holding an item that is neither a planted item nor its copy "
        "(real near-duplicates in Food-101, or a chain):\n\n"
        + table(["noise s", "recall (mean over seeds)", "groups with others (all seeds)"], dup_summary)
        + "\n\nPer seed:\n\n"
        + table(
            [
                "seed",
                "noise s",
                "planted pairs",
                "lowest planted similarity",
                "groups",
                "recall",
                "groups with others",
                "seconds",
            ],
            dup_rows,
        )
        + f"\n\n**Scale.** {args.rows:,} synthetic 512-d vectors clustered like CLIP (bench/data.py, around the "
        f"3,000 real embeddings) including 1% planted copies (s = 0.1), loaded into chDB in {load_seconds:.0f} s; "
        "each audit end to end (read the rows from chDB, compute, store the results); peak RSS of the whole "
        "process (chDB included) after each:\n\n"
        + table(["audit", "rows", "seconds", "found", "peak RSS MB"], scale_rows)
        + "\n\nThe label audit's labels here are which of 20 random directions a row is nearest: a partition that "
        "cuts through the clusters, so many rows disagree with their neighbours; that row is about time. "
        "Every pair is compared exactly (n^2/2 dot products) by blocked matrix products on the CPU: "
        "the time grows with the square of the rows. Through the API an audit stops at the synchronous time "
        "budget (VECTRAIN_BATCH_TIME_BUDGET, 30 s) and points at the CLI, which has none."
    )
    print(text)
    if not args.no_write:
        write_section("dataset_audit", text)


def _all_groups(store, dataset, run_at):
    """Every group of a stored run (the response holds only the largest)."""
    import datetime as dt

    from vectrain.storage.query import Query

    rows = store.rows(
        Query.named(
            "dataset_audit.duplicate_groups", dataset=dataset, run_at=dt.datetime.fromisoformat(run_at), limit=10**9
        )
    )
    return [r["ids"] for r in rows]


if __name__ == "__main__":
    main()
