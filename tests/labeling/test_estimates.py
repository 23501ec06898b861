"""The session's estimate on the real engine: audit draws follow the design recorded with them
(the probabilities the engine samples with are the ones stored), the background step after a
round scores every item and says which round its estimate is for, the estimate is exact when
every item is labeled and unbiased over independent sessions on a table whose truth is known, and
GET /sessions/{id} carries the stop rule."""

import threading
import uuid

import numpy as np
import pytest
from scipy import stats

from vectrain.labeling import audit as session_audit
from vectrain.labeling import estimates
from vectrain.storage.query import Query


def _session(api, **body):
    r = api.post("/sessions", json={"dataset": "toy", "name": "e_" + uuid.uuid4().hex[:10], **body})
    assert r.status_code == 201, r.text
    return r.json()


def _label(api, sid, items, truth):
    labels = [{"item_id": i["id"], "score": 1.0 if truth[i["id"]] else -1.0, "source": i["source"]} for i in items]
    assert api.post(f"/sessions/{sid}/labels", json={"labels": labels}).status_code == 200


def _run(api, sid, truth, rounds, k=10, audit=None):
    for _ in range(rounds):
        body = {"k": k} if audit is None else {"k": k, "audit": audit}
        batch = api.post(f"/sessions/{sid}/next", json=body).json()["items"]
        if not batch:
            break
        _label(api, sid, batch, truth)
        assert api.post(f"/sessions/{sid}/train", json={}).status_code == 200
    assert estimates.settle(60)


def _truth(api, sid, vectors, positive):
    w = api.get(f"/sessions/{sid}/weights").json()
    pred = vectors.astype(np.float64) @ np.asarray(w["weights"], np.float64) + w["bias"] > w["threshold"]
    tp = np.sum(pred & positive)
    return {
        "f1": 2 * tp / (pred.sum() + positive.sum()),
        "positives": positive.sum(),
        "precision": tp / pred.sum(),
        "recall": tp / positive.sum(),
        "predicted": pred.sum(),
    }


def _rows(store, sql, **params):
    return store.client.query(sql, parameters=params).result_rows


def _toy(make_dataset, n, seed=2):
    vectors, labels, ids = make_dataset(n=n, clusters=4)
    positive = labels == labels[0]
    start = vectors[positive].mean(axis=0) + 0.5 * np.random.default_rng(seed).normal(size=vectors.shape[1])
    return vectors, positive, ids, dict(zip(ids, positive)), start


def test_draws_follow_their_recorded_design(api, store, make_dataset):
    vectors, positive, ids, truth, start = _toy(make_dataset, 300)
    s = _session(api, vector=start.tolist(), audit_rate=0.3)
    _run(api, s["id"], truth, rounds=2)
    scored = _rows(store, "SELECT count() FROM audit_scores WHERE session_id = {s:String} AND round = 2", s=s["id"])
    assert scored[0][0] == 300  # every item of the dataset, by the background step
    batch = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "audit": 6}).json()
    draws = _rows(
        store,
        "SELECT item_id, design_round, pv_a, pv_b, floor, weight, normalizer FROM audit_draws "
        "WHERE session_id = {s:String} AND round = 2 ORDER BY position",
        s=s["id"],
    )
    assert len(draws) == 6 and {d[1] for d in draws} == {2}  # weighted by round 2's predictor
    # The design over the pool, recomputed from the stored logits: the recorded weights are its q.
    _, _, a, b, floor, _, _ = draws[0]
    logits = dict(
        _rows(store, "SELECT item_id, logit FROM audit_scores WHERE session_id = {s:String} AND round = 2", s=s["id"])
    )
    taken = {r[0] for r in _rows(store, "SELECT item_id FROM labels FINAL WHERE session_id = {s:String}", s=s["id"])}
    earlier = {
        r[0]
        for r in _rows(store, "SELECT item_id FROM audit_draws WHERE session_id = {s:String} AND round < 2", s=s["id"])
    }
    pool = [i for i in ids if i not in taken and i not in earlier]
    pv = 1 / (1 + np.exp(-(a * np.array([logits[i] for i in pool], np.float64) + b)))
    g = np.sqrt(pv * (1 - pv))
    q = dict(zip(pool, floor / len(pool) + (1 - floor) * g / g.sum()))
    assert [d[5] for d in draws] == pytest.approx([q[d[0]] for d in draws], rel=1e-4)
    assert [d[6] for d in draws] == pytest.approx(1 - np.r_[0, np.cumsum([q[d[0]] for d in draws])[:-1]], rel=1e-6)
    assert sum(1 for i in batch["items"] if i["source"] == "audit") == 6
    # The engine samples with those probabilities: first draws under fresh salts, against q.
    params = {
        "db": store.database, "items": "items_toy", "session_id": s["id"], "k": 1, "floor": floor,
        "design_round": 2, "pv_a": a, "pv_b": b,
    }  # fmt: skip
    drawn_now = {d[0] for d in draws}
    live = [i for i in pool if i not in drawn_now]
    weights = np.array([q[i] for i in live])
    firsts = [store.rows(Query.named("audit.draw", salt=session_audit._salt(), **params))[0]["id"] for _ in range(600)]
    # Bins of about equal weight: each bin's share of first draws against its share of q.
    order = np.argsort(weights)
    bins = np.array_split(order, 8)
    where = {item: n for n, part in enumerate(bins) for item in (live[j] for j in part)}
    observed = np.bincount([where[f] for f in firsts], minlength=8)
    expected = np.array([weights[part].sum() for part in bins]) / weights.sum() * len(firsts)
    assert stats.chisquare(observed, expected).pvalue > 1e-3, (observed, expected)
    # The uncertain items are drawn more often: the heavier half of the pool against the lighter
    # half (two bins alone, ~75 draws each, crossed by chance: 75 against 76 once).
    assert expected[4:].sum() > expected[:4].sum() and observed[4:].sum() > observed[:4].sum(), (observed, expected)


