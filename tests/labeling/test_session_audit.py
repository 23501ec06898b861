"""Audit sampling in sessions on the real engine: audit draws are recorded by the service and
cannot be claimed, re-drawn or trained on; every label records how it was sampled; and the
session's estimate equals the exact figures when every item is labeled, and covers them when
only some are."""

import uuid

import numpy as np
import pytest

from vectrain.labeling import audit as session_audit

WRITE_KEY, READ_KEY = "w-" + "c" * 30, "r-" + "d" * 30


def _name():
    return "a_" + uuid.uuid4().hex[:10]


def _session(api, **body):
    r = api.post("/sessions", json={"dataset": "toy", "name": _name(), **body})
    assert r.status_code == 201, r.text
    return r.json()


def _oracle(api, sid, items, truth, round_no=None):
    """Label as a client does: each item's label with the source (and round) the batch gave it."""
    labels = [
        {
            "item_id": i["id"],
            "score": 1.0 if truth[i["id"]] else -1.0,
            "source": i["source"],
            **({"round": round_no} if round_no is not None else {}),
        }
        for i in items
    ]
    r = api.post(f"/sessions/{sid}/labels", json={"labels": labels})
    assert r.status_code == 200, r.text


@pytest.fixture
def fixed_salt(monkeypatch):
    """Audit draws use a secret random salt; tests that compare figures fix it."""
    counter = iter(range(10**6))
    monkeypatch.setattr(session_audit, "_salt", lambda: f"test-{next(counter)}")


def test_audit_items_are_drawn_recorded_and_served_until_labeled(api, store, make_dataset):
    vectors, labels, ids = make_dataset(n=400)
    truth = {i: labels[n] == labels[0] for n, i in enumerate(ids)}
    s = _session(api, vector=vectors[0].tolist(), audit_rate=0.2)
    assert s["audit_rate"] == pytest.approx(0.2) and s["estimate"] is None
    first = api.post(f"/sessions/{s['id']}/next", json={"k": 10}).json()
    audit = [i["id"] for i in first["items"] if i["source"] == "audit"]
    assert first["audit"] == 2 and len(audit) == 2 and len(first["items"]) == 10
    assert {i["source"] for i in first["items"]} == {"audit", "mixed"}
    # Asking again without labeling re-serves the same draws: no re-drawing until they are labeled.
    again = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "audit": 4}).json()
    again_audit = [i["id"] for i in again["items"] if i["source"] == "audit"]
    assert set(audit) <= set(again_audit) and len(again_audit) == 4
    # Label only the strategy items: the audit draws stay pending and come back first.
    _oracle(api, s["id"], [i for i in again["items"] if i["source"] != "audit"], truth, round_no=0)
    third = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "audit": 0}).json()
    assert {i["id"] for i in third["items"] if i["source"] == "audit"} == set(again_audit)
    _oracle(api, s["id"], third["items"], truth, round_no=0)
    stored = {x["item_id"]: x for x in api.get(f"/sessions/{s['id']}/labels").json()["labels"]}
    assert {i for i, x in stored.items() if x["audit"]} == set(again_audit)
    assert all(x["source"] == "audit" and x["round"] == 0 for i, x in stored.items() if i in again_audit)
    assert all(
        x["source"] == "mixed" and x["round"] == 0 and not x["audit"] for i, x in stored.items() if i not in again_audit
    )
    # The draws were recorded with their pool: the unlabeled items not already drawn.
    pools = store.client.query(
        "SELECT pool FROM audit_draws WHERE session_id = {s:String} ORDER BY batch, position", parameters={"s": s["id"]}
    ).result_rows
    assert [p[0] for p in pools] == [400, 400, 398, 398]  # the second batch: minus the 2 pending


