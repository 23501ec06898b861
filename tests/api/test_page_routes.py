"""The routes the labeling page leans on, through the REST API on the real engine: what a key may
do (GET /whoami), a session's classifier on any items (POST .../scores), the dataset's own label
beside batches, predictions and labels, and browsing or searching under filters with exact
counts (POST /datasets/{name}/browse, `filter` on search, GET .../facets)."""

import uuid
from collections import Counter

import numpy as np
from fastapi.testclient import TestClient

from vectrain.api.app import create_app


def _session(api, **start):
    r = api.post("/sessions", json={"dataset": "toy", "name": "t_" + uuid.uuid4().hex[:10], **start})
    assert r.status_code == 201, r.text
    return r.json()


def test_whoami_says_what_the_key_may_do(settings, store):
    with TestClient(create_app(settings, store)) as open_api:
        who = {"labeler": "", "named_key": False}
        assert open_api.get("/whoami").json() == {"auth": False, "role": "write", "may_write": True, **who}
    keyed = settings.model_copy(update={"api_keys": "w-key", "read_api_keys": "r-key"})
    with TestClient(create_app(keyed, store)) as api:
        assert api.get("/whoami").status_code == 401
        read = api.get("/whoami", headers={"Authorization": "Bearer r-key"}).json()
        assert read == {"auth": True, "role": "read", "may_write": False, **who}
        write = api.get("/whoami", headers={"Authorization": "Bearer w-key"}).json()
        assert write == {"auth": True, "role": "write", "may_write": True, **who}
        # The read key's writes are refused, as whoami said; its reads of new routes pass.
        sid = api.post(
            "/sessions",
            json={"dataset": "x", "name": "t_x", "vector": [1.0]},
            headers={"Authorization": "Bearer r-key"},
        )
        assert sid.status_code == 403


def test_scores_labels_and_predictions_carry_the_dataset_label_and_margin(api, make_dataset):
    vectors, labels, ids = make_dataset(n=200)
    s = _session(api, positive_ids=ids[:2])
    sid = s["id"]
    batch = api.post(f"/sessions/{sid}/next", json={"k": 5}).json()["items"]
    assert all(i["label"] == f"c{labels[ids.index(i['id'])]}" for i in batch)

    api.post(f"/sessions/{sid}/labels", json={"labels": [{"item_id": ids[5], "score": -1.0}]})
    listed = {x["item_id"]: x for x in api.get(f"/sessions/{sid}/labels").json()["labels"]}
    assert listed[ids[5]]["label"] == f"c{labels[5]}" and listed[ids[5]]["score"] == -1.0

    r = api.post(f"/sessions/{sid}/scores", json={"item_ids": [ids[5], ids[9], "no-such-item"]})
    assert r.status_code == 200, r.text
    scored = r.json()
    info = api.get(f"/sessions/{sid}").json()
    w = np.asarray(api.get(f"/sessions/{sid}/weights").json()["weights"])
    threshold = info["rounds"][-1]["threshold"]
    assert scored["round"] == 0 and scored["threshold"] == threshold
    assert [x["id"] for x in scored["items"]] == [ids[5], ids[9]]  # unknown ids are left out
    for x, n in zip(scored["items"], (5, 9)):
        assert abs(x["score"] - float(vectors[n] @ w) - info["rounds"][-1]["bias"]) < 1e-4
        assert abs(x["margin"] - (x["score"] - threshold)) < 1e-9
        assert x["positive"] == (x["margin"] > 0) and x["label"] == f"c{labels[n]}"
    assert scored["items"][0]["your_label"] == -1.0 and scored["items"][1]["your_label"] is None
    assert api.post(f"/sessions/{sid}/scores", json={"item_ids": []}).status_code == 422

    api.post(f"/sessions/{sid}/apply", json={})
    page = api.get(f"/sessions/{sid}/predictions", params={"limit": 50}).json()
    assert page["threshold"] == threshold
    for p in page["items"]:
        assert p["label"] == f"c{labels[ids.index(p['id'])]}"
        assert p["positive"] == (p["margin"] > 0) and abs(p["margin"] - (p["score"] - threshold)) < 1e-6


