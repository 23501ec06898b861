"""Zero-shot, kNN and tourney classification against numpy references, on the real engine."""

import numpy as np
import pytest

from tests.fixtures import clustered


def centroids(vectors, labels, k):
    c = np.stack([vectors[labels == i].mean(axis=0) for i in range(k)])
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def make_labelset(api, name="foods", vectors=None, labels=None, **extra):
    r = api.post("/labelsets", json={"name": name, "labels": labels, "vectors": vectors, **extra})
    assert r.status_code == 201, r.text
    return r.json()


# -- label sets ------------------------------------------------------------------------------
def test_labelset_roundtrip_and_errors(api, make_dataset):
    vectors, labels, _ = make_dataset(n=200, dim=16, clusters=3)
    c = centroids(vectors, labels, 3)
    info = make_labelset(api, "three", (c * 5).tolist(), ["c0", "c1", "c2"], dataset="toy")
    assert info["dim"] == 16 and info["labels"] == ["c0", "c1", "c2"] and info["source"] == "vectors"
    assert api.get("/labelsets/three").json()["labels"] == ["c0", "c1", "c2"]
    assert [x["name"] for x in api.get("/labelsets").json()] == ["three"]
    # taken name: 409, the stored set is unchanged
    r = api.post("/labelsets", json={"name": "three", "labels": ["x"], "vectors": [[1.0] * 16]})
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    # empty label set
    r = api.post("/labelsets", json={"name": "empty", "labels": [], "vectors": []})
    assert r.status_code == 400 and "at least one label" in r.json()["detail"]
    # wrong dimension against the dataset
    r = api.post("/labelsets", json={"name": "wide", "labels": ["a"], "vectors": [[1.0] * 8], "dataset": "toy"})
    assert r.status_code == 400 and "8 dimensions" in r.json()["detail"]
    # a stored 8-d set used on the 16-d dataset
    make_labelset(api, "eight", [[1.0] + [0.0] * 7], ["a"])
    r = api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "eight"})
    assert r.status_code == 400 and "8-dimensional" in r.json()["detail"]
    # vectors/labels count mismatch, NaN, duplicate labels, templates without a text encoder
    assert api.post("/labelsets", json={"name": "x", "labels": ["a", "b"], "vectors": [[1.0] * 16]}).status_code == 400
    assert (
        api.post("/labelsets", json={"name": "x", "labels": ["a", "a"], "vectors": [[1.0] * 16] * 2}).status_code == 400
    )
    r = api.post("/labelsets", json={"name": "x", "labels": ["a"], "templates": ["a photo of a {}"], "dataset": "toy"})
    assert r.status_code == 400
    assert (
        api.post("/labelsets", json={"name": "x", "labels": ["a"], "templates": ["a photo of a {}"]}).status_code == 400
    )
    # unknowns
    assert api.post("/classify/zero-shot", json={"dataset": "nope", "labelset": "three"}).status_code == 404
    assert api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "nope"}).status_code == 404
    assert api.delete("/labelsets/three").status_code == 204
    assert api.get("/labelsets/three").status_code == 404
    make_labelset(api, "three", c.tolist(), ["c0", "c1", "c2"])  # the name is free again


