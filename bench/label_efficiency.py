"""Label efficiency: F1 after 0, 20, 50, 100 labels for each next-batch strategy x training mode.

    .venv/bin/python -m bench.label_efficiency [--seeds 0 1] [--path /tmp/vectrain_bench_le]

Real CLIP ViT-B/32 embeddings (../shared/data): 2,000 Food-101 images in 10 classes. Each
class starts from its ImageNet prompt embedding ("pizza, pizza pie" -> pizza, ...). Per split
seed, 20% of the images are held out (stratified) and never enter the database; the other 80%
are loaded through the real DatasetWriter into a temp chDB. Every round goes through the
service code: sessions.next_batch (SQL with NOT IN on the labels table) -> oracle labels from
the ground truth -> sessions.add_labels -> sessions.train_round. The held-out F1 uses the
round's weights, bias and the threshold the service calibrated from the labeled set only.
Ceiling: logistic regression on all 1,600 training labels, its threshold chosen by 5-fold
cross-validation on the training set.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid

import numpy as np

from bench.report import PLOTS, SHARED_DATA, machine, table, write_section

CLASSES = {
    "pizza": "pizza, pizza pie",
    "hamburger": "cheeseburger",
    "guacamole": "guacamole",
    "ice_cream": "ice cream, icecream",
}
STRATEGIES = ("mixed", "top", "boundary", "random")
MODES = ("auto", "seed")
CHECKPOINTS = (0, 20, 50, 100)
BATCH = 10


def f1(pred, truth) -> float:
    d = pred.sum() + truth.sum()
    return float(2 * np.sum(pred & truth) / d) if d else 0.0


def load_data():
    food = np.load(SHARED_DATA / "food10_clip_vitb32_train.npz")
    prompts = np.load(SHARED_DATA / "imagenet_prompts_clip_vitb32.npz")
    X = food["vectors"].astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    classes = [str(c) for c in food["classes"]]
    y = np.array([classes[i] for i in food["labels"]])
    names = [str(n) for n in prompts["names"]]
    P = {c: prompts["vectors"][names.index(p)].astype(np.float32) for c, p in CLASSES.items()}
    return X, y, P


def split(y, seed):
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test[rng.choice(idx, size=len(idx) // 5, replace=False)] = True
    return ~test, test


def load_split(store, X, y, seed):
    """The split's train part loaded as dataset food_s<seed> through the real writer; returns the
    train and test masks, the dataset's name and its ids."""
    from vectrain.loaders.writer import DatasetWriter

    tr, te = split(y, seed)
    dataset = f"food_s{seed}"
    ids = [f"f{i:04d}" for i in np.flatnonzero(tr)]
    writer = DatasetWriter(store, dataset, 512, "features", total=len(ids), progress=False)
    writer.write(ids=ids, vectors=X[tr], labels=list(y[tr]))
    writer.finish()
    return tr, te, dataset, ids


def ceiling(Xtr, ytr, Xte, yte) -> float:
    from sklearn.linear_model import LogisticRegression

    from vectrain.labeling.training import best_threshold

    # A strict ceiling: all 1,600 training labels, and the threshold that is best ON THE HELD-OUT
    # set (it peeks; the sessions never do), so the gap below is an upper bound on the true gap.
    clf = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000).fit(Xtr, ytr)
    _, best = best_threshold(clf.decision_function(Xte), yte)
    return best


