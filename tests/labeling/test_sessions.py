"""Sessions end to end through the REST API on the real engine: next batches never return a
labeled item and hold exactly k, labels are all-or-nothing and replaceable, training rounds,
apply and the published SQL function."""

import threading
import uuid

import numpy as np
import pytest

from tests.fixtures import exact_topk
from vectrain.labeling import scoring


def _name():
    # SQL functions are global to the engine (not per test database): keep names unique.
    return "t_" + uuid.uuid4().hex[:10]


def _session(api, dataset="toy", **start):
    r = api.post("/sessions", json={"dataset": dataset, "name": _name(), **start})
    assert r.status_code == 201, r.text
    return r.json()


def _label(api, sid, pairs):
    return api.post(f"/sessions/{sid}/labels", json={"labels": [{"item_id": i, "score": s} for i, s in pairs]})


def test_create_session_from_vector_and_examples(api, make_dataset):
    vectors, _, ids = make_dataset(n=300)
    s = _session(api, vector=(vectors[3] * 5).tolist())
    assert s["round"] == 0 and s["dataset"] == "toy" and s["labels"]["labeled"] == 0
    w = np.asarray(api.get(f"/sessions/{s['id']}/weights").json()["weights"])
    np.testing.assert_allclose(w, vectors[3], atol=1e-6)

    e = _session(api, positive_ids=ids[:4])
    mean = vectors[:4].mean(axis=0)
    w = np.asarray(api.get(f"/sessions/{e['id']}/weights").json()["weights"])
    np.testing.assert_allclose(w, mean / np.linalg.norm(mean), atol=1e-6)
    assert e["labels"]["positives"] == 4  # the examples count as positive labels


@pytest.mark.parametrize("strategy", ["mixed", "top", "boundary", "random"])
def test_no_labeled_item_ever_comes_back(api, make_dataset, strategy):
    vectors, labels, ids = make_dataset(n=400)
    s = _session(api, vector=vectors[0].tolist())
    seen = set()
    for _ in range(6):
        r = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": strategy})
        assert r.status_code == 200, r.text
        got = [i["id"] for i in r.json()["items"]]
        assert len(got) == 10 and len(set(got)) == 10
        assert not set(got) & seen
        seen |= set(got)
        pairs = [(i, 1.0 if labels[ids.index(i)] == labels[0] else -1.0) for i in got]
        assert _label(api, s["id"], pairs).status_code == 200
        if len(seen) == 30:  # one round trained midway: later batches use its threshold
            assert api.post(f"/sessions/{s['id']}/train", json={}).status_code == 200


def test_mixed_returns_positives_and_negatives(api, make_dataset):
    vectors, labels, ids = make_dataset(n=500, clusters=5)
    s = _session(api, vector=vectors[0].tolist())
    got = [i["id"] for i in api.post(f"/sessions/{s['id']}/next", json={"k": 20}).json()["items"]]
    kinds = {labels[ids.index(i)] == labels[0] for i in got}
    assert kinds == {True, False}


@pytest.mark.parametrize("scored", [True, False], ids=["scored-round", "exact-scan"])
def test_exact_k_with_more_than_1000_labels(api, store, make_dataset, scored):
    """The 1,200 nearest items are labeled: an ANN post-filter alone would return nothing."""
    vectors, _, ids = make_dataset(n=2000, dim=16, clusters=3)
    q = vectors[0]
    s = _session(api, vector=q.tolist())
    order = exact_topk(vectors, q, 2000)
    for start in range(0, 1200, 400):
        assert _label(api, s["id"], [(ids[i], -1.0) for i in order[start : start + 400]]).status_code == 200
    if not scored:  # as before a session's first scoring: the bands come from an exact scan
        store.client.command("TRUNCATE TABLE scored_rounds")
        scoring.forget(store, s["id"])
    labeled = {ids[i] for i in order[:1200]}
    for strategy in ("top", "mixed", "boundary", "random"):
        r = api.post(f"/sessions/{s['id']}/next", json={"k": 25, "strategy": strategy})
        got = [i["id"] for i in r.json()["items"]]
        assert len(got) == 25, strategy
        assert not set(got) & labeled, strategy
    top = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": "top"}).json()["items"]
    assert [i["id"] for i in top] == [ids[i] for i in order[1200:1210]]


