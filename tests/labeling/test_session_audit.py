"""Audit sampling in sessions on the real engine: audit draws are recorded by the service and
cannot be claimed, re-drawn or trained on; every label records how it was sampled. The estimate
is tests/labeling/test_estimates.py's."""

import uuid

import pytest

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
    # No predictor yet (no round trained): uniform draws, each recorded with its probability.
    design = store.client.query(
        "SELECT design_round, weight, normalizer FROM audit_draws WHERE session_id = {s:String} ORDER BY batch, position",
        parameters={"s": s["id"]},
    ).result_rows
    assert [d[0] for d in design] == [-1] * 4
    assert [d[1] / d[2] for d in design] == pytest.approx([1 / 400, 1 / 399, 1 / 398, 1 / 397])


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