def test_a_client_cannot_claim_an_audit_label_and_audit_labels_never_train(api, make_dataset):
    vectors, labels, ids = make_dataset(n=200)
    s = _session(api, vector=vectors[0].tolist())
    r = api.post(
        f"/sessions/{s['id']}/labels",
        json={"labels": [{"item_id": ids[2], "score": 1.0}, {"item_id": ids[1], "score": 1.0, "source": "audit"}]},
    )
    assert r.status_code == 400 and "never drawn" in r.json()["detail"]
    assert api.get(f"/sessions/{s['id']}/labels").json()["labels"] == []  # nothing stored
    r = api.post(f"/sessions/{s['id']}/labels", json={"labels": [{"item_id": ids[1], "score": 1.0, "audit": True}]})
    assert r.status_code == 422  # no such field: whether a label is an audit label is the service's call
    r = api.post(
        f"/sessions/{s['id']}/labels", json={"labels": [{"item_id": ids[1], "score": 1.0, "source": "cherry"}]}
    )
    assert r.status_code == 400 and "unknown source" in r.json()["detail"]
    r = api.post(f"/sessions/{s['id']}/labels", json={"labels": [{"item_id": ids[1], "score": 1.0}]})
    assert api.get(f"/sessions/{s['id']}/labels").json()["labels"][0]["source"] == "user"
    batch = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "audit": 10}).json()
    assert batch["audit"] == 10 and {i["source"] for i in batch["items"]} == {"audit"}
    # Audit items labeled with another source (or none) are still audit labels.
    api.post(
        f"/sessions/{s['id']}/labels",
        json={"labels": [{"item_id": i["id"], "score": -1.0, "source": "top"} for i in batch["items"]]},
    )
    # Re-labeling an audit item keeps its provenance.
    api.post(f"/sessions/{s['id']}/labels", json={"labels": [{"item_id": batch["items"][0]["id"], "score": 1.0}]})
    assert {x["item_id"]: x["audit"] for x in api.get(f"/sessions/{s['id']}/labels").json()["labels"]}[
        batch["items"][0]["id"]
    ] is True
    r = api.post(f"/sessions/{s['id']}/train", json={})
    assert r.status_code == 200, r.text
    assert r.json()["metrics"]["labeled"] == 1  # 11 labels, 10 of them held out


def test_training_keeps_cross_fitted_decisions_of_its_labels(api, store, make_dataset):
    vectors, labels, ids = make_dataset(n=300, clusters=3)
    s = _session(api, vector=vectors[0].tolist())
    api.post(
        f"/sessions/{s['id']}/labels",
        json={"labels": [{"item_id": ids[i], "score": 1.0 if labels[i] == labels[0] else -1.0} for i in range(40)]},
    )
    r = api.post(f"/sessions/{s['id']}/train", json={})
    assert r.json()["metrics"]["cv_folds"] >= 2
    rows = store.client.query(
        "SELECT item_id, positive FROM unseen_decisions WHERE session_id = {s:String} AND round = 1",
        parameters={"s": s["id"]},
    ).result_rows
    assert sorted(i for i, _ in rows) == sorted(ids[:40])
    agree = np.mean([bool(p) == (labels[ids.index(i)] == labels[0]) for i, p in rows])
    assert agree > 0.9  # separable clusters: models that did not see an item still get it right


def test_read_keys_preview_batches_but_draw_nothing(settings, store, make_dataset):
    from fastapi.testclient import TestClient

    from vectrain.api.app import create_app

    vectors, _, _ = make_dataset(n=100)
    keyed = settings.model_copy(update={"api_keys": WRITE_KEY, "read_api_keys": READ_KEY})
    with TestClient(create_app(keyed, store)) as client:
        write, read = {"Authorization": f"Bearer {WRITE_KEY}"}, {"Authorization": f"Bearer {READ_KEY}"}
        s = client.post(
            "/sessions",
            json={"dataset": "toy", "name": _name(), "vector": vectors[0].tolist(), "audit_rate": 0.5},
            headers=write,
        ).json()
        r = client.post(f"/sessions/{s['id']}/next", json={"k": 4}, headers=read)
        assert r.status_code == 403 and r.json()["code"] == "forbidden" and '"audit": 0' in r.json()["detail"]
        r = client.post(f"/sessions/{s['id']}/next", json={"k": 4, "audit": 0}, headers=read)
        assert r.status_code == 200 and len(r.json()["items"]) == 4
        r = client.post(f"/sessions/{s['id']}/next", json={"k": 4}, headers=write)
        assert r.status_code == 200 and r.json()["audit"] == 2
    drawn = store.client.query(
        "SELECT count() FROM audit_draws WHERE session_id = {s:String}", parameters={"s": s["id"]}
    ).result_rows[0][0]
    assert drawn == 2  # the write key's batch only