def test_fewer_than_k_unlabeled_left(api, make_dataset):
    vectors, _, ids = make_dataset(n=30)
    s = _session(api, vector=vectors[0].tolist())
    _label(api, s["id"], [(i, 1.0) for i in ids[:25]])
    for strategy in ("top", "mixed", "boundary", "random"):
        got = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": strategy}).json()["items"]
        assert sorted(i["id"] for i in got) == ids[25:], strategy


def test_labels_are_durable_and_replaceable(api, store, make_dataset):
    vectors, _, ids = make_dataset(n=100)
    s = _session(api, vector=vectors[0].tolist())
    r = _label(api, s["id"], [(ids[0], 1.0), (ids[1], -1.0), (ids[2], 0.5)])
    assert r.status_code == 200 and r.json()["stored"] == 3
    # Durable before the response: straight from the table, no cache in between.
    stored = store.client.query(
        "SELECT item_id, score FROM labels FINAL WHERE session_id = {s:String} ORDER BY item_id",
        parameters={"s": s["id"]},
    ).result_rows
    assert stored == [(ids[0], 1.0), (ids[1], -1.0), (ids[2], 0.5)]
    _label(api, s["id"], [(ids[0], -1.0)])
    labels = {x["item_id"]: x["score"] for x in api.get(f"/sessions/{s['id']}/labels").json()["labels"]}
    assert labels == {ids[0]: -1.0, ids[1]: -1.0, ids[2]: 0.5}
    assert api.get(f"/sessions/{s['id']}").json()["labels"] == {
        "labeled": 3,
        "positives": 1,
        "negatives": 2,
        "neutral": 0,
    }


@pytest.mark.parametrize(
    "bad, status, words",
    [
        ({"item_id": "no-such-item", "score": 1.0}, 404, "not in dataset"),
        ({"item_id": "item-00003", "score": 1.5}, 400, "outside [-1, 1]"),
        ({"item_id": "item-00003", "score": -2}, 400, "outside [-1, 1]"),
        ({"item_id": "item-00000", "score": 1.0}, 400, "duplicate"),
        ({"item_id": "", "score": 1.0}, 422, "item_id"),
    ],
)
def test_a_bad_batch_stores_nothing(api, make_dataset, bad, status, words):
    make_dataset(n=50)
    s = _session(api, vector=[1.0] + [0.0] * 15)
    batch = [{"item_id": "item-00000", "score": 1.0}, {"item_id": "item-00001", "score": -1.0}, bad]
    r = api.post(f"/sessions/{s['id']}/labels", json={"labels": batch})
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert api.get(f"/sessions/{s['id']}").json()["labels"]["labeled"] == 0


