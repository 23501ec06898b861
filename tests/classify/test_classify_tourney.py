"""Pairwise tourney against a per-item loop reference, and the evaluation report."""

import json

import numpy as np
from click.testing import CliRunner


def tourney_reference(pop, U, dims, targets, orders, qs=0.25, qm=0.25):
    """Straightforward loops over pairs and items: the method as described in vectrain.classify.tourney."""
    C, d = U.shape
    s = pop @ U.T
    best = s.argmax(1)
    srt = np.sort(s, 1)
    top, margin = srt[:, -1], srt[:, -1] - srt[:, -2]
    keep = (top >= np.quantile(top, qs)) & (margin >= np.quantile(margin, qm))
    pair = {}
    for a in range(C):
        for b in range(C):
            xa, xb = pop[keep & (best == a)].astype(float), pop[keep & (best == b)].astype(float)
            if len(xa) < 2 or len(xb) < 2:
                ratio = np.abs(U[a].astype(float) - U[b])
            else:
                cross = np.mean([(xa[:, None, j] - xb[None, :, j]) ** 2 for j in range(d)], axis=(1, 2))
                ratio = cross / (xa.var(0) + xb.var(0) + 1e-12)
            pair[a, b] = np.argsort(-ratio, kind="stable")[:dims]
    winners = []
    for x, order in zip(targets, orders):
        alive = list(order)
        while len(alive) > 1:
            nxt = []
            for i in range(0, len(alive) - 1, 2):
                a, b = alive[i], alive[i + 1]
                D = pair[a, b]
                cos = lambda u: (x[D] @ u[D]) / (np.linalg.norm(x[D]) * np.linalg.norm(u[D]) + 1e-12)
                nxt.append(b if cos(U[b]) > cos(U[a]) else a)
            if len(alive) % 2:
                nxt.append(alive[-1])
            alive = nxt
        winners.append(alive[0])
    return np.asarray(winners)