def run(store, dataset, ids, ytr_names, Xte, yte_names, P, cls, strategy, mode, seed) -> dict[int, float]:
    from vectrain.labeling import labels, publish, sessions

    truth = {i: n == cls for i, n in zip(ids, ytr_names)}
    positive_te = yte_names == cls
    s = sessions.create_session(store, dataset, f"le_{uuid.uuid4().hex[:10]}", vector=P[cls].tolist())
    curve = {}

    def score():
        w = publish.export_weights(store, s["id"])
        return f1(Xte @ np.asarray(w["weights"]) + w["bias"] > w["threshold"], positive_te)

    curve[0] = score()
    labeled = 0
    while labeled < max(CHECKPOINTS):
        items = sessions.next_batch(store, s["id"], BATCH, strategy)["items"]
        assert len(items) == BATCH
        labels.add_labels(
            store, s["id"], [{"item_id": it["id"], "score": 1.0 if truth[it["id"]] else -1.0} for it in items]
        )
        labeled += BATCH
        sessions.train_round(store, s["id"], mode)
        curve[labeled] = score()
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--path", default=None, help="chDB data path (default: a new temp dir, removed after)")
    ap.add_argument("--classes", nargs="+", default=list(CLASSES), choices=list(CLASSES))
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument(
        "--combos",
        nargs="+",
        default=None,
        metavar="STRATEGY+MODE",
        help="run only these pairs, e.g. mixed+auto top+seed (default: every pair)",
    )
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()

    from vectrain.core.config import Settings
    from vectrain.storage.store import Store

    X, y, P = load_data()
    pairs = (
        [tuple(c.split("+")) for c in args.combos]
        if args.combos
        else [(s, m) for s in args.strategies for m in args.modes]
    )
    args.strategies = [s for s in STRATEGIES if any(p[0] == s for p in pairs)]
    args.modes = [m for m in MODES if any(p[1] == m for p in pairs)]
    path = args.path or tempfile.mkdtemp(prefix="vectrain_le_")
    store = Store(
        Settings(database_url=f"chdb://{path}", database=f"le_{uuid.uuid4().hex[:8]}"), owner="bench.label_efficiency"
    )
    store.migrate()
    started = time.perf_counter()
    results = {}  # (cls, strategy, mode) -> list of curves (one per seed)
    ceilings = {c: [] for c in args.classes}
    zero_oracle = {c: [] for c in args.classes}
    try:
        for seed in args.seeds:
            tr, te, dataset, ids = load_split(store, X, y, seed)
            for cls in args.classes:
                ceilings[cls].append(ceiling(X[tr], y[tr] == cls, X[te], y[te] == cls))
                from vectrain.labeling.training import best_threshold

                zt, _ = best_threshold(X[te] @ P[cls], y[te] == cls)
                zero_oracle[cls].append(f1(X[te] @ P[cls] > zt, y[te] == cls))
                for strategy, mode in pairs:
                    if True:
                        curve = run(store, dataset, ids, y[tr], X[te], y[te], P, cls, strategy, mode, seed)
                        results.setdefault((cls, strategy, mode), []).append(curve)
                        print(
                            f"seed {seed} {cls:10s} {strategy:8s} {mode:5s} "
                            + " ".join(f"{n}:{curve[n]:.3f}" for n in CHECKPOINTS),
                            file=sys.stderr,
                            flush=True,
                        )
    finally:
        store.close()
        if args.path is None:
            shutil.rmtree(path, ignore_errors=True)
    seconds = time.perf_counter() - started

    def mean_curve(key):
        curves = results[key]
        return {n: float(np.mean([c[n] for c in curves])) for n in curves[0]}

    rows = []
    for cls in args.classes:
        for strategy, mode in pairs:
            if True:
                m = mean_curve((cls, strategy, mode))
                rows.append(
                    [cls, strategy, mode]
                    + [m[n] for n in CHECKPOINTS]
                    + [float(np.mean(ceilings[cls])), m[100] - float(np.mean(ceilings[cls]))]
                )
    verdict = []
    for cls in args.classes:
        if ("mixed", "auto") not in pairs:
            break
        d = mean_curve((cls, "mixed", "auto"))
        ceil = float(np.mean(ceilings[cls]))
        others = {f"{s}+{m}": mean_curve((cls, s, m))[100] for s, m in pairs if (s, m) != ("mixed", "auto")}
        verdict.append(
            [
                cls,
                d[0],
                d[100],
                ceil,
                ceil - d[100],
                "yes" if ceil - d[100] <= 0.03 else "NO",
                "yes" if min(d[n] for n in CHECKPOINTS) >= d[0] - 1e-9 else "NO",
                "yes" if d[100] > others.get("top+seed", -1) else "NO",
                "yes" if all(d[100] > v for k, v in others.items() if k.startswith("random")) else "NO",
                float(np.mean(zero_oracle[cls])),
            ]
        )
    args.pairs = pairs
    plot = PLOTS / "label_efficiency.png"
    _plot(results, ceilings, args, plot)
    text = (
        f"Food-101 CLIP ViT-B/32 embeddings (../shared/data), {machine()}; split seeds {args.seeds} "
        f"(mean over seeds); 80% of each class in the database, 20% held out. Start: the ImageNet prompt "
        f"embedding; {BATCH} labels per round from the oracle, one training round after each; threshold from "
        f"the labeled set only (round 0: Otsu's split of the dataset's scores, no labels). Ceiling: logistic "
        f"regression (C=10, balanced) on all training labels with the threshold that is best on the held-out "
        f"set itself (it peeks, so the gaps are upper bounds). {seconds:.0f} s in all.\n\n"
        "Default (auto + mixed) against the targets:\n\n"
        + table(
            [
                "class",
                "F1 @0",
                "F1 @100",
                "ceiling",
                "gap",
                "gap <= 0.03",
                "never below start",
                "beats seed loop",
                "beats random",
                "zero-shot, oracle threshold",
            ],
            verdict,
        )
        + "\n\nAll strategies x modes (held-out F1 after n labels):\n\n"
        + table(["class", "strategy", "mode"] + [f"@{n}" for n in CHECKPOINTS] + ["ceiling", "@100 - ceiling"], rows)
        + f"\n\n![learning curves](bench/plots/{plot.name})\n\n"
        f"Command: `.venv/bin/python -m bench.label_efficiency --seeds {' '.join(map(str, args.seeds))}"
        + (f" --combos {' '.join(args.combos)}" if args.combos else "")
        + "`"
    )
    print(text)
    if not args.no_write:
        write_section("label_efficiency", text)
    (PLOTS / "label_efficiency.json").write_text(
        json.dumps({f"{c}|{s}|{m}": v for (c, s, m), v in results.items()} | {"ceilings": ceilings}, indent=1)
    )


def _plot(results, ceilings, args, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(args.classes), figsize=(4.2 * len(args.classes), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, cls in zip(axes, args.classes):
        for strategy, mode in args.pairs:
            if True:
                curves = results[(cls, strategy, mode)]
                xs = sorted(curves[0])
                ys = [np.mean([c[n] for c in curves]) for n in xs]
                style = "-" if mode == "auto" else "--"
                lw = 2.5 if (strategy, mode) == ("mixed", "auto") else 1.2
                ax.plot(xs, ys, style, lw=lw, label=f"{strategy}+{mode}")
        ax.axhline(np.mean(ceilings[cls]), color="k", lw=1, ls=":", label="ceiling (all labels)")
        ax.set_title(cls)
        ax.set_xlabel("labels")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("held-out F1")
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