# -- zero-shot -------------------------------------------------------------------------------
def test_zero_shot_matches_numpy_and_paths_agree(api, store, make_dataset):
    vectors, labels, ids = make_dataset(n=400, dim=16, clusters=4)
    rng = np.random.default_rng(3)
    lv = centroids(vectors, labels, 4) + 0.3 * rng.normal(size=(4, 16))
    lv /= np.linalg.norm(lv, axis=1, keepdims=True)
    names = ["c0", "c1", "c2", "c3"]
    make_labelset(api, "four", lv.tolist(), names)
    r = api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "top": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stored"] == 400 and len(body["items"]) == 400 and body["table"] == "zero_shot"
    s = vectors @ lv.T.astype(np.float32)
    want = {ids[i]: names[j] for i, j in enumerate(np.argmax(s, axis=1))}
    got = {it["id"]: it for it in body["items"]}
    assert {i: it["label"] for i, it in got.items()} == want
    for i in (0, 17, 399):
        np.testing.assert_allclose(got[ids[i]]["score"], s[i].max(), atol=1e-5)
        assert [t[0] for t in got[ids[i]]["top"]] == [names[j] for j in np.argsort(-s[i])[:2]]
        np.testing.assert_allclose(got[ids[i]]["margin"], np.sort(s[i])[-1] - np.sort(s[i])[-2], atol=1e-5)
    assert np.mean([want[ids[i]] == f"c{labels[i]}" for i in range(400)]) > 0.95
    # stored rows are joinable by analysts
    q = store.client.query(
        "SELECT count() FROM zero_shot AS z FINAL JOIN items_toy AS i ON z.id = i.id WHERE z.label = i.label"
    ).result_rows[0][0]
    assert q == sum(want[ids[i]] == f"c{labels[i]}" for i in range(400))
    # compact rows by default (label, score, margin, top few); every label's similarity when asked
    assert store.client.query(
        "SELECT max(length(scores)), min(length(top_labels)) FROM zero_shot WHERE labelset = 'four'"
    ).result_rows[0] == (0, 4)
    r = api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "split": "test", "scores": True})
    run_at = r.json()["run_at"].replace("T", " ")
    stored = store.client.query(
        "SELECT id, scores FROM zero_shot WHERE labelset = 'four' AND run_at = {t:String}", parameters={"t": run_at}
    ).result_rows
    assert len(stored) == 80
    for item_id, scores in stored[:5]:
        np.testing.assert_allclose(scores, s[ids.index(item_id)], atol=1e-5)
    # split, item_ids and vectors paths agree with the whole-dataset run
    r = api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "split": "test"})
    assert r.json()["stored"] == 80 and all(it["label"] == want[it["id"]] for it in r.json()["items"])
    r = api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "item_ids": [ids[5], ids[2]]})
    assert [it["label"] for it in r.json()["items"]] == [want[ids[5]], want[ids[2]]]
    assert r.json()["stored"] == 0
    r = api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "vectors": vectors[:50].tolist()})
    assert [it["label"] for it in r.json()["items"]] == [want[i] for i in ids[:50]]
    # errors
    r = api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "item_ids": ["missing"]})
    assert r.status_code == 404
    r = api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "split": "nope"})
    assert r.status_code == 400 and "no rows in split" in r.json()["detail"]
    r = api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "vectors": [[1.0] * 3]})
    assert r.status_code == 400
    r = api.post(
        "/classify/zero-shot", json={"dataset": "toy", "labelset": "four", "split": "test", "item_ids": [ids[0]]}
    )
    assert r.status_code == 400 and "at most one of" in r.json()["detail"]


# -- kNN -------------------------------------------------------------------------------------
def knn_reference(train, train_labels, queries, k, weighting="majority"):
    """Loop-per-query numpy kNN: neighbours by (similarity desc, index asc); ties in votes go
    to the tied label with the nearest neighbour."""
    out = []
    for q in queries:
        s = train @ q
        nb = np.lexsort((np.arange(len(train)), -s))[:k]
        w = np.ones(k) if weighting == "majority" else 1.0 / (np.maximum(1 - s[nb].astype(float), 0) + 1e-6)
        votes = {}
        for lab, wt in zip(train_labels[nb], w):
            votes[lab] = votes.get(lab, 0.0) + wt
        best = max(votes.values())
        label = next(lab for lab in train_labels[nb] if np.isclose(votes[lab], best, rtol=1e-12, atol=0))
        out.append((label, best / w.sum(), float(s[nb].mean())))
    return out


