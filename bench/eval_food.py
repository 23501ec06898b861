"""kNN, zero-shot and tourney on real CLIP ViT-B/32 embeddings (Food-101, 10 classes, 2,000 images).

Loads ../shared/data/food10_clip_vitb32_train.npz into a temp chDB through the real writer,
with our own seeded 80/20 train/test split, then reports through vectrain.classify.evaluation:
- kNN (k=10, exact batch plan, and the HNSW plan) on the test split;
- zero-shot with ImageNet prompt vectors for the classes that have an exact ImageNet class:
  pizza ("pizza, pizza pie"), hamburger ("cheeseburger"), guacamole, ice_cream ("ice cream,
  icecream"); the other six Food-101 classes have no ImageNet counterpart ("burrito" is not
  tacos, "potpie" is not apple_pie) and are left out of the zero-shot and tourney scores;
- the pairwise tourney vs the zero-shot argmax on the same items, for several `dims`.

    .venv/bin/python -m bench.eval_food
"""

from __future__ import annotations

import tempfile

import numpy as np

from bench.report import PLOTS, SHARED_DATA, machine, table, write_section
from vectrain.classify import labelsets
from vectrain.classify.evaluation import evaluate, plot
from vectrain.core.config import Settings
from vectrain.loaders.writer import DatasetWriter
from vectrain.storage.store import Store

PROMPTS = {
    "pizza": "pizza, pizza pie",
    "hamburger": "cheeseburger",
    "guacamole": "guacamole",
    "ice_cream": "ice cream, icecream",
}


def main() -> None:
    food = np.load(SHARED_DATA / "food10_clip_vitb32_train.npz")
    prompts = np.load(SHARED_DATA / "imagenet_prompts_clip_vitb32.npz")
    vectors = food["vectors"].astype(np.float32)
    classes = [str(c) for c in food["classes"]]
    labels = [classes[i] for i in food["labels"]]
    n = len(vectors)
    rng = np.random.default_rng(0)
    test = np.zeros(n, dtype=bool)
    test[rng.permutation(n)[: n // 5]] = True
    path = tempfile.mkdtemp(prefix="vectrain-food-")
    store = Store(Settings(database_url=f"chdb://{path}", database="food"), owner="bench.eval_food")
    store.migrate()
    writer = DatasetWriter(store, "food", 512, "clip", model="openai/clip-vit-base-patch32", total=n, progress=False)
    writer.write(
        ids=[f"food-{i:05d}" for i in range(n)],
        vectors=vectors,
        labels=labels,
        splits=["test" if t else "train" for t in test],
    )
    print(writer.finish().line())

    names = [str(x) for x in prompts["names"]]
    lv = np.stack([prompts["vectors"][names.index(PROMPTS[c])] for c in PROMPTS])
    labelsets.create(store, "food_prompts", list(PROMPTS), vectors=lv, dataset="food")

    PLOTS.mkdir(parents=True, exist_ok=True)
    rows, plots = [], []
    evaluate(store, "knn", "food", split="test", k=10)  # warm-up: torch import, first Arrow read
    knn = evaluate(store, "knn", "food", split="test", k=10)
    sweep = []
    for k in (1, 3, 5, 10, 20, 50):
        r = evaluate(store, "knn", "food", split="test", k=k)
        sweep.append([k, r["accuracy"], r["weighted_f1"]])
        print("k", k, r["accuracy"])
    knn_ann = evaluate(store, "knn", "food", split="test", k=10, exact=False)
    knn_dist = evaluate(store, "knn", "food", split="test", k=10, weighting="distance")
    plots += plot(knn, PLOTS, "food_knn")
    zs = evaluate(store, "zero-shot", "food", labelset="food_prompts")
    plots += plot(zs, PLOTS, "food_zero_shot")
    for label, r in (
        ("kNN k=10 majority, exact", knn),
        ("kNN k=10 majority, HNSW", knn_ann),
        ("kNN k=10 distance-weighted, exact", knn_dist),
        ("zero-shot (4 prompt classes)", zs),
    ):
        rows.append([label, r["n"], r["accuracy"], r["macro_f1"], r["weighted_f1"], f"{r['queries_per_second']:,.0f}"])
    tourneys = []
    for dims in (32, 64, 128, 256):
        t = evaluate(store, "tourney", "food", labelset="food_prompts", dims=dims)
        tourneys.append(
            [dims, t["n"], t["argmax"]["weighted_f1"], t["weighted_f1"], t["argmax"]["accuracy"], t["accuracy"]]
        )
        if dims == 64:
            plots += plot(t, PLOTS, "food_tourney")
    # Cross-check with scikit-learn (cosine, brute force) on the same split and on 5 other splits.
    from sklearn.neighbors import KNeighborsClassifier

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    y = np.asarray(labels)
    sk = KNeighborsClassifier(10, metric="cosine", algorithm="brute").fit(unit[~test], y[~test])
    sk_same = float((sk.predict(unit[test]) == y[test]).mean())
    sk_other = []
    for s in range(5):
        t = np.zeros(n, dtype=bool)
        t[np.random.default_rng(100 + s).permutation(n)[: n // 5]] = True
        m = KNeighborsClassifier(10, metric="cosine", algorithm="brute").fit(unit[~t], y[~t])
        sk_other.append(float((m.predict(unit[t]) == y[t]).mean()))
    rel = [[f"{b['low']:.3f}-{b['high']:.3f}", b["n"], b["accuracy"]] for b in knn["reliability"]]
    for r in rows:
        print(r)
    for t in tourneys:
        print("tourney", t)

    md = f"""## Classification on real CLIP embeddings (Food-101, 10 classes)

`.venv/bin/python -m bench.eval_food` — {machine()}. 2,000 CLIP ViT-B/32 image embeddings
(`shared/data/food10_clip_vitb32_train.npz`) loaded through the real writer into a temp chDB;
our own seeded 80/20 split ({int((~test).sum())} train / {int(test.sum())} test).
Zero-shot and tourney use the ImageNet prompt vectors of the four classes with an exact ImageNet
class (pizza <- "pizza, pizza pie", hamburger <- "cheeseburger", guacamole, ice_cream <- "ice cream,
icecream"), over all 2,000 images of those four classes ({zs["skipped_unlabeled_or_unknown_class"]}
images of the other six classes left out).

{table(["method", "items", "accuracy", "macro F1", "weighted F1", "queries/s"], rows)}

Pairwise tourney vs zero-shot argmax on the same items (fit on all rows; bottom 25% by top
similarity and by margin excluded from the dimension statistics):

{table(["dims per pair", "items", "argmax weighted F1", "tourney weighted F1", "argmax accuracy", "tourney accuracy"], tourneys)}

scikit-learn's KNeighborsClassifier (k=10, cosine, brute force) on the same split: {sk_same:.4f}
(vote ties are broken differently: sklearn takes the lowest class, vectrain the class of the nearest
neighbour); on five other seeded 80/20 splits: {", ".join(f"{a:.3f}" for a in sk_other)} (mean
{np.mean(sk_other):.3f}). The issue expected >= 0.97; on this 2,000-image subset kNN measures
about 0.95, split to split between 0.93 and 0.97.

kNN accuracy by k (exact, majority vote, same split):

{table(["k", "accuracy", "weighted F1"], sweep)}

kNN reliability (the CIFAR paper's view: accuracy per equal-count bin of the neighbours' mean similarity):

{table(["mean similarity", "items", "accuracy"], rel)}

Plots: {", ".join(f"`bench/plots/{p.split('/')[-1]}`" for p in plots)}.
"""
    write_section("classify_food", md)
    store.close()


if __name__ == "__main__":
    main()
