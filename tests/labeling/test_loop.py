"""The learning loop on the real engine: bands are exactly the rows nearest a score, no strategy
starves with one class labeled, the scored round is what batches read and they name it, and the
quality number is the sum it claims to be."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pytest

from vectrain.labeling import candidates, quality, scoring
from vectrain.labeling.state import STATES


def _session(api, **start):
    r = api.post("/sessions", json={"dataset": "toy", "name": "t_" + uuid.uuid4().hex[:10], **start})
    assert r.status_code == 201, r.text
    return r.json()


def _label(api, sid, pairs):
    r = api.post(f"/sessions/{sid}/labels", json={"labels": [{"item_id": i, "score": s} for i, s in pairs]})
    assert r.status_code == 200, r.text


def _train(api, sid, **body):
    r = api.post(f"/sessions/{sid}/train", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _scores(api, vectors, sid):
    w = api.get(f"/sessions/{sid}/weights").json()
    return vectors.astype(np.float64) @ np.asarray(w["weights"], dtype=np.float64) + w["bias"], w["threshold"]


def test_a_band_is_exactly_the_unlabeled_rows_nearest_a_score(api, store, make_dataset):
    """Ranges of the scored table, placed with the sorted scores: the n unlabeled rows nearest any
    center, however the labels crowd it (the window holds as many rows as there are labels)."""
    vectors, labels, ids = make_dataset(n=600, clusters=4)
    s = _session(api, vector=vectors[0].tolist())
    z, t = _scores(api, vectors, s["id"])
    near_t = np.argsort(np.abs(z - t), kind="stable")[:40]  # the labels crowd the threshold
    _label(api, s["id"], [(ids[i], 1.0 if labels[i] == labels[0] else -1.0) for i in near_t])
    scored = scoring.latest(store, s["id"])
    assert scored.round == 0 and scored.rows == 600
    source = candidates.ScoredSource(store, scored, labeled=40)
    unlabeled = np.setdiff1d(np.arange(600), near_t)
    for center in [t, float(np.median(z)), float(z.max()), float(z.min()) - 1.0]:
        got = [r["id"] for r in source.band(center, 25, set())]
        d = np.abs(z[unlabeled] - center)
        want = unlabeled[np.argsort(d, kind="stable")[:25]]
        assert set(got) == {ids[i] for i in want}
    top = [r["id"] for r in source.top(10, set())]
    assert top == [ids[i] for i in unlabeled[np.argsort(-z[unlabeled], kind="stable")[:10]]]


def test_boundary_returns_rows_from_the_band_nearest_the_threshold(api, make_dataset):
    vectors, labels, ids = make_dataset(n=800, clusters=4)
    s = _session(api, vector=vectors[0].tolist())
    rng = np.random.default_rng(1)
    first = rng.choice(800, 60, replace=False)
    _label(api, s["id"], [(ids[i], 1.0 if labels[i] == labels[0] else -1.0) for i in first])
    trained = _train(api, s["id"])
    z, t = _scores(api, vectors, s["id"])
    assert t == 0.0 and trained["metrics"]["threshold_source"].startswith("probability 0.5")
    r = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": "boundary"}).json()
    assert r["scored_round"] == r["round"] == 1 and r["source"].startswith("boundary: 10 diverse of the 30")
    unlabeled = np.setdiff1d(np.arange(800), first)
    band = {ids[i] for i in unlabeled[np.argsort(np.abs(z[unlabeled] - t), kind="stable")[:30]]}
    got = [i["id"] for i in r["items"]]
    assert len(set(got)) == 10 and set(got) <= band
    for item in r["items"]:  # the scores the batch shows are the round's
        assert item["score"] == pytest.approx(z[ids.index(item["id"])], abs=1e-4)


@pytest.mark.parametrize("strategy", ["boundary", "mixed", "top"])
def test_no_strategy_starves_with_positives_only(api, make_dataset, strategy):
    """A prompt's top rows are all positive: the starter probes lower each round until a negative
    turns up, and the batch says so."""
    vectors, labels, ids = make_dataset(n=1000, clusters=4)
    concept = labels[0]
    s = _session(api, vector=vectors[labels == concept].mean(axis=0).tolist())
    z, _ = _scores(api, vectors, s["id"])
    top = [i for i in np.argsort(-z) if labels[i] == concept][:10]
    _label(api, s["id"], [(ids[i], 1.0) for i in top])
    sources, negatives = [], 0
    for _ in range(4):
        m = _train(api, s["id"])["metrics"]
        if m["negatives"]:
            break
        assert m["quality"]["message"].startswith("too few negatives to judge")
        r = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": strategy}).json()
        sources.append(r["source"])
        assert len(r["items"]) == 10
        marks = [(i["id"], 1.0 if labels[ids.index(i["id"])] == concept else -1.0) for i in r["items"]]
        negatives += sum(m < 0 for _, m in marks)
        _label(api, s["id"], marks)
    assert negatives > 0, sources
    assert all(
        x.startswith("starter (only positives labeled): 5 top-scored + 5 diverse near the score") for x in sources
    )
    after = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": strategy}).json()
    assert not after["source"].startswith("starter")


def test_only_negatives_labeled_start_from_the_top(api, make_dataset):
    vectors, labels, ids = make_dataset(n=500)
    s = _session(api, vector=vectors[0].tolist())
    _label(api, s["id"], [(ids[i], -1.0) for i in np.flatnonzero(labels != labels[0])[:10]])
    m = _train(api, s["id"])["metrics"]
    assert m["positives"] == 0 and m["one_sided"] == 1
    start = api.get(f"/sessions/{s['id']}").json()["rounds"][0]
    w = api.get(f"/sessions/{s['id']}/weights").json()
    assert w["threshold"] == start["threshold"]  # one class: the start, kept
    for strategy in ("mixed", "boundary"):
        r = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": strategy}).json()
        assert r["source"] == "starter (only negatives labeled): the 10 top-scored"
        scores = [i["score"] for i in r["items"]]
        assert scores == sorted(scores, reverse=True)


def test_batches_read_the_latest_scored_round_and_name_it(api, store, make_dataset):
    """A scoring slower than train's wait goes on in the background: the next batch uses the round
    scored before and says so; once scored, the round stores its quality and batches move on."""
    vectors, labels, ids = make_dataset(n=600, clusters=4)
    s = _session(api, vector=vectors[0].tolist())
    pairs = [(ids[i], 1.0 if labels[i] == labels[0] else -1.0) for i in range(60)]
    _label(api, s["id"], pairs)
    assert _train(api, s["id"])["metrics"]["quality"]["scored_round"] == 1
    gate = threading.Event()
    blocker = scoring._worker.submit(gate.wait, 30)  # the scoring thread is busy with other work
    store.settings = store.settings.model_copy(update={"session_score_wait": 0.05})
    try:
        _label(api, s["id"], [(ids[i], 1.0 if labels[i] == labels[0] else -1.0) for i in range(60, 70)])
        trained = _train(api, s["id"])
        assert trained["round"] == 2 and trained["metrics"]["quality"]["f1"] is None
        assert trained["metrics"]["quality"]["message"] == "scoring every row: the number follows"
        assert trained["metrics"]["quality"]["pending"] is True
        r = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": "boundary"}).json()
        assert r["round"] == 2 and r["scored_round"] == 1
        assert r["source"].endswith("; scored by round 1 (round 2 is still scoring)")
    finally:
        gate.set()
    blocker.result(timeout=30)
    scoring._worker.submit(lambda: None).result(timeout=30)  # the round's scoring ran after the blocker
    for _ in range(100):  # its quality is stored by the callback that follows it
        q = api.get(f"/sessions/{s['id']}").json()["rounds"][-1]["metrics"]["quality"]
        if q["f1"] is not None:
            break
        threading.Event().wait(0.05)
    assert q["scored_round"] == 2 and q["f1_low"] <= q["f1"] <= q["f1_high"]
    r = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": "boundary"}).json()
    assert r["scored_round"] == 2 and "scoring" not in r["source"]


def test_one_scoring_kept_per_session_and_rows_loaded_later_are_scored(api, store, make_dataset):
    from vectrain.loaders.writer import DatasetWriter

    vectors, labels, ids = make_dataset(n=400)
    s = _session(api, vector=vectors[0].tolist())
    _label(api, s["id"], [(ids[i], 1.0 if labels[i] == labels[0] else -1.0) for i in range(40)])
    for _ in range(3):
        _train(api, s["id"])
    parts = store.rows(scoring.Query.named("scores.partitions", db=store.database, session_id=s["id"]))
    assert sorted(p["partition"].split(",")[1] for p in parts) == ["2", "3"]  # rounds 0 and 1 dropped
    extra = np.random.default_rng(5).normal(size=(50, 16)).astype(np.float32)
    writer = DatasetWriter(store, "toy", 16, "features", total=50, progress=False)
    writer.write(ids=[f"late-{i}" for i in range(50)], vectors=extra)
    writer.finish()
    api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": "boundary"})  # sees 450 rows, 400 scored
    scoring._worker.submit(lambda: None).result(timeout=30)
    assert scoring.latest(store, s["id"]).rows == 450  # round 3 scored again, with the new rows


def test_deleting_the_dataset_removes_its_sessions_scores(api, store, make_dataset):
    vectors, _, _ = make_dataset(n=300)
    s = _session(api, vector=vectors[0].tolist())
    assert store.scalar(scoring.Query("SELECT count() FROM session_scores")) == 300
    assert api.delete("/datasets/toy", params={"force": "true"}).status_code == 200
    assert store.scalar(scoring.Query("SELECT count() FROM session_scores")) == 0
    assert scoring.latest(store, s["id"]) is None
    STATES.forget(store, s["id"])


def test_the_quality_number_is_the_sum_it_claims():
    """Isotonic calibration of cross-fitted scores, summed over every row with prefix sums, equals
    the sum of np.interp row by row; labeled rows count with their labels."""
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(0)
    z_all = rng.normal(size=5000) * 3
    lab = rng.choice(5000, 60, replace=False)
    pos = rng.random(60) < 1 / (1 + np.exp(-z_all[lab]))
    oof = z_all[lab] + rng.normal(size=60)
    xs, qs = quality.isotonic(oof, pos)
    ref = IsotonicRegression(out_of_bounds="clip").fit(oof, pos)
    np.testing.assert_allclose(np.interp(z_all, xs, qs), ref.predict(z_all), atol=1e-12)
    rows = quality.SortedScores(np.sort(z_all))
    for t in (-1.0, 0.0, 2.5):
        unl = np.setdiff1d(np.arange(5000), lab)
        q = np.interp(z_all[unl], xs, qs)
        tp = q[z_all[unl] > t].sum() + np.sum((z_all[lab] > t) & pos)
        p = q.sum() + pos.sum()
        want = 2 * tp / ((z_all > t).sum() + p)
        assert quality.expected_f1(rows, t, z_all[lab], pos, xs, qs) == pytest.approx(want, rel=1e-9)
    e = quality.estimate(rows, 0.0, oof, z_all[lab], pos)
    assert e["f1_low"] <= e["f1"] <= e["f1_high"] and e["message"] is None
    few = quality.estimate(rows, 0.0, oof[:8], z_all[lab[:8]], np.array([True] * 3 + [False] * 5))
    assert few["f1"] is None and few["message"] == "too few positives to judge (3 labeled; 5 needed)"