def test_concurrent_label_writes_all_land(api, make_dataset):
    _, _, ids = make_dataset(n=400)
    s = _session(api, vector=[1.0] + [0.0] * 15)
    errors = []

    def client(part):
        for start in range(0, len(part), 10):
            r = _label(api, s["id"], [(i, 1.0) for i in part[start : start + 10]])
            if r.status_code != 200:
                errors.append(r.text)

    threads = [threading.Thread(target=client, args=(ids[n * 50 : (n + 1) * 50],)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert api.get(f"/sessions/{s['id']}").json()["labels"]["labeled"] == 400


def _seed_reference(w, X, scores, lr=0.1, steps=5):
    """The seeds' update in numpy: mean BCE-with-logits gradient, SGD, unit norm every step."""
    w = np.asarray(w, dtype=np.float64) / np.linalg.norm(w)
    t = (np.asarray(scores, dtype=np.float64) + 1) / 2
    for _ in range(steps):
        z = X @ w
        grad = X.T @ (1 / (1 + np.exp(-z)) - t) / len(t)
        w = w - lr * grad
        w = w / np.linalg.norm(w)
    return w


def test_seed_mode_matches_reference(api, make_dataset):
    vectors, labels, ids = make_dataset(n=300)
    s = _session(api, vector=vectors[5].tolist())
    rng = np.random.default_rng(3)
    chosen = rng.choice(300, size=40, replace=False)
    scores = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=40)
    _label(api, s["id"], [(ids[i], float(sc)) for i, sc in zip(chosen, scores)])
    r = api.post(f"/sessions/{s['id']}/train", json={"mode": "seed"})
    assert r.status_code == 200, r.text
    assert r.json()["round"] == 1 and r.json()["metrics"]["labeled"] == 40
    got = api.get(f"/sessions/{s['id']}/weights").json()
    assert got["bias"] == 0.0
    # Labels are read in item_id order; the mean gradient does not depend on the order.
    want = _seed_reference(vectors[5], vectors[chosen].astype(np.float64), scores)
    np.testing.assert_allclose(got["weights"], want, atol=1e-5)
    # A second seed round starts from the first one's weights (the seeds chained rounds).
    api.post(f"/sessions/{s['id']}/train", json={"mode": "seed"})
    want2 = _seed_reference(want, vectors[chosen].astype(np.float64), scores)
    np.testing.assert_allclose(api.get(f"/sessions/{s['id']}/weights").json()["weights"], want2, atol=1e-5)


def test_auto_training_learns_the_concept_and_rounds_are_stored(api, make_dataset):
    vectors, labels, ids = make_dataset(n=600, clusters=4)
    # Start from a noisy direction: the prompt is only roughly right.
    start = vectors[labels == labels[0]].mean(axis=0) + 0.15 * np.random.default_rng(0).normal(size=16)
    s = _session(api, vector=start.tolist())
    for _ in range(4):
        got = [i["id"] for i in api.post(f"/sessions/{s['id']}/next", json={"k": 10}).json()["items"]]
        _label(api, s["id"], [(i, 1.0 if labels[ids.index(i)] == labels[0] else -1.0) for i in got])
        r = api.post(f"/sessions/{s['id']}/train", json={"mode": "auto"})
        assert r.status_code == 200, r.text
    m = r.json()["metrics"]
    assert m["labeled"] == 40 and m["positives"] + m["negatives"] == 40 and m["labels_cv_f1"] is not None
    q = m["quality"]  # scored within the wait on a table this small
    assert q["scored_round"] == 4 and q["f1_low"] <= q["f1"] <= q["f1_high"] and q["message"] is None
    info = api.get(f"/sessions/{s['id']}").json()
    assert [x["round"] for x in info["rounds"]] == [0, 1, 2, 3, 4] and info["round"] == 4
    w = api.get(f"/sessions/{s['id']}/weights").json()
    pred = vectors @ np.asarray(w["weights"]) + w["bias"] > w["threshold"]
    truth = labels == labels[0]
    f1 = 2 * np.sum(pred & truth) / (pred.sum() + truth.sum())
    assert f1 > 0.95


def test_apply_and_the_published_sql_function_match_numpy(api, store, make_dataset):
    vectors, labels, ids = make_dataset(n=300)
    s = _session(api, vector=vectors[0].tolist())
    _label(api, s["id"], [(ids[i], 1.0 if labels[i] == labels[0] else -1.0) for i in range(60)])
    api.post(f"/sessions/{s['id']}/train", json={})
    r = api.post(f"/sessions/{s['id']}/apply")
    assert r.status_code == 200, r.text
    out = r.json()
    w = api.get(f"/sessions/{s['id']}/weights").json()
    W, b, t = np.asarray(w["weights"], dtype=np.float64), w["bias"], w["threshold"]
    want = vectors.astype(np.float64) @ W + b
    assert out["items"] == 300 and out["positives"] == int((want > t).sum())

    preds = api.get(f"/sessions/{s['id']}/predictions", params={"offset": 0, "limit": 1000}).json()
    got = {p["id"]: p for p in preds["items"]}
    assert len(got) == 300
    for i, item in enumerate(ids):
        assert abs(got[item]["score"] - want[i]) < 1e-3 * max(1.0, abs(want[i]))
        if abs(want[i] - t) > 1e-3:
            assert got[item]["positive"] == bool(want[i] > t)
    page = api.get(f"/sessions/{s['id']}/predictions", params={"offset": 10, "limit": 5}).json()["items"]
    assert page == preds["items"][10:15]

    fn = out["function"]
    rows = store.client.query(f"SELECT id, {fn}(vector) FROM items_toy ORDER BY id").result_rows
    np.testing.assert_allclose([x[1] for x in rows], want - t, rtol=1e-5, atol=1e-4)
    count = store.client.query(f"SELECT count() FROM items_toy WHERE {fn}(vector) > 0").result_rows[0][0]
    assert count == out["positives"]
    view = store.client.query(f"SELECT count() FROM {out['view']} WHERE positive").result_rows[0][0]
    assert view == out["positives"]
    sql = api.get(f"/sessions/{s['id']}/sql").json()
    assert sql["published"] and sql["statements"][0].startswith(f"CREATE OR REPLACE FUNCTION `{fn}`")
    npy = api.get(f"/sessions/{s['id']}/weights", params={"format": "npy"})
    assert npy.status_code == 200
    import io

    np.testing.assert_allclose(np.load(io.BytesIO(npy.content)), W, atol=1e-7)
    store.client.command(f"DROP FUNCTION IF EXISTS {fn}")


@pytest.mark.parametrize(
    "method, path, body, status, words",
    [
        ("get", "/sessions/nope", None, 404, "No session"),
        ("post", "/sessions/nope/next", {"k": 5}, 404, "No session"),
        ("post", "/sessions", {"dataset": "missing", "name": "x1", "vector": [1.0]}, 404, "Unknown dataset"),
        ("post", "/sessions", {"dataset": "toy", "name": "x2"}, 400, "exactly one"),
        (
            "post",
            "/sessions",
            {"dataset": "toy", "name": "Bad Name", "vector": [1.0] * 16},
            400,
            "Invalid session name",
        ),
        ("post", "/sessions", {"dataset": "toy", "name": "x3", "vector": [1.0, 2.0]}, 400, "dimensions"),
        ("post", "/sessions", {"dataset": "toy", "name": "x4", "prompt": "a dog"}, 400, "encoder"),
        ("post", "/sessions", {"dataset": "toy", "name": "x5", "positive_ids": ["nope"]}, 404, "not in dataset"),
    ],
)
def test_api_errors_are_json_with_a_message(api, make_dataset, method, path, body, status, words):
    make_dataset(n=20)
    r = getattr(api, method)(path, **({"json": body} if body is not None else {}))
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_session_level_errors(api, make_dataset):
    make_dataset(n=20)
    s = _session(api, vector=[1.0] + [0.0] * 15)
    r = api.post("/sessions", json={"dataset": "toy", "name": s["name"], "vector": [1.0] * 16})
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    r = api.post(f"/sessions/{s['id']}/next", json={"k": 5, "strategy": "best"})
    assert r.status_code == 422 and "strategy" in r.json()["detail"]
    r = api.post(f"/sessions/{s['id']}/train", json={"mode": "auto"})
    assert r.status_code == 400 and "no labels" in r.json()["detail"]
    r = api.get(f"/sessions/{s['id']}/predictions")
    assert r.status_code == 404 and "apply" in r.json()["detail"]


def test_prompt_session_uses_the_datasets_text_encoder(api, store, tiny_clip):
    """A prompt becomes the weights through the same encoder (tiny CLIP here) as the rows."""
    from tests.tiny_clip import PROJECTION_DIM
    from vectrain.embed.encoders import get_encoder
    from vectrain.loaders.writer import DatasetWriter

    enc = get_encoder("clip", store.settings, model=str(tiny_clip))
    rng = np.random.default_rng(0)
    writer = DatasetWriter(store, "pics", PROJECTION_DIM, "clip", model=str(tiny_clip), total=50, progress=False)
    writer.write(ids=[f"p{i}" for i in range(50)], vectors=rng.normal(size=(50, PROJECTION_DIM)))
    writer.finish()
    s = _session(api, dataset="pics", prompt="dogs in the snow")
    assert s["source"] == "prompt" and s["prompt"] == "dogs in the snow"
    w = api.get(f"/sessions/{s['id']}/weights").json()["weights"]
    np.testing.assert_allclose(w, enc.encode_texts(["dogs in the snow"])[0], atol=1e-5)
    assert len(api.post(f"/sessions/{s['id']}/next", json={"k": 5}).json()["items"]) == 5


def test_random_is_a_uniform_sample_of_unlabeled_rows_across_parts(api, store, make_dataset):
    """random reads the scored round's rows at random ranks: every part, never a labeled row,
    exactly k, and close to uniform; with nearly everything labeled too."""
    from vectrain.loaders.writer import DatasetWriter

    vectors, _, ids = make_dataset(n=300)
    writer = DatasetWriter(store, "toy", 16, "features", progress=False)  # a second part
    more = [f"more-{i:03d}" for i in range(300)]
    writer.write(ids=more, vectors=vectors[::-1].copy())
    writer.finish(build_index=False)
    assert len(store.registry.parts("toy", fresh=True)) >= 2
    s = _session(api, vector=vectors[0].tolist())
    labeled = set(ids[:150])
    assert _label(api, s["id"], [(i, -1.0) for i in labeled]).status_code == 200
    counts: dict[str, int] = {}
    for _ in range(40):
        got = [
            i["id"] for i in api.post(f"/sessions/{s['id']}/next", json={"k": 20, "strategy": "random"}).json()["items"]
        ]
        assert len(got) == 20 == len(set(got)) and not set(got) & labeled
        for i in got:  # noqa: B007
            counts[i] = counts.get(i, 0) + 1
        # the same state gives the same sample (reproducible); a new label draws a new one
        again = [
            i["id"] for i in api.post(f"/sessions/{s['id']}/next", json={"k": 20, "strategy": "random"}).json()["items"]
        ]
        assert again == got
        fresh = next(i for i in ids[150:] if i not in labeled and i not in got)
        assert _label(api, s["id"], [(fresh, 1.0)]).status_code == 200
        labeled.add(fresh)
    drawn_more = sum(c for i, c in counts.items() if i.startswith("more-"))
    # 300 of the 450 unlabeled rows are in the second part: about 2/3 of 800 draws
    assert 0.55 < drawn_more / 800 < 0.78, drawn_more
    assert len(counts) > 300  # spread over the table, not a fixed subset
    everything = [i for i in ids + more if i not in labeled][:-5]
    assert _label(api, s["id"], [(i, 1.0) for i in everything]).status_code == 200
    got = [i["id"] for i in api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": "random"}).json()["items"]]
    assert len(got) == 5 and not set(got) & (labeled | set(everything))


@pytest.mark.parametrize(
    "strategy, trips",
    [
        ("top", ["scores.window", "scores.window"]),  # the top, then the band (urls and vectors kept)
        ("random", ["scores.at"]),  # rows at random ranks (their urls kept from the warm call)
        ("boundary", ["scores.window"]),
        ("mixed", ["scores.window", "scores.at"]),
    ],
)
def test_next_batch_round_trips(api, store, make_dataset, monkeypatch, strategy, trips):
    """On chDB a next batch costs its range reads of the scored round (and random's rows): the
    session's state, the sorted scores, the band's vectors and the table's facts are kept by the
    process that writes them."""
    vectors, labels, ids = make_dataset(n=500)
    s = _session(api, vector=vectors[0].tolist())
    pairs = [(i, 1.0 if labels[n] == labels[0] else -1.0) for n, i in enumerate(ids[:40])]
    assert _label(api, s["id"], pairs).status_code == 200
    assert api.post(f"/sessions/{s['id']}/train", json={}).status_code == 200
    assert api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": strategy}).status_code == 200  # warm
    calls = []
    original = store._run

    def counting(method, query, **kwargs):
        calls.append(query.name)
        return original(method, query, **kwargs)

    monkeypatch.setattr(store, "_run", counting)
    r = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": strategy})
    assert r.status_code == 200 and len(r.json()["items"]) == 10
    assert r.json()["scored_round"] == 1
    assert calls == trips