def test_the_estimate_says_its_round_and_is_computed_in_the_background(api, store, make_dataset, monkeypatch):
    store.settings = store.settings.model_copy(update={"estimate_min_audit": 4})
    vectors, positive, ids, truth, start = _toy(make_dataset, 300)
    s = _session(api, vector=start.tolist(), audit_rate=0.3)
    _run(api, s["id"], truth, rounds=3)
    first = api.get(f"/sessions/{s['id']}").json()
    assert first["estimating"] is False and first["estimate"]["round"] == 3 == first["round"]
    release = threading.Event()
    real = estimates.refresh
    monkeypatch.setattr(estimates, "refresh", lambda *args: (release.wait(30), real(*args)))
    batch = api.post(f"/sessions/{s['id']}/next", json={"k": 10}).json()["items"]
    _label(api, s["id"], batch, truth)
    assert api.post(f"/sessions/{s['id']}/train", json={}).json()["round"] == 4  # answered without waiting
    waiting = api.get(f"/sessions/{s['id']}").json()
    assert waiting["estimating"] is True and waiting["estimate"]["round"] == 3  # the older one meanwhile
    release.set()
    assert estimates.settle(60)
    done = api.get(f"/sessions/{s['id']}").json()
    assert done["estimating"] is False and done["estimate"]["round"] == 4
    assert [h["round"] for h in done["estimate"]["history"]][-2:] == [3, 4]
    # A round whose step never ran (a restart, another replica) is computed when read.
    monkeypatch.setattr(estimates, "after_round", lambda *args: None)
    batch = api.post(f"/sessions/{s['id']}/next", json={"k": 10}).json()["items"]
    _label(api, s["id"], batch, truth)
    api.post(f"/sessions/{s['id']}/train", json={})
    assert api.get(f"/sessions/{s['id']}").json()["estimate"]["round"] == 4
    assert estimates.settle(60)
    assert api.get(f"/sessions/{s['id']}").json()["estimate"]["round"] == 5


def test_with_every_item_labeled_the_estimate_is_exact(api, make_dataset):
    vectors, positive, ids, truth, start = _toy(make_dataset, 120)
    s = _session(api, vector=start.tolist(), audit_rate=0.3)
    _run(api, s["id"], truth, rounds=12)  # 120 items: all labeled
    est = api.get(f"/sessions/{s['id']}").json()["estimate"]
    exact = _truth(api, s["id"], vectors, positive)
    assert est["labeled"] == est["items"] == 120 and est["audit_pending"] == 0 and est["audited"] is None
    assert est["predicted_positive"] == exact["predicted"]
    for name in ("f1", "precision", "recall", "positives"):
        assert est[name] == est[f"{name}_low"] == est[f"{name}_high"] == pytest.approx(exact[name]), name
    assert est["stop"] is True and "exactly" in est["stop_reason"]


