"""Label efficiency: vectrain's loop against uncertainty sampling, held-out F1 at 10-100 labels.

    .venv/bin/python -m bench.label_efficiency                       # split seeds 20-29, 6 concepts
    .venv/bin/python -m bench.label_efficiency --seeds 20 21 --concepts pizza guacamole --no-write

Real CLIP ViT-B/32 embeddings (../shared/data): 2,000 Food-101 images in 10 classes, 200 each.
Per split seed, 20% of each class is held out and never enters the database; the other 80% (the
pool, 1,600 rows) is loaded through the real DatasetWriter into a temp chDB. Per concept (that
class against the rest, 160 positives in the pool), each method labels 10 pool rows a round from
the oracle, starting from the concept's ImageNet prompt embedding, and is scored on the held-out
20% with its own threshold after 10, 20, 30, 50 and 100 labels. No method sees held-out data.

- vectrain (each strategy; the default is mixed): every round through the service code,
  sessions.next_batch (range reads of the scored round, NOT IN the labels) -> labels.add_labels ->
  sessions.train_round (`auto`); the held-out F1 of the round's weights, bias and threshold.
- the seeds' loop: `top` with `seed` training.
- uncertainty sampling, in the same run from the same start: 5 nearest the prompt and 5 at
  random until both classes are labeled, then the 10 unlabeled rows with probability nearest 0.5
  under LogisticRegression(C=100, class_weight='balanced') refit on all labels; predictions by
  its own 0.5 (while one class is labeled: the prompt with Otsu's threshold, as vectrain's).
- the ceiling: the same logistic regression on all 1,600 pool labels (C=100 and C=10).

The quality number each round reports (its F1 over the dataset, estimated from its labels) is
compared with the true held-out F1 at every checkpoint, with its interval's coverage. The loop's
constants were chosen on split seeds 0-19; the figures reported here are seeds 20-29.
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

CONCEPTS = {  # class -> its ImageNet prompt (Food-101 has no class of ImageNet's for tacos, apple pie)
    "pizza": "pizza, pizza pie",
    "hamburger": "cheeseburger",
    "guacamole": "guacamole",
    "ice_cream": "ice cream, icecream",
    "tacos": "burrito",
    "apple_pie": "potpie",
}
STRATEGIES = ("mixed", "boundary", "top", "random")
METHODS = (*STRATEGIES, "seeds", "uncertainty")
CHECK = (10, 20, 30, 50, 100)
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
    P = {}
    for c, p in CONCEPTS.items():
        v = prompts["vectors"][names.index(p)].astype(np.float32)
        P[c] = v / np.linalg.norm(v)
    return X, y, P


def split(y, seed):
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test[rng.choice(idx, size=len(idx) // 5, replace=False)] = True
    return ~test, test


def otsu_threshold(z) -> float:
    from vectrain.labeling.training import otsu_threshold as otsu

    values, counts = np.unique(np.round(np.asarray(z, np.float64), 3), return_counts=True)
    return otsu(values, counts)


def run_vectrain(store, dataset, ids, truth, Xp, yp, Xt, yt, prompt, strategy, mode) -> dict:
    """One session: the held-out F1, the quality number and the labels' CV F1 at each checkpoint."""
    from vectrain.labeling import labels, rounds, sessions

    s = sessions.create_session(store, dataset, f"le_{uuid.uuid4().hex[:10]}", vector=prompt.tolist())
    out, sources, positives = {}, [], 0
    for n in range(BATCH, max(CHECK) + 1, BATCH):
        batch = sessions.next_batch(store, s["id"], BATCH, strategy)
        assert len(batch["items"]) == BATCH, batch
        # every round is scored before the next batch (the store waits for it): the loop as designed
        assert batch["scored_round"] in (None, batch["round"]), batch["source"]
        sources.append(batch["source"].split(":")[0])
        marks = [{"item_id": it["id"], "score": 1.0 if truth[it["id"]] else -1.0} for it in batch["items"]]
        positives += sum(m["score"] > 0 for m in marks)
        labels.add_labels(store, s["id"], marks)
        r = sessions.train_round(store, s["id"], mode)
        if n in CHECK:
            w = np.asarray(rounds.get_round(store, s["id"], r["round"])["weights"], dtype=np.float64)
            q = r["metrics"].get("quality") or {}
            out[n] = {
                "f1": f1(Xt @ w + r["bias"] > r["threshold"], yt),
                # what the quality number estimates: the round's F1 over the pool it labels from
                "pool_f1": f1(Xp @ w + r["bias"] > r["threshold"], yp),
                "quality": q.get("f1"),
                "low": q.get("f1_low"),
                "high": q.get("f1_high"),
                "message": q.get("message"),
                "labels_cv_f1": r["metrics"].get("labels_cv_f1"),
                "positives": positives,
                "train_s": r["metrics"].get("seconds"),
            }
    return {"checks": out, "sources": sources}