def test_browse_filters_with_exact_counts(api, make_dataset):
    vectors, labels, ids = make_dataset(n=300)
    splits = ["train" if i % 5 else "test" for i in range(300)]
    sid = _session(api, vector=vectors[0].tolist())["id"]
    labeled = ids[:40:2]
    api.post(f"/sessions/{sid}/labels", json={"labels": [{"item_id": i, "score": 1.0} for i in labeled]})

    everything = api.post("/datasets/toy/browse", json={"limit": 30}).json()
    assert everything["total"] == 300 and len(everything["items"]) == 30
    assert api.post("/datasets/toy/browse", json={"limit": 30}).json() == everything  # a fixed sample

    want = lambda n: labels[n] == 2 and splits[n] == "test" and ids[n] not in labeled  # noqa: E731
    body = {"label": "c2", "split": "test", "session": sid, "labeled": "no", "limit": 1000}
    r = api.post("/datasets/toy/browse", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == sum(map(want, range(300)))
    assert sorted(i["id"] for i in r.json()["items"]) == sorted(ids[n] for n in range(300) if want(n))

    yes = api.post("/datasets/toy/browse", json={"session": sid, "labeled": "yes", "limit": 100}).json()
    assert yes["total"] == len(labeled) and {i["id"] for i in yes["items"]} == set(labeled)

    # The margin range under the session's latest round, as POST .../scores computes it.
    scores = api.post(f"/sessions/{sid}/scores", json={"item_ids": ids}).json()["items"]
    margins = {x["id"]: x["margin"] for x in scores}
    low, high = sorted(margins.values())[100], sorted(margins.values())[200]
    band = api.post(
        "/datasets/toy/browse", json={"session": sid, "margin_min": low, "margin_max": high, "limit": 1000}
    ).json()
    inside = {i for i, m in margins.items() if low - 1e-6 <= m <= high + 1e-6}
    assert abs(band["total"] - len(inside)) <= 2 and {i["id"] for i in band["items"]} <= inside

    # Paging walks the same order.
    page2 = api.post("/datasets/toy/browse", json={"offset": 30, "limit": 30}).json()["items"]
    both = api.post("/datasets/toy/browse", json={"limit": 60}).json()["items"]
    assert both == everything["items"] + page2

    # What the filters need, said plainly.
    r = api.post("/datasets/toy/browse", json={"labeled": "yes"})
    assert r.status_code == 400 and "give session" in r.json()["detail"]
    r = api.post("/datasets/toy/browse", json={"session": sid, "margin_min": 1, "margin_max": 0})
    assert r.status_code == 400
    assert api.post("/datasets/toy/browse", json={"labeled": "maybe"}).status_code == 422
    assert api.post("/datasets/toy/browse", json={"session": "nope"}).status_code == 404
    assert api.post("/datasets/nope/browse", json={}).status_code == 404


def test_search_with_a_filter_and_the_facets(api, make_dataset):
    vectors, labels, ids = make_dataset(n=300)
    r = api.post(
        "/datasets/toy/search",
        json={"item_id": ids[0], "k": 20, "filter": {"label": f"c{labels[1]}", "split": "train"}},
    )
    assert r.status_code == 200, r.text
    got = [i["id"] for i in r.json()["items"]]
    allowed = [n for n in range(300) if labels[n] == labels[1] and n % 5]
    sims = vectors[allowed] @ vectors[0]
    assert got == [ids[allowed[j]] for j in np.argsort(-sims, kind="stable")[:20]]
    r = api.post("/datasets/toy/search", json={"positive_ids": ids[:2], "filter": {"label": "c1"}})
    assert r.status_code == 400

    facets = api.get("/datasets/toy/facets").json()
    counts = Counter(f"c{x}" for x in labels)
    assert facets["labels"] == [
        {"value": v, "count": n} for v, n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))
    ]
    assert facets["labels_complete"] is True
    assert {f["value"]: f["count"] for f in facets["splits"]} == {"train": 240, "test": 60}