@pytest.mark.parametrize("weighting", ["majority", "distance"])
def test_knn_matches_numpy_reference(api, make_dataset, weighting):
    vectors, labels, ids = make_dataset(n=600, dim=16, clusters=5)
    vectors_noisy, _ = clustered(600, 16, 5, noise=0.9, seed=0)  # overlap, so votes split
    train_idx = [i for i in range(600) if i % 5]
    test_idx = [i for i in range(600) if i % 5 == 0]
    names = np.asarray([f"c{l}" for l in labels], dtype=object)
    ref = knn_reference(vectors[train_idx], names[train_idx], vectors[test_idx], 7, weighting)
    r = api.post("/classify/knn", json={"dataset": "toy", "split": "test", "k": 7, "weighting": weighting})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [it["id"] for it in items] == [ids[i] for i in test_idx]
    assert [it["label"] for it in items] == [x[0] for x in ref]
    np.testing.assert_allclose([it["confidence"] for it in items], [x[1] for x in ref], atol=1e-5)
    np.testing.assert_allclose([it["similarity"] for it in items], [x[2] for x in ref], atol=1e-5)
    assert r.json()["train_rows"] == 480
    # the noisy set, through vectors: split votes still match the reference
    ref2 = knn_reference(vectors[train_idx], names[train_idx], vectors_noisy[:40], 7, weighting)
    r = api.post(
        "/classify/knn", json={"dataset": "toy", "vectors": vectors_noisy[:40].tolist(), "k": 7, "weighting": weighting}
    )
    assert [it["label"] for it in r.json()["items"]] == [x[0] for x in ref2]
    np.testing.assert_allclose([it["confidence"] for it in r.json()["items"]], [x[1] for x in ref2], atol=1e-5)


def test_knn_paths_agree_and_ann(api, make_dataset):
    vectors, labels, ids = make_dataset(n=500, dim=16, clusters=5)
    batch = api.post("/classify/knn", json={"dataset": "toy", "split": "test", "k": 5}).json()["items"]
    by_id = {it["id"]: it for it in batch}
    some = [ids[0], ids[35], ids[100]]  # test-split items
    single = api.post("/classify/knn", json={"dataset": "toy", "item_ids": some, "k": 5}).json()["items"]
    # the same neighbours; BLAS may round the last float bit differently for another batch shape
    assert [(x["id"], x["label"], x["confidence"]) for x in single] == [
        (by_id[i]["id"], by_id[i]["label"], by_id[i]["confidence"]) for i in some
    ]
    np.testing.assert_allclose([x["similarity"] for x in single], [by_id[i]["similarity"] for i in some], atol=1e-6)
    vec = api.post("/classify/knn", json={"dataset": "toy", "vectors": vectors[[0, 35, 100]].tolist(), "k": 5}).json()[
        "items"
    ]
    assert [v["label"] for v in vec] == [by_id[i]["label"] for i in some]
    np.testing.assert_allclose([v["similarity"] for v in vec], [by_id[i]["similarity"] for i in some], atol=1e-5)
    ann = api.post("/classify/knn", json={"dataset": "toy", "split": "test", "k": 5, "exact": False})
    assert ann.status_code == 200, ann.text
    assert ann.json()["plan"] == "ann"
    agree = np.mean([a["label"] == b["label"] for a, b in zip(ann.json()["items"], batch)])
    assert agree == 1.0
    # a train item classified by id does not vote for itself (leave-one-out)
    train_id = ids[1]
    r = api.post("/classify/knn", json={"dataset": "toy", "item_ids": [train_id], "k": 1}).json()["items"][0]
    assert r["similarity"] < 0.9999


def test_knn_ignores_unlabeled_rows_and_rejects_bad_input(api, store, make_dataset):
    from vectrain.loaders.writer import DatasetWriter

    vectors, labels, ids = make_dataset(n=100, dim=8, clusters=2)
    # an unlabeled train row sitting exactly on a test item must not vote
    w = DatasetWriter(store, "toy", 8, "features", progress=False)
    w.write(ids=["unlabeled"], vectors=vectors[[0]], labels=[""], splits=["train"])
    w.finish()
    r = api.post("/classify/knn", json={"dataset": "toy", "item_ids": [ids[0]], "k": 1}).json()
    assert r["train_rows"] == 80 and r["items"][0]["similarity"] < 0.9999
    assert api.post("/classify/knn", json={"dataset": "nope", "split": "test"}).status_code == 404
    assert api.post("/classify/knn", json={"dataset": "toy", "split": "test", "train_split": "nope"}).status_code == 400
    assert api.post("/classify/knn", json={"dataset": "toy", "split": "test", "k": 500}).status_code == 400
    assert api.post("/classify/knn", json={"dataset": "toy"}).status_code == 400
    assert api.post("/classify/knn", json={"dataset": "toy", "vectors": [[0.0] * 8]}).status_code == 400
    assert api.post("/classify/knn", json={"dataset": "toy", "item_ids": ["missing"]}).status_code == 404