def run_uncertainty(Xp, yp, Xt, yt, prompt, seed) -> dict:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(20_000 + seed)
    unlabeled = np.ones(len(Xp), bool)
    chosen: list[int] = []
    cos = Xp @ prompt
    clf, out = None, {}
    for n in range(BATCH, max(CHECK) + 1, BATCH):
        idx = np.flatnonzero(unlabeled)
        if clf is None:
            near = idx[np.argsort(-cos[idx], kind="stable")[:5]]
            batch = np.concatenate([near, rng.choice(np.setdiff1d(idx, near), BATCH - 5, replace=False)])
        else:
            p = clf.predict_proba(Xp[idx])[:, 1]
            batch = idx[np.argsort(np.abs(p - 0.5), kind="stable")[:BATCH]]
        unlabeled[batch] = False
        chosen += [int(i) for i in batch]
        yl = yp[chosen]
        if yl.any() and (~yl).any():
            clf = LogisticRegression(C=100.0, class_weight="balanced", max_iter=5000).fit(Xp[chosen], yl)
            pred = clf.predict(Xt).astype(bool)
        else:
            clf = None
            pred = Xt @ prompt > otsu_threshold(Xp @ prompt)
        if n in CHECK:
            out[n] = {"f1": f1(pred, yt), "positives": int(yl.sum())}
    return {"checks": out}


def ceiling(Xp, yp, Xt, yt, C) -> float:
    from sklearn.linear_model import LogisticRegression

    return f1(LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(Xp, yp).predict(Xt).astype(bool), yt)