def test_the_estimate_appears_with_enough_audit_labels_and_carries_the_stop_rule(api, store, make_dataset):
    store.settings = store.settings.model_copy(update={"estimate_min_audit": 12})
    vectors, positive, ids, truth, start = _toy(make_dataset, 1500)
    s = _session(api, vector=start.tolist(), audit_rate=0.2)
    _run(api, s["id"], truth, rounds=5)
    assert api.get(f"/sessions/{s['id']}").json()["estimate"] is None  # 10 audit labels < 12
    _run(api, s["id"], truth, rounds=5)
    info = api.get(f"/sessions/{s['id']}").json()
    est, exact = info["estimate"], _truth(api, s["id"], vectors, positive)
    assert est["audited"] == 20 and est["round"] == info["round"] == 10
    assert est["predicted_positive"] == exact["predicted"]
    for name in ("f1", "precision", "recall", "positives"):
        assert est[f"{name}_low"] <= exact[name] <= est[f"{name}_high"], (name, est, exact)
    assert est["f1_low"] <= est["f1_at_least"] <= est["f1"] and est["more_labels"] == 50
    assert 0 <= est["width_after"] <= est["width"] == pytest.approx(est["f1_high"] - est["f1_low"])
    assert est["narrow_by"] == pytest.approx(est["width"] - est["width_after"])
    assert f"at least {est['f1_at_least']:.3f} with 95% confidence" in est["stop_reason"]
    assert "another 50 labels" in est["stop_reason"] and isinstance(est["stop"], bool)
    store.settings = store.settings.model_copy(update={"estimate_stop_gain": 1.0, "estimate_more_labels": 20})
    est = api.get(f"/sessions/{s['id']}").json()["estimate"]
    assert est["stop"] is True and est["more_labels"] == 20 and "unlikely to tell you much more" in est["stop_reason"]


def test_the_estimate_is_unbiased_over_independent_sessions(api, store, make_dataset):
    """One table, one fixed set of strategy labels, 12 sessions whose only difference is their
    audit draws (30 each, by the design): the positives' estimates average to the truth."""
    store.settings = store.settings.model_copy(update={"estimate_min_audit": 10})
    vectors, positive, ids, truth, start = _toy(make_dataset, 400, seed=5)
    rng = np.random.default_rng(0)
    strategy = [ids[i] for i in rng.choice(len(ids), 30, replace=False)]
    errors, hits = [], 0
    for _ in range(12):
        s = _session(api, vector=start.tolist(), audit_rate=0.3)
        _label(api, s["id"], [{"id": i, "source": "user"} for i in strategy], truth)
        api.post(f"/sessions/{s['id']}/train", json={})
        assert estimates.settle(60)
        for _ in range(3):
            batch = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "audit": 10}).json()["items"]
            _label(api, s["id"], batch, truth)
        api.post(f"/sessions/{s['id']}/train", json={})  # the same labels to train on: the same model
        assert estimates.settle(60)
        est = api.get(f"/sessions/{s['id']}").json()["estimate"]
        assert est["audited"] == 30
        errors.append(est["positives"] - positive.sum())
        hits += est["positives_low"] <= positive.sum() <= est["positives_high"]
    assert abs(np.mean(errors)) < 3 * np.std(errors) / np.sqrt(len(errors)) + 1e-9, errors
    assert hits >= 9


def test_a_failed_step_leaves_no_half_written_round_and_runs_again(api, store, make_dataset, monkeypatch):
    store.settings = store.settings.model_copy(update={"estimate_min_audit": 4})
    vectors, positive, ids, truth, start = _toy(make_dataset, 200)
    s = _session(api, vector=start.tolist(), audit_rate=0.3)
    real = estimates._estimate

    def broken(*args, **kwargs):  # after every item's scores were written
        raise RuntimeError("the engine went away")

    monkeypatch.setattr(estimates, "_estimate", broken)
    _run(api, s["id"], truth, rounds=2)
    count = "SELECT count() FROM audit_scores WHERE session_id = {s:String}"
    assert _rows(store, count, s=s["id"])[0][0] == 0  # the failed rounds' scores are gone
    monkeypatch.setattr(estimates, "_estimate", real)
    info = api.get(f"/sessions/{s['id']}").json()
    assert info["estimating"] is True  # asked for again by the read
    assert estimates.settle(60)
    assert api.get(f"/sessions/{s['id']}").json()["estimate"]["round"] == 2
    assert _rows(store, count, s=s["id"])[0][0] == 200  # round 2's only, once