def test_knn_topk_breaks_ties_by_train_order():
    from vectrain.classify.knn import topk

    rng = np.random.default_rng(0)
    train = np.round(rng.normal(size=(3000, 6)), 0).astype(np.float32)  # many exact ties
    queries = np.round(rng.normal(size=(700, 6)), 0).astype(np.float32)
    idx, sims = topk(train, queries, 9, block=256)
    s = queries @ train.T
    for r in range(0, 700, 7):
        assert list(idx[r]) == list(np.lexsort((np.arange(3000), -s[r]))[:9])


def test_bulk_read_blocks_stay_under_32_mib():
    # Over 32 MiB a block is mapped fresh from the kernel each time (vectrain/storage/itemvectors.py).
    from vectrain.storage.itemvectors import block_rows

    for dim in (16, 192, 512, 768, 1024, 2048):
        assert 0 < block_rows(dim) * dim * 4 < 32 * 2**20 and (block_rows(dim) + 1) * dim * 4 > 30 * 2**20
    assert block_rows(512) == 15_872
    assert block_rows(10_000_000) == 1  # a block is at least a row


def test_zero_shot_over_many_blocks_matches_numpy(api, store, make_dataset, monkeypatch):
    # Blocks are read ahead while one is scored, and inserted a few at a time: every row is stored
    # once, with its own scores, and progress counts acknowledged rows.
    from vectrain.classify import zeroshot
    from vectrain.storage import itemvectors

    vectors, labels, ids = make_dataset(n=400, dim=16, clusters=4)
    lv = centroids(vectors, labels, 4)
    lv /= np.linalg.norm(lv, axis=1, keepdims=True)
    make_labelset(api, "blocks", lv.tolist(), ["c0", "c1", "c2", "c3"])
    monkeypatch.setattr(itemvectors, "BLOCK_BYTES", 37 * 4 * 16)  # 37-row blocks
    monkeypatch.setattr(zeroshot, "INSERT_ROWS", 100)
    progress = []
    run = zeroshot.run_stored(store, "toy", "blocks", progress=progress.append)
    assert run["stored"] == 400 and progress == [111, 222, 333, 400]
    stored = store.client.query("SELECT id, label, score FROM zero_shot WHERE labelset = 'blocks'").result_rows
    s = vectors @ lv.T.astype(np.float32)
    want = {ids[i]: (f"c{j}", s[i, j]) for i, j in enumerate(np.argmax(s, axis=1))}
    assert {i: lab for i, lab, _ in stored} == {i: lab for i, (lab, _) in want.items()}
    np.testing.assert_allclose([score for i, _, score in stored], [want[i][1] for i, _, _ in stored], atol=1e-5)


def test_zero_shot_scores_against_a_full_sort_with_ties_by_label_position():
    from vectrain.classify.zeroshot import score_block

    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(2000, 8)).astype(np.float32)
    labels = np.round(rng.normal(size=(12, 8)), 0).astype(np.float32)
    labels[5] = labels[2]  # identical labels: every row ties them
    labels[9] = labels[2]
    for top in (1, 2, 5, 12, 50):
        got = score_block(vectors, labels, top)
        s = vectors @ labels.T
        order = np.array([sorted(range(12), key=lambda j: (-s[i, j], j)) for i in range(len(vectors))])
        t = min(top, 12)
        assert np.array_equal(got.top, order[:, :t]) and np.array_equal(got.best, order[:, 0])
        assert np.array_equal(got.top_scores, np.take_along_axis(s, order[:, :t], axis=1))
        assert np.array_equal(got.margin, s[np.arange(2000), order[:, 0]] - s[np.arange(2000), order[:, 1]])