def measure(args) -> list[dict]:
    from vectrain.core.config import Settings
    from vectrain.loaders.writer import DatasetWriter
    from vectrain.storage.store import Store

    X, y, P = load_data()
    path = args.path or tempfile.mkdtemp(prefix="vectrain_le_")
    # Each round waits for its scoring (on a busy machine 1,600 rows can take over the default
    # second), so the batches are the loop's whatever the load.
    settings = Settings(database_url=f"chdb://{path}", database=f"le_{uuid.uuid4().hex[:8]}", session_score_wait=600)
    store = Store(settings, owner="bench.label_efficiency")
    store.migrate()
    results = []
    try:
        for seed in args.seeds:
            tr, te = split(y, seed)
            dataset, ids = f"food_s{seed}", [f"f{i:04d}" for i in np.flatnonzero(tr)]
            writer = DatasetWriter(store, dataset, 512, "features", total=len(ids), progress=False)
            writer.write(ids=ids, vectors=X[tr], labels=list(y[tr]))
            writer.finish()
            Xp, Xt = X[tr].astype(np.float64), X[te].astype(np.float64)
            for concept in args.concepts:
                yp, yt, prompt = y[tr] == concept, y[te] == concept, P[concept].astype(np.float64)
                truth = dict(zip(ids, yp))
                r = {"seed": seed, "concept": concept, "runs": {}}
                r["ceiling"] = {f"C={c:g}": ceiling(Xp, yp, Xt, yt, c) for c in (100.0, 10.0)}
                r["prompt"] = f1(Xt @ prompt > otsu_threshold(Xp @ prompt), yt)
                for method in args.methods:
                    started = time.perf_counter()
                    if method == "uncertainty":
                        run = run_uncertainty(Xp, yp, Xt, yt, prompt, seed)
                    else:
                        strategy, mode = ("top", "seed") if method == "seeds" else (method, "auto")
                        run = run_vectrain(store, dataset, ids, truth, Xp, yp, Xt, yt, prompt, strategy, mode)
                    r["runs"][method] = run
                    print(
                        f"seed {seed} {concept:10s} {method:11s} "
                        + " ".join(f"{n}:{run['checks'][n]['f1']:.3f}" for n in CHECK)
                        + f"  ({time.perf_counter() - started:.1f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
                results.append(r)
    finally:
        store.close()
        if args.path is None:
            shutil.rmtree(path, ignore_errors=True)
    return results


def mean_se(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def cell(values, signed=False) -> str:
    m, se = mean_se(values)
    return f"{m:+.3f} ± {se:.3f}" if signed else f"{m:.3f} ± {se:.3f}"


def report(results: list[dict], args, seconds: float) -> str:
    methods = [m for m in METHODS if m in args.methods]
    names = {"mixed": "vectrain default (mixed)", "seeds": "the seeds' loop (top + seed)", "uncertainty": "uncertainty"}

    def at(method, n, key="f1"):
        return [r["runs"][method]["checks"][n][key] for r in results]

    rows = [[names.get(m, f"vectrain {m}")] + [cell(at(m, n)) for n in CHECK] for m in methods]
    for c in ("C=100", "C=10"):
        ceil = cell([r["ceiling"][c] for r in results])
        rows.append([f"ceiling: LR {c}, balanced, all 1,600 pool labels"] + [ceil] * len(CHECK))
    rows.append(["the prompt alone (Otsu's threshold)"] + [cell([r["prompt"] for r in results])] * len(CHECK))
    text = [
        f"Food-101 CLIP ViT-B/32 embeddings (../shared/data), {machine()}: {len(args.concepts)} concepts "
        f"({', '.join(args.concepts)}) x split seeds {args.seeds[0]}-{args.seeds[-1]} ({len(results)} runs of each "
        f"method). Each split: 80% of each class in the database (1,600 rows), 20% held out; every method starts "
        f"from the concept's ImageNet prompt embedding and labels {BATCH} rows a round from the oracle. Held-out F1, "
        f"mean ± standard error over concepts and splits. The loop's constants were chosen on split seeds 0-19 "
        f"(never these). {seconds:.0f} s in all.",
        "",
        table(["method"] + [f"F1 @{n}" for n in CHECK], rows),
    ]
    if "uncertainty" in methods:
        diffs = [
            [f"{names.get(m, m)} − uncertainty"]
            + [cell(np.subtract(at(m, n), at("uncertainty", n)), signed=True) for n in CHECK]
            for m in methods
            if m != "uncertainty"
        ]
        text += ["", "Paired difference with uncertainty sampling (same concept and split):", ""]
        text.append(table(["method"] + [f"Δ @{n}" for n in CHECK], diffs))
    text += ["", quality_report(results, [m for m in methods if m != "uncertainty"], names)]
    text += ["", verdict(results, methods, at)]
    text += ["", details(results, methods, names)]
    text += [
        "",
        "![learning curves](bench/plots/label_efficiency.png)",
        "",
        f"Command: `.venv/bin/python -m bench.label_efficiency --seeds {' '.join(map(str, args.seeds))}"
        + ("" if list(args.concepts) == list(CONCEPTS) else f" --concepts {' '.join(args.concepts)}")
        + "`",
    ]
    return "\n".join(text)


def quality_report(results, methods, names) -> str:
    rows = []
    for m in methods:
        cells = []
        for n in CHECK:
            checks = [r["runs"][m]["checks"][n] for r in results]
            judged = [c for c in checks if c["quality"] is not None]
            if not judged:
                cells.append(f"— (0 of {len(checks)})")
                continue
            err = np.array([c["quality"] - c["f1"] for c in judged])
            held = np.mean([c["low"] <= c["f1"] <= c["high"] for c in judged])
            pool = np.mean([c["low"] <= c["pool_f1"] <= c["high"] for c in judged])
            cells.append(
                f"{err.mean():+.3f} ± {err.std(ddof=1) / np.sqrt(len(err)) if len(err) > 1 else 0:.3f}, "
                f"MAE {np.abs(err).mean():.3f}, interval {held:.0%} / {pool:.0%} ({len(judged)} of {len(checks)})"
            )
        rows.append([names.get(m, f"vectrain {m}")] + cells)
    cv = []
    for n in CHECK:
        checks = [r["runs"]["mixed"]["checks"][n] for r in results] if "mixed" in methods else []
        err = [c["labels_cv_f1"] - c["f1"] for c in checks if c["labels_cv_f1"] is not None]
        cv.append(f"{np.mean(err):+.3f}, MAE {np.mean(np.abs(err)):.3f} ({len(err)})" if err else "—")
    return (
        "The quality number a round reports (its F1 over the dataset, estimated from its labels) against the true "
        "held-out F1: mean error (estimate − truth) ± s.e., mean absolute error, how often the 95% interval held "
        "the held-out F1 / the round's true F1 over the pool it estimates (the held-out F1, on 400 items, has a "
        "sampling spread of its own), and in how many runs a number was given (withheld below 5 labels of a "
        "class):\n\n"
        + table(["method"] + [f"@{n}" for n in CHECK], rows)
        + "\n\nFor comparison, the cross-validated F1 of the labels themselves (`labels_cv_f1`, default loop): "
        + "; ".join(f"@{n} {c}" for n, c in zip(CHECK, cv))
        + "."
    )


def verdict(results, methods, at) -> str:
    lines = ["Acceptance:"]
    if "mixed" in methods and "uncertainty" in methods:
        for n in (10, 20, 50, 100):
            d, u = np.mean(at("mixed", n)), np.mean(at("uncertainty", n))
            lines.append(
                f"- @{n}: default {d:.3f}, uncertainty {u:.3f}: "
                + ("ahead" if d > u else "not ahead")
                + ("" if n == 10 else f", {'≥' if d >= u - 0.01 else 'below'} uncertainty − 0.01")
            )
    for m in [m for m in methods if m in STRATEGIES]:
        a, b = np.mean(at(m, 20)), np.mean(at(m, 100))
        lines.append(f"- {m}: F1 @100 {b:.3f} {'>' if b > a else '<='} F1 @20 {a:.3f}")
    if "mixed" in methods:
        err = [c["quality"] - c["f1"] for r in results for c in [r["runs"]["mixed"]["checks"][20]] if c["quality"]]
        if err:
            lines.append(f"- default's quality number @20: mean error {np.mean(err):+.3f} (limit ±0.05)")
    return "\n".join(lines)


def details(results, methods, names) -> str:
    rows = []
    for m in methods:
        pos = [np.mean([r["runs"][m]["checks"][n]["positives"] for r in results]) for n in CHECK]
        sources = {}
        for r in results:
            for s in r["runs"][m].get("sources", []):
                sources[s] = sources.get(s, 0) + 1
        train = [r["runs"][m]["checks"][100].get("train_s") for r in results]
        train = [t for t in train if t is not None]
        rows.append(
            [
                names.get(m, f"vectrain {m}"),
                " / ".join(f"{p:.1f}" for p in pos),
                ", ".join(f"{k} {v}" for k, v in sorted(sources.items())) or "",
                f"{1000 * np.median(train):.0f}" if train else "",
            ]
        )
    return (
        "Positives among the labels (mean, @10 / 20 / 30 / 50 / 100), the batches' sources, and a round's fit:\n\n"
        + table(["method", "positives labeled", "batch sources (rounds)", "fit at 100 labels, median ms"], rows)
    )


def plot(results, args, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    for m in [m for m in METHODS if m in args.methods]:
        ys = [np.mean([r["runs"][m]["checks"][n]["f1"] for r in results]) for n in CHECK]
        style = {"mixed": ("-", 2.5), "uncertainty": ("--", 2.0)}.get(m, ("-", 1.2))
        ax.plot(CHECK, ys, style[0], lw=style[1], marker="o", ms=3, label={"mixed": "default (mixed)"}.get(m, m))
    ax.axhline(np.mean([r["ceiling"]["C=100"] for r in results]), color="k", lw=1, ls=":", label="ceiling (all labels)")
    ax.set(xlabel="labels", ylabel="held-out F1 (mean)", title="Food-101, CLIP ViT-B/32")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    if "mixed" in args.methods:
        for n, color in zip(CHECK, plt.cm.viridis(np.linspace(0, 0.9, len(CHECK)))):
            pts = [r["runs"]["mixed"]["checks"][n] for r in results]
            pts = [p for p in pts if p["quality"] is not None]
            bx.scatter([p["f1"] for p in pts], [p["quality"] for p in pts], s=8, color=color, label=f"@{n}")
        bx.plot([0, 1], [0, 1], "k:", lw=1)
        bx.set(
            xlabel="true held-out F1",
            ylabel="reported quality F1",
            title="default: the reported number",
            xlim=(0.4, 1),
            ylim=(0.4, 1),
        )
        bx.legend(fontsize=7)
        bx.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(20, 30)))
    ap.add_argument("--concepts", nargs="+", default=list(CONCEPTS), choices=list(CONCEPTS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--path", default=None, help="chDB data path (default: a new temp dir, removed after)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md and the plot alone")
    args = ap.parse_args()
    started = time.perf_counter()
    results = measure(args)
    text = report(results, args, time.perf_counter() - started)
    print(text)
    if not args.no_write:
        plot(results, args, PLOTS / "label_efficiency.png")
        (PLOTS / "label_efficiency.json").write_text(json.dumps(results, default=float))
        write_section("label_efficiency", "## Label efficiency (`bench/label_efficiency.py`)\n\n" + text)


if __name__ == "__main__":
    main()