def _run(api, sid, truth, rounds, k=10, audit=None):
    for _ in range(rounds):
        body = {"k": k} if audit is None else {"k": k, "audit": audit}
        batch = api.post(f"/sessions/{sid}/next", json=body).json()["items"]
        if not batch:
            break
        _oracle(api, sid, batch, truth)
        assert api.post(f"/sessions/{sid}/train", json={}).status_code == 200


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


def test_with_every_item_labeled_the_estimate_is_exact(api, make_dataset, fixed_salt):
    vectors, labels, ids = make_dataset(n=120, clusters=3)
    positive = labels == labels[0]
    truth = dict(zip(ids, positive))
    start = vectors[positive].mean(axis=0) + 0.3 * np.random.default_rng(1).normal(size=16)
    s = _session(api, vector=start.tolist(), audit_rate=0.3)
    _run(api, s["id"], truth, rounds=12)  # 120 items: all labeled
    est = api.get(f"/sessions/{s['id']}").json()["estimate"]
    exact = _truth(api, s["id"], vectors, positive)
    assert est["labeled"] == est["items"] == 120 and est["audit_pending"] == 0 and est["audited"] >= 30
    assert est["predicted_positive"] == exact["predicted"]
    for name in ("f1", "precision", "recall", "positives"):
        assert est[name] == est[f"{name}_low"] == est[f"{name}_high"] == pytest.approx(exact[name]), name


def test_the_estimate_covers_the_truth_and_appears_with_enough_audit_labels(api, store, make_dataset, fixed_salt):
    store.settings = store.settings.model_copy(update={"estimate_min_audit": 12})
    vectors, labels, ids = make_dataset(n=1500, clusters=4)
    positive = labels == labels[0]
    truth = dict(zip(ids, positive))
    start = vectors[positive].mean(axis=0) + 0.4 * np.random.default_rng(2).normal(size=16)
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
    assert [h["round"] for h in est["history"]] == [7, 8, 9, 10]
    assert isinstance(est["stop"], bool) and est["stop_reason"]


def test_the_stop_hint_fires_on_a_settled_classifier(api, store, make_dataset, fixed_salt):
    """Separable clusters and a wide stop width: once four rounds agree, the hint says stop."""
    store.settings = store.settings.model_copy(update={"estimate_stop_width": 0.6, "estimate_min_audit": 10})
    vectors, labels, ids = make_dataset(n=300, clusters=3)
    positive = labels == labels[0]
    s = _session(api, vector=vectors[positive].mean(axis=0).tolist(), audit_rate=0.5)
    _run(api, s["id"], dict(zip(ids, positive)), rounds=6)
    est = api.get(f"/sessions/{s['id']}").json()["estimate"]
    assert est["f1"] == 1.0 and est["stop"] is True, est


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"k": 5, "audit": 6}, 400, "audit must be from 0 to 5"),
        ({"k": 5, "audit": -1}, 422, "audit"),
        ({"k": 5, "audit": 1.5}, 422, "audit"),
    ],
)
def test_bad_audit_requests(api, make_dataset, body, status, words):
    vectors, _, _ = make_dataset(n=50)
    s = _session(api, vector=vectors[0].tolist())
    r = api.post(f"/sessions/{s['id']}/next", json=body)
    assert r.status_code == status and words in r.json()["detail"], r.text


@pytest.mark.parametrize("rate", [-0.1, 1.5, "half"])
def test_bad_audit_rates(api, make_dataset, rate):
    vectors, _, _ = make_dataset(n=50)
    r = api.post(
        "/sessions", json={"dataset": "toy", "name": _name(), "vector": vectors[0].tolist(), "audit_rate": rate}
    )
    assert r.status_code == 422 and "audit_rate" in r.json()["detail"]