def test_tourney_matches_loop_reference(api, store, make_dataset):
    from vectrain.classify.tourney import seeding
    from vectrain.storage.itemvectors import all_rows

    vectors, labels, ids = make_dataset(n=300, dim=12, clusters=5)
    rng = np.random.default_rng(1)
    U = np.stack([vectors[labels == c].mean(0) for c in range(5)]) + 0.4 * rng.normal(size=(5, 12))
    U = (U / np.linalg.norm(U, axis=1, keepdims=True)).astype(np.float32)
    names = [f"c{c}" for c in range(5)]
    api.post("/labelsets", json={"name": "five", "labels": names, "vectors": U.tolist()})
    r = api.post("/classify/tourney", json={"dataset": "toy", "labelset": "five", "dims": 4, "seed": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    pop = all_rows(store, "toy", 12)
    assert [it["id"] for it in body["items"]] == pop.ids
    orders = seeding(pop.ids, 5, 7)
    want = tourney_reference(pop.vectors, U, 4, pop.vectors, orders)
    assert [it["label"] for it in body["items"]] == [names[w] for w in want]
    assert [it["zero_shot_label"] for it in body["items"]] == [names[w] for w in (pop.vectors @ U.T).argmax(1)]
    truth = [pop.labels[i] for i in range(len(pop))]
    assert np.mean([it["label"] == t for it, t in zip(body["items"], truth)]) > 0.7  # 4 of 12 dims, noisy labels
    # single items, vectors-by-id and split runs agree with the whole-dataset run
    by_id = {it["id"]: it["label"] for it in body["items"]}
    some = [ids[3], ids[40], ids[250]]
    single = api.post(
        "/classify/tourney", json={"dataset": "toy", "labelset": "five", "dims": 4, "seed": 7, "item_ids": some}
    ).json()["items"]
    assert [x["label"] for x in single] == [by_id[i] for i in some]
    split = api.post(
        "/classify/tourney", json={"dataset": "toy", "labelset": "five", "dims": 4, "seed": 7, "split": "test"}
    ).json()["items"]
    assert all(x["label"] == by_id[x["id"]] for x in split) and len(split) == 60
    # errors
    r = api.post("/classify/tourney", json={"dataset": "toy", "labelset": "five", "dims": 100})
    assert r.status_code == 400 and "dims" in r.json()["detail"]
    assert api.post("/classify/tourney", json={"dataset": "nope", "labelset": "five"}).status_code == 404
    api.post("/labelsets", json={"name": "one", "labels": ["a"], "vectors": [[1.0] * 12]})
    assert api.post("/classify/tourney", json={"dataset": "toy", "labelset": "one"}).status_code == 400


def test_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    from vectrain.classify.evaluation import metrics

    rng = np.random.default_rng(0)
    t = [f"c{x}" for x in rng.integers(0, 4, 300)]
    p = [x if rng.random() < 0.7 else f"c{rng.integers(0, 5)}" for x in t]
    m = metrics(t, p, confidence=rng.random(300), bins=5)
    assert m["accuracy"] == accuracy_score(t, p)
    np.testing.assert_allclose(m["macro_f1"], f1_score(t, p, average="macro", labels=sorted(set(t))))
    np.testing.assert_allclose(m["weighted_f1"], f1_score(t, p, average="weighted"))
    assert m["confusion"] == confusion_matrix(t, p, labels=m["classes"]).tolist()
    assert sum(b["n"] for b in m["reliability"]) == 300 and len(m["reliability"]) == 5


def test_eval_rest_and_cli(api, store, settings, make_dataset, tmp_path, monkeypatch):
    vectors, labels, ids = make_dataset(n=300, dim=12, clusters=4)
    U = np.stack([vectors[labels == c].mean(0) for c in range(4)])
    api.post("/labelsets", json={"name": "four", "labels": [f"c{c}" for c in range(4)], "vectors": U.tolist()})
    r = api.post("/eval/knn", json={"dataset": "toy", "k": 5})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["accuracy"] > 0.95 and rep["n"] == 60 and len(rep["confusion"]) == 4 and rep["reliability"]
    assert rep["queries_per_second"] > 0 and {c["label"] for c in rep["per_class"]} == {"c0", "c1", "c2", "c3"}
    zs = api.post("/eval/zero-shot", json={"dataset": "toy", "labelset": "four", "split": "test"}).json()
    assert zs["n"] == 60 and zs["accuracy"] > 0.95
    tr = api.post("/eval/tourney", json={"dataset": "toy", "labelset": "four", "dims": 6}).json()
    assert tr["n"] == 300 and "argmax" in tr and tr["weighted_f1"] > 0.9
    assert api.post("/eval/zero-shot", json={"dataset": "toy"}).status_code == 400
    assert api.post("/eval/knn", json={"dataset": "nope"}).status_code == 404

    # CLI in this process, on the test's database (the store fixture holds the chDB path)
    from vectrain.cli import common
    from vectrain.cli.main import main

    monkeypatch.setattr(common.Context, "store", lambda self, command="vectrain": store)
    monkeypatch.setattr(common.Context, "close", lambda self: None)
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["--json", "eval", "knn", "toy", "-k", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["accuracy"] == rep["accuracy"]
    assert (out / "knn_toy_confusion.png").stat().st_size > 1000 and (out / "knn_toy_reliability.png").exists()
    assert (out / "knn_toy.json").exists()
    result = CliRunner().invoke(main, ["eval", "zero-shot", "toy", "--labelset", "four"])
    assert result.exit_code == 0, result.output
    assert "weighted F1" in result.output
    result = CliRunner().invoke(main, ["eval", "knn", "nope"])
    assert result.exit_code == 1 and "Unknown dataset" in result.output
    result = CliRunner().invoke(main, ["--json", "eval", "knn", "toy", "-k", "5", "--stages", "toy,toy"])
    assert result.exit_code == 0, result.output
    assert [s["dataset"] for s in json.loads(result.output)["stages"]] == ["toy", "toy"]
