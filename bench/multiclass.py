"""Multi-class sessions on real CLIP embeddings: label efficiency against margin and random
sampling with a multinomial logistic regression, the full-supervision ceiling, and a label-set
start that is zero-shot at round 0.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.multiclass --seeds 0-19

Food-101 CLIP ViT-B/32 embeddings (../shared/data): 2,000 images in 10 classes. Every session
runs through the service code on the real embedded engine: sessions.create_session (2 oracle
examples per class, drawn per seed), then rounds of sessions.next_batch (k=10) -> oracle labels
-> labels.add_labels -> sessions.train_round, to 100 labels. Two settings per seed:

- all: the 2,000 items in the database; accuracy of the round's classifier over all of them
  (the acceptance criterion's measure);
- held-out: a stratified 80% in the database, accuracy on the 20% that never enter it.

Baselines in the same run, from the same start examples with the same batches of 10: scikit-learn's
multinomial LogisticRegression (C=100, the best of {1, 3, 10, 30, 100, 1000} for margin sampling
on tuning seeds 100-109, which are not reported) refit on all labels each round, with margin
sampling (smallest p1 - p2) or uniform random sampling. Ceiling: the same regression on every
label of the database's items (held-out: accuracy on the 20%; all: 5-fold cross-validated).

Label-set start: the 4 classes with an ImageNet prompt (guacamole, hamburger <- "cheeseburger",
ice_cream <- "ice cream, icecream", pizza <- "pizza, pizza pie"), 800 items, a label set of those
prompt embeddings; round 0 applied and compared with zero-shot's stored predictions item by item,
then 3 rounds of 10 oracle labels (default strategy), accuracy over the 800 items.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
import warnings

import numpy as np

from bench.report import SHARED_DATA, machine, table, write_section

K = 10
BUDGETS = list(range(20, 101, 10))
REPORTED = (20, 50, 100)
STRATEGIES = ("balanced", "margin", "top", "random")
LR_C = 100.0
PROMPTS = {
    "guacamole": "guacamole",
    "hamburger": "cheeseburger",
    "ice_cream": "ice cream, icecream",
    "pizza": "pizza, pizza pie",
}


def load():
    food = np.load(SHARED_DATA / "food10_clip_vitb32_train.npz")
    X = food["vectors"].astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    classes = [str(c) for c in food["classes"]]
    return X, food["labels"].astype(int), classes


def seeds_of(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",")]


def split(y, rng, test=0.2):
    held = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        held[rng.choice(idx, int(round(test * len(idx))), replace=False)] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def load_dataset(store, name, X, ids, labels):
    from vectrain.loaders.writer import DatasetWriter

    writer = DatasetWriter(store, name, X.shape[1], "features", total=len(ids), progress=False)
    writer.write(ids=list(ids), vectors=X, labels=list(labels))
    writer.finish()


def predict(weights: dict, X: np.ndarray) -> np.ndarray:
    """Class indices a round's weights give (the service's own scoring function)."""
    from vectrain.labeling.multiclass.training import score

    return score(
        X,
        np.asarray(weights["weights"], np.float32),
        np.asarray(weights["biases"], np.float32),
        np.asarray(weights["active"], bool),
    ).top


# -- the service's loop --------------------------------------------------------------------------
def service_run(store, dataset, ids, y, classes, start, strategy, X_eval, y_eval) -> dict[int, float]:
    from vectrain.labeling import labels, publish, sessions
    from vectrain.labeling.multiclass import scoring

    truth = dict(zip(ids, (classes[c] for c in y)))
    examples = {}
    for i in start:
        examples.setdefault(classes[y[i]], []).append(ids[i])
    s = sessions.create_session(store, dataset, f"mc_{uuid.uuid4().hex[:10]}", classes=classes, examples=examples)
    curve, n = {}, len(start)
    while True:
        if n in BUDGETS:
            curve[n] = float(np.mean(predict(publish.export_weights(store, s["id"]), X_eval) == y_eval))
        if n >= max(BUDGETS):
            break
        scoring.wait(store, s["id"])  # the batch comes from the round just trained, as in the baselines
        batch = sessions.next_batch(store, s["id"], K, strategy)
        assert len(batch["items"]) == K and batch["round"] == batch["scored_round"], batch
        labels.add_labels(store, s["id"], [{"item_id": it["id"], "class": truth[it["id"]]} for it in batch["items"]])
        sessions.train_round(store, s["id"])
        n += K
    return curve


# -- the baselines -------------------------------------------------------------------------------
def lr(X, y):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(C=LR_C, max_iter=2000).fit(X, y)


def baseline_run(X, y, start, strategy, rng, X_eval, y_eval) -> dict[int, float]:
    labeled = np.zeros(len(y), bool)
    labeled[start] = True
    order, curve = list(start), {}
    while True:
        model = lr(X[order], y[order])
        n = len(order)
        if n in BUDGETS:
            curve[n] = float(np.mean(model.predict(X_eval) == y_eval))
        if n >= max(BUDGETS):
            break
        free = np.flatnonzero(~labeled)
        if strategy == "random":
            pick = rng.choice(free, K, replace=False)
        else:
            p = np.sort(model.predict_proba(X[free]), axis=1)
            margin = p[:, -1] - p[:, -2]
            pick = free[np.lexsort((free, margin))[:K]]
        labeled[pick] = True
        order += list(pick)
    return curve


def ceiling(X_pool, y_pool, X_eval, y_eval, same: bool) -> float:
    if not same:
        return float(np.mean(lr(X_pool, y_pool).predict(X_eval) == y_eval))
    from sklearn.model_selection import StratifiedKFold

    right = 0
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(X_pool, y_pool):
        right += int(np.sum(lr(X_pool[tr], y_pool[tr]).predict(X_pool[te]) == y_pool[te]))
    return right / len(y_pool)


def food10(store, seeds: list[int]) -> dict:
    X, y, classes = load()
    ids = np.array([f"f{i:04d}" for i in range(len(y))])
    load_dataset(store, "food_all", X, ids, [classes[c] for c in y])
    results: dict = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for setting in ("all", "held-out"):
            if setting == "all":
                pool, held, dataset = np.arange(len(y)), np.arange(len(y)), "food_all"
            else:
                pool, held = split(y, rng)
                dataset = f"food_h{seed}"
                load_dataset(store, dataset, X[pool], ids[pool], [classes[c] for c in y[pool]])
            Xp, yp, idp = X[pool], y[pool], list(ids[pool])
            Xe, ye = X[held], y[held]
            start = np.concatenate([rng.choice(np.flatnonzero(yp == c), 2, replace=False) for c in range(len(classes))])
            out = results.setdefault(setting, {})
            for strategy in STRATEGIES:
                curve = service_run(store, dataset, idp, yp, classes, start, strategy, Xe, ye)
                out.setdefault(f"service {strategy}", []).append(curve)
            for strategy in ("random", "margin"):
                curve = baseline_run(Xp, yp, start, strategy, np.random.default_rng([seed, 7]), Xe, ye)
                out.setdefault(f"LR + {strategy}", []).append(curve)
            out.setdefault("ceiling", []).append({100: ceiling(Xp, yp, Xe, ye, setting == "all")})
            print(
                f"seed {seed} {setting}: " + " ".join(f"{k}={v[-1][100]:.4f}" for k, v in out.items()),
                file=sys.stderr,
                flush=True,
            )
    return results


# -- the label-set start -------------------------------------------------------------------------
def labelset_start(store, runs: int) -> dict:
    from vectrain.classify import labelsets, zeroshot
    from vectrain.labeling import labels, publish, sessions
    from vectrain.labeling.multiclass import scoring

    X, y, classes = load()
    prompts = np.load(SHARED_DATA / "imagenet_prompts_clip_vitb32.npz")
    names = [str(n) for n in prompts["names"]]
    four = list(PROMPTS)
    keep = np.isin(y, [classes.index(c) for c in four])
    X4 = X[keep]
    y4 = np.array([four.index(classes[c]) for c in y[keep]])
    ids = [f"g{i:04d}" for i in range(len(y4))]
    truth = dict(zip(ids, (four[c] for c in y4)))
    load_dataset(store, "food4", X4, ids, [four[c] for c in y4])
    vectors = np.stack([prompts["vectors"][names.index(PROMPTS[c])] for c in four]).astype(np.float32)
    labelsets.create(store, "food4_prompts", four, vectors=vectors)
    zs = {r["id"]: r["label"] for r in zeroshot.classify(store, "food4", "food4_prompts", limit=None)["items"]}
    assert len(zs) == len(ids)
    out = {"equal": [], "acc0": [], "acc30": []}
    for _ in range(runs):
        s = sessions.create_session(
            store, "food4", f"ls_{uuid.uuid4().hex[:10]}", classes=four, labelset="food4_prompts"
        )
        publish.apply(store, s["id"])
        preds = {}
        for offset in range(0, len(ids), 1000):
            page = publish.predictions(store, s["id"], offset, 1000)
            preds.update({p["id"]: p["class"] for p in page["items"]})
        out["equal"].append(sum(preds[i] == zs[i] for i in ids))
        out["acc0"].append(float(np.mean(predict(publish.export_weights(store, s["id"]), X4) == y4)))
        for _ in range(3):
            scoring.wait(store, s["id"])
            batch = sessions.next_batch(store, s["id"], K)
            labels.add_labels(store, s["id"], [{"item_id": i["id"], "class": truth[i["id"]]} for i in batch["items"]])
            sessions.train_round(store, s["id"])
        out["acc30"].append(float(np.mean(predict(publish.export_weights(store, s["id"]), X4) == y4)))
        print(
            f"label set: equal {out['equal'][-1]}/{len(ids)} acc0 {out['acc0'][-1]:.4f} acc30 {out['acc30'][-1]:.4f}",
            file=sys.stderr,
            flush=True,
        )
    out["items"] = len(ids)
    return out


# -- the report ----------------------------------------------------------------------------------
def mean_se(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.4f} ± {v.std(ddof=1) / np.sqrt(len(v)):.4f}" if len(v) > 1 else f"{v.mean():.4f}"


def paired(runs: dict, a: str, b: str, budget: int = 100) -> tuple[float, float, float]:
    d = np.array([ra[budget] - rb[budget] for ra, rb in zip(runs[a], runs[b])])
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0, float(d.min())


def report(results: dict, ls: dict, seeds: list[int], seconds: float, command: str) -> str:
    parts = [
        f"Food-101 CLIP ViT-B/32 embeddings (../shared/data), 10 classes, {machine()}; seeds {seeds[0]}-{seeds[-1]} "
        f"({len(seeds)}), mean ± standard error over seeds; every service session runs on the real embedded "
        f"engine through sessions.create_session / next_batch / add_labels / train_round. Start: 2 oracle examples "
        f"per class (per seed); 10 oracle labels a round. {seconds:.0f} s in all.",
    ]
    for setting, runs in results.items():
        what = "all 2,000 items" if setting == "all" else "the held-out 20% (never in the database)"
        rows = []
        for name, curves in runs.items():
            rows.append([name] + [mean_se([c[b] for c in curves]) if b in curves[0] else "" for b in REPORTED])
        parts.append(
            f"**Accuracy over {what}** after n labels:\n\n" + table(["run"] + [f"{b} labels" for b in REPORTED], rows)
        )
        lines = []
        for base in ("LR + random", "LR + margin", "service margin", "service random"):
            m, se, lo = paired(runs, "service balanced", base)
            lines.append(f"- balanced − {base} at 100 labels: {m:+.4f} ± {se:.4f} (lowest seed {lo:+.4f})")
        parts.append("\n".join(lines))
    if ls:
        gain = np.array(ls["acc30"]) - np.array(ls["acc0"])
        parts.append(
            f"**Label-set start** (4 classes with an ImageNet prompt, {ls['items']} items, {len(ls['acc0'])} sessions): "
            f"round 0's predictions equal zero-shot's stored predictions on {min(ls['equal'])} to {max(ls['equal'])} of "
            f"{ls['items']} items; accuracy at round 0 {mean_se(ls['acc0'])}, after 30 labels (balanced) "
            f"{mean_se(ls['acc30'])}: {mean_se(gain)} higher, lowest session {gain.min():+.4f}, below round 0 in "
            f"{int((gain < 0).sum())} of {len(gain)}."
        )
    parts.append(f"Command: `{command}`")
    return "\n\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0-19")
    ap.add_argument("--labelset-runs", type=int, default=10)
    ap.add_argument("--path", default=None, help="chDB data path (default: a new temp dir, removed after)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    from vectrain.core.config import Settings
    from vectrain.storage.store import Store

    seeds = seeds_of(args.seeds)
    path = args.path or tempfile.mkdtemp(prefix="vectrain_mc_")
    store = Store(
        Settings(database_url=f"chdb://{path}", database=f"mc_{uuid.uuid4().hex[:8]}"), owner="bench.multiclass"
    )
    store.migrate()
    started = time.perf_counter()
    try:
        ls = labelset_start(store, args.labelset_runs) if args.labelset_runs else {}
        results = food10(store, seeds)
    finally:
        store.close()
        if args.path is None:
            shutil.rmtree(path, ignore_errors=True)
    command = f"OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.multiclass --seeds {args.seeds}"
    if args.labelset_runs != 10:
        command += f" --labelset-runs {args.labelset_runs}"
    text = report(results, ls, seeds, time.perf_counter() - started, command)
    print(text)
    if not args.no_write:
        write_section("multiclass", "## Multi-class sessions (`bench/multiclass.py`)\n\n" + text)


if __name__ == "__main__":
    main()
