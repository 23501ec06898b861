"""Multi-class sessions end to end through the REST API on the real engine: creation from examples
or a label set, class labels (and the bad ones refused with nothing stored), next batches of
every strategy, training rounds with their metrics, apply, the predictions, the published SQL
function and its counts, the weights, the export and the audit estimate."""

import csv
import io
import uuid

import numpy as np
import pytest

from vectrain.classify import labelsets, zeroshot
from vectrain.labeling import estimates
from vectrain.labeling.multiclass import scoring
from vectrain.labeling.multiclass.estimate import jeffreys
from vectrain.labeling.state import session_row

CLASSES = ["c0", "c1", "c2"]


def _name():
    # SQL functions are global to the engine (not per test database): keep names unique.
    return "m_" + uuid.uuid4().hex[:10]


def _create(api, **body):
    r = api.post("/sessions", json={"dataset": "toy", "name": _name(), **body})
    assert r.status_code == 201, r.text
    return r.json()


def _examples(ids, labels, per=2, classes=3):
    return {f"c{c}": [ids[j] for j in np.flatnonzero(labels == c)[:per]] for c in range(classes)}


def _label(api, sid, pairs, **extra):
    return api.post(f"/sessions/{sid}/labels", json={"labels": [{"item_id": i, "class": c, **extra} for i, c in pairs]})


def _stored(store, sid):
    return store.client.query(
        f"SELECT count() FROM {store.database}.labels FINAL WHERE session_id = '{sid}' AND removed = 0"
    ).result_rows[0][0]


def test_a_session_starts_from_examples_and_labels_by_class(api, store, make_dataset):
    vectors, labels, ids = make_dataset(n=300, clusters=3)
    s = _create(api, classes=CLASSES, examples=_examples(ids, labels))
    assert s["classes"] == CLASSES and s["source"] == "examples" and s["active"] == [True] * 3
    assert s["labels"] == {
        "labeled": 6,
        "positives": 0,
        "negatives": 0,
        "neutral": 0,
        "per_class": dict.fromkeys(CLASSES, 2),
    }
    m = s["rounds"][0]["metrics"]
    assert m["labeled"] == 6 and m["per_class"] == [2, 2, 2] and len(m["confusion"]) == 3
    assert {"accuracy", "macro_f1", "precision", "recall"} <= set(m)
    got = api.get(f"/sessions/{s['id']}/labels").json()["labels"]
    assert {(x["item_id"], x["class"]) for x in got} == {(i, c) for c, xs in _examples(ids, labels).items() for i in xs}
    listed = {x["id"]: x for x in api.get("/sessions").json()}
    assert listed[s["id"]]["classes"] == CLASSES


def test_bad_labels_are_refused_with_nothing_stored(api, store, make_dataset):
    vectors, labels, ids = make_dataset(n=200, clusters=3)
    s = _create(api, classes=CLASSES, examples=_examples(ids, labels))
    before = _stored(store, s["id"])
    bad = [
        [{"item_id": ids[50], "class": "c1"}, {"item_id": ids[51], "class": "dog"}],  # not a class of the session
        [{"item_id": ids[50], "class": "c1"}, {"item_id": ids[51], "score": 1.0}],  # a binary score
        [{"item_id": ids[50], "class": "c1", "score": 1.0}],  # both
        [{"item_id": ids[50], "class": "c1"}, {"item_id": "no-such-item", "class": "c0"}],
        [{"item_id": ids[50], "class": "c1"}, {"item_id": ids[50], "class": "c2"}],  # twice
        [{"item_id": ids[50]}],
        [{"item_id": ids[50], "class": 3}],
    ]
    for labels_ in bad:
        r = api.post(f"/sessions/{s['id']}/labels", json={"labels": labels_})
        assert 400 <= r.status_code < 500, (labels_, r.text)
    assert _stored(store, s["id"]) == before
    # A class in a binary session is refused too.
    b = api.post("/sessions", json={"dataset": "toy", "name": _name(), "positive_ids": ids[:2]}).json()
    r = api.post(f"/sessions/{b['id']}/labels", json={"labels": [{"item_id": ids[60], "class": "c0"}]})
    assert r.status_code == 400 and "binary" in r.json()["detail"]
    assert _stored(store, b["id"]) == 2


@pytest.mark.parametrize(
    "body, words",
    [
        ({"classes": ["a"]}, "2 to 100"),
        ({"classes": [f"k{i}" for i in range(101)]}, "2 to 100"),
        ({"classes": ["a", "b", "a"]}, "more than once"),
        ({"classes": ["a", "b\nc"]}, "control characters"),
        ({"classes": ["a", "b"], "examples": {"z": ["item-00001"]}}, "not one of the classes"),
        ({"classes": ["a", "b"], "examples": {"a": ["item-00001"], "b": ["item-00001"]}}, "duplicate"),
        ({"classes": ["a", "b"], "labelset": "none_such"}, "Unknown label set"),
        ({"classes": ["a", "b"], "prompt": "a cat"}, "starts from a labelset or examples"),
        ({"labelset": "x"}, "classes"),
    ],
)
def test_bad_sessions_are_refused(api, make_dataset, body, words):
    make_dataset(n=50)
    r = api.post("/sessions", json={"dataset": "toy", "name": _name(), **body})
    assert 400 <= r.status_code < 500 and words in r.json()["detail"], r.text


@pytest.mark.parametrize("strategy", ["balanced", "margin", "top", "random"])
def test_next_batches_hold_exactly_k_unlabeled_items_with_their_class(api, make_dataset, strategy):
    vectors, labels, ids = make_dataset(n=400, clusters=3)
    s = _create(api, classes=CLASSES, examples=_examples(ids, labels))
    seen = set(i for xs in _examples(ids, labels).values() for i in xs)
    for r_ in range(4):
        r = api.post(f"/sessions/{s['id']}/next", json={"k": 10, "strategy": strategy})
        assert r.status_code == 200, r.text
        batch = r.json()
        got = [i["id"] for i in batch["items"]]
        assert len(got) == 10 and len(set(got)) == 10 and not set(got) & seen
        assert batch["strategy"] == strategy and batch["round"] == r_ == batch["scored_round"]
        assert batch["source"].startswith(f"{strategy}: ")
        for item in batch["items"]:
            assert item["class"] in CLASSES and 1 / 3 <= item["score"] <= 1 and 0 <= item["margin"] <= item["score"]
            assert item["source"] == strategy
        seen |= set(got)
        assert _label(api, s["id"], [(i, f"c{labels[ids.index(i)]}") for i in got]).status_code == 200
        assert api.post(f"/sessions/{s['id']}/train", json={}).status_code == 200
    if strategy == "margin":  # the k smallest margins of the round's scores, in order
        margins = [i["margin"] for i in batch["items"]]
        assert margins == sorted(margins)


def test_relabel_remove_train_and_metrics(api, make_dataset):
    vectors, labels, ids = make_dataset(n=300, clusters=3)
    s = _create(api, classes=CLASSES, examples=_examples(ids, labels, per=4))
    first = _examples(ids, labels, per=4)["c0"][0]
    assert _label(api, s["id"], [(first, "c1")]).json()["labels"]["per_class"] == {"c0": 3, "c1": 5, "c2": 4}
    assert _label(api, s["id"], [(first, "c0")]).json()["labels"]["per_class"] == {"c0": 4, "c1": 4, "c2": 4}
    r = api.delete(f"/sessions/{s['id']}/labels/{first}")
    assert r.status_code == 200 and r.json()["labels"]["per_class"]["c0"] == 3
    t = api.post(f"/sessions/{s['id']}/train", json={}).json()
    m = t["metrics"]
    assert t["round"] == 1 and m["labeled"] == 11 and m["cv_folds"] == 5
    assert m["accuracy"] == 1.0 and m["macro_f1"] == 1.0 and np.trace(m["confusion"]) == 11
    assert api.post(f"/sessions/{s['id']}/train", json={"mode": "seed"}).status_code == 400


def test_apply_predictions_and_the_sql_function_agree(api, store, make_dataset):
    """100 classes x 512 dims: the published function is ~600 KB of SQL (over the default
    max_query_size); its class counts over the table equal the stored predictions'."""
    n_classes, dim = 100, 512
    vectors, labels, ids = make_dataset(n=1500, dim=dim, clusters=n_classes)
    # Quotes, backslashes, %, braces and accents reach SQL literals and query parameters.
    classes = [f"class {c}: o'brien \\ %s {{x:String}} é {c}" for c in range(n_classes)]
    examples = {classes[c]: [ids[j] for j in np.flatnonzero(labels == c)[:1]] for c in range(n_classes)}
    examples = {c: x for c, x in examples.items() if x}
    s = _create(api, classes=classes, examples=examples)
    a = api.post(f"/sessions/{s['id']}/apply", json={})
    assert a.status_code == 200, a.text
    applied = a.json()
    assert applied["items"] == 1500 and sum(applied["classes"].values()) == 1500
    fn = applied["function"]
    sql = api.post("/sql", json={"query": f"SELECT {fn}(vector) AS class, count() AS n FROM items_toy GROUP BY class"})
    assert sql.status_code == 200, sql.text
    from_sql = {row[0]: row[1] for row in sql.json()["rows"]}
    assert from_sql == {c: n for c, n in applied["classes"].items() if n}
    view = api.post("/sql", json={"query": f"SELECT class, count() FROM clf_{s['name']} GROUP BY class"}).json()
    assert {row[0]: row[1] for row in view["rows"]} == from_sql
    # Paged predictions: by smallest margin, and one class's most confident first.
    page = api.get(f"/sessions/{s['id']}/predictions", params={"limit": 50}).json()
    assert page["total"] == 1500 and page["order"] == "margin" and len(page["items"]) == 50
    assert [p["margin"] for p in page["items"]] == sorted(p["margin"] for p in page["items"])
    big = max(applied["classes"], key=applied["classes"].get)
    page = api.get(f"/sessions/{s['id']}/predictions", params={"class": big, "limit": 5}).json()
    assert page["total"] == applied["classes"][big] and {p["class"] for p in page["items"]} == {big}
    assert [p["score"] for p in page["items"]] == sorted((p["score"] for p in page["items"]), reverse=True)
    assert api.get(f"/sessions/{s['id']}/predictions", params={"class": "nope"}).status_code == 400
    w = api.get(f"/sessions/{s['id']}/weights").json()
    assert np.asarray(w["weights"]).shape == (n_classes, dim) and w["classes"] == classes and len(w["biases"]) == 100
    npy = api.get(f"/sessions/{s['id']}/weights", params={"format": "npy"})
    assert np.load(io.BytesIO(npy.content)).shape == (n_classes, dim)


def test_a_label_set_start_is_zero_shot(api, store, make_dataset):
    """Round 0 from a label set predicts exactly what zero-shot does; a class the set lacks starts
    unknown and is never predicted until it has a label."""
    vectors, labels, ids = make_dataset(n=400, dim=32, clusters=4, seed=3)
    centers = np.stack([vectors[labels == c].mean(axis=0) for c in range(4)])
    ls = f"ls_{uuid.uuid4().hex[:8]}"
    labelsets.create(store, ls, ["c0", "c1", "c2"], vectors=centers[:3])
    zs = {x["id"]: x["label"] for x in zeroshot.classify(store, "toy", ls, item_ids=ids)["items"]}
    s = _create(api, classes=["c0", "c1", "c2", "c3"], labelset=ls)
    assert s["source"] == "labelset" and s["active"] == [True, True, True, False]
    applied = api.post(f"/sessions/{s['id']}/apply", json={}).json()
    assert applied["round"] == 0 and applied["classes"]["c3"] == 0
    preds = {}
    for offset in range(0, 400, 100):
        page = api.get(f"/sessions/{s['id']}/predictions", params={"offset": offset, "limit": 100}).json()
        preds.update({p["id"]: p["class"] for p in page["items"]})
    assert preds == zs
    # The unknown class becomes predictable once labeled.
    c3 = [ids[j] for j in np.flatnonzero(labels == 3)[:3]]
    assert _label(api, s["id"], [(i, "c3") for i in c3]).status_code == 200
    t = api.post(f"/sessions/{s['id']}/train", json={}).json()
    assert t["metrics"]["active"] == 4
    assert api.post(f"/sessions/{s['id']}/apply", json={}).json()["classes"]["c3"] > 50


def test_a_cold_start_serves_random_items_until_two_classes_are_known(api, make_dataset):
    vectors, labels, ids = make_dataset(n=200, clusters=3)
    s = _create(api, classes=CLASSES)
    assert s["source"] == "classes" and s["active"] == [False] * 3
    batch = api.post(f"/sessions/{s['id']}/next", json={"k": 5}).json()
    assert len(batch["items"]) == 5 and all(i.get("class") is None and i["score"] is None for i in batch["items"])
    assert api.post(f"/sessions/{s['id']}/apply", json={}).status_code == 400
    assert (
        _label(api, s["id"], [(i["id"], f"c{labels[ids.index(i['id'])]}") for i in batch["items"]]).status_code == 200
    )
    api.post(f"/sessions/{s['id']}/train", json={})
    batch = api.post(f"/sessions/{s['id']}/next", json={"k": 5}).json()
    assert len(batch["items"]) == 5


def test_export_has_the_label_and_the_predicted_class(api, make_dataset):
    vectors, labels, ids = make_dataset(n=120, clusters=3)
    ex = _examples(ids, labels)
    s = _create(api, classes=CLASSES, examples=ex)
    before = list(csv.DictReader(io.StringIO(api.get(f"/sessions/{s['id']}/export").text)))
    assert len(before) == 6 and all(r["class"] == "" for r in before)  # labels only, before apply
    api.post(f"/sessions/{s['id']}/apply", json={})
    rows = list(csv.DictReader(io.StringIO(api.get(f"/sessions/{s['id']}/export").text)))
    assert len(rows) == 120 and set(rows[0]) == {"id", "label", "class", "score", "margin", "round"}
    given = {i: c for c, xs in ex.items() for i in xs}
    assert {r["id"]: r["label"] for r in rows if r["label"]} == given
    assert all(r["class"] in CLASSES for r in rows)


def test_the_audit_estimate_of_accuracy(api, store, make_dataset):
    vectors, labels, ids = make_dataset(n=300, clusters=3)
    s = _create(api, classes=CLASSES, examples=_examples(ids, labels), audit_rate=0.5)
    for _ in range(3):
        batch = api.post(f"/sessions/{s['id']}/next", json={"k": 8}).json()
        assert batch["audit"] == 4
        pairs = [(i["id"], f"c{labels[ids.index(i['id'])]}") for i in batch["items"]]
        r = api.post(
            f"/sessions/{s['id']}/labels",
            json={
                "labels": [
                    {"item_id": i, "class": c, "source": x["source"], "round": batch["round"]}
                    for (i, c), x in zip(pairs, batch["items"])
                ]
            },
        )
        assert r.status_code == 200, r.text
        api.post(f"/sessions/{s['id']}/train", json={})
    est = api.get(f"/sessions/{s['id']}").json()["estimate"]
    assert est["audited"] == 12 and est["audit_pending"] == 0 and est["items"] == 300
    low, high = jeffreys(round(est["accuracy"] * 12), 12)
    assert (est["accuracy_low"], est["accuracy_high"]) == (round(low, 4), round(high, 4))
    assert est["accuracy_all_low"] <= est["accuracy_all"] <= est["accuracy_all_high"]
    audit_labels = [x for x in api.get(f"/sessions/{s['id']}/labels").json()["labels"] if x["audit"]]
    assert len(audit_labels) == 12
    # The binary loop's scored rounds and estimate never run for it (their tables stay empty).
    estimates.settle(30)
    assert not estimates.audits(store, session_row(store, s["id"]))
    assert api.get(f"/sessions/{s['id']}").json()["estimating"] is False
    for table in ("session_scores", "scored_rounds", "audit_scores", "audit_predictors"):
        query = f"SELECT count() FROM {store.database}.{table} WHERE session_id = '{s['id']}'"
        assert store.client.query(query).result_rows[0][0] == 0, table


def test_jeffreys_interval():
    assert jeffreys(0, 10)[0] == 0.0 and jeffreys(10, 10)[1] == 1.0
    low, high = jeffreys(8, 10)
    assert 0.49 < low < 0.52 and 0.95 < high < 0.97  # Brown, Cai and DasGupta's table: (0.5, 0.96)


def test_large_datasets_read_the_newest_scored_round(api, store, make_dataset):
    """Above VECTRAIN_CLASS_SCORE_WAIT_ROWS a batch does not wait for the latest round's scores:
    it says which round scored it."""
    vectors, labels, ids = make_dataset(n=300, clusters=3)
    s = _create(api, classes=CLASSES, examples=_examples(ids, labels))
    scoring.wait(store, s["id"])
    store.settings = store.settings.model_copy(update={"class_score_wait_rows": 0})
    batch = api.post(f"/sessions/{s['id']}/next", json={"k": 5}).json()
    _label(api, s["id"], [(i["id"], f"c{labels[ids.index(i['id'])]}") for i in batch["items"]])
    api.post(f"/sessions/{s['id']}/train", json={})
    batch = api.post(f"/sessions/{s['id']}/next", json={"k": 5}).json()
    assert batch["round"] == 1 and batch["scored_round"] in (0, 1) and len(batch["items"]) == 5
    assert ("round 1 is being scored" in batch["source"]) == (batch["scored_round"] == 0)
    scoring.wait(store, s["id"])
    batch = api.post(f"/sessions/{s['id']}/next", json={"k": 5}).json()
    assert batch["scored_round"] == batch["round"] == 1 and "scored" not in batch["source"]
    assert api.get(f"/sessions/{s['id']}").json()["scored_round"] == 1


def test_deleting_the_dataset_removes_the_scores(api, store, make_dataset):
    vectors, labels, ids = make_dataset(n=100, clusters=3)
    s = _create(api, classes=CLASSES, examples=_examples(ids, labels))
    api.post(f"/sessions/{s['id']}/apply", json={})
    assert api.delete("/datasets/toy", params={"force": "true"}).status_code == 200
    left = store.client.query(f"SELECT count() FROM {store.database}.class_scores").result_rows[0][0]
    assert left == 0


def test_undo_rename_delete_and_scores_of_a_session_with_classes(api, store, make_dataset):
    vectors, labels, ids = make_dataset(n=200, clusters=3)
    s = _create(api, classes=CLASSES, examples=_examples(ids, labels))
    item = ids[100]
    right = f"c{labels[100]}"
    wrong = CLASSES[(CLASSES.index(right) + 1) % 3]
    assert _label(api, s["id"], [(item, right)]).status_code == 200
    assert _label(api, s["id"], [(item, wrong)]).status_code == 200
    undone = api.post(f"/sessions/{s['id']}/labels/undo").json()
    assert undone["undone"]["items"] == [{"item_id": item, "score": 1.0, "class": right}]
    assert undone["labels"]["per_class"][right] == 3
    listed = {x["item_id"]: x for x in api.get(f"/sessions/{s['id']}/labels").json()["labels"]}
    assert listed[item]["class"] == right and listed[item]["label"] == right  # the toy's own label is the cluster
    # The classifier on some items: class, probability, margin, the dataset's label and this session's.
    scores = api.post(f"/sessions/{s['id']}/scores", json={"item_ids": [item, ids[101], "nope"]}).json()
    assert [x["id"] for x in scores["items"]] == [item, ids[101]] and "threshold" not in scores
    assert scores["items"][0]["your_label"] == right and scores["items"][1]["your_label"] is None
    assert all(x["class"] in CLASSES and 0 <= x["margin"] <= x["score"] <= 1 for x in scores["items"])
    # Filters: labeled or not works; a margin over a threshold is a binary session's.
    r = api.post("/datasets/toy/browse", json={"session": s["id"], "labeled": "yes"})
    assert r.status_code == 200 and r.json()["total"] == 7, r.text
    r = api.post("/datasets/toy/browse", json={"session": s["id"], "margin_min": 0})
    assert r.status_code == 400 and "classes" in r.json()["detail"]
    # Rename keeps the classes and publishes the applied classifier under the new name.
    api.post(f"/sessions/{s['id']}/apply", json={})
    new = _name()
    r = api.patch(f"/sessions/{s['id']}", json={"name": new})
    assert r.status_code == 200 and r.json()["classes"] == CLASSES, r.text
    fn = r.json()["function"]
    sql = api.post("/sql", json={"query": f"SELECT count() FROM items_toy WHERE {fn}(vector) IN ('c0', 'c1', 'c2')"})
    assert sql.status_code == 200 and sql.json()["rows"][0][0] == 200, sql.text
    assert api.post(f"/sessions/{s['id']}/next", json={"k": 3}).status_code == 200
    # Delete: its scores go with it.
    assert api.delete(f"/sessions/{s['id']}").status_code == 200
    for table in ("class_scores", "class_scored", "class_applied"):
        left = store.client.query(f"SELECT count() FROM {store.database}.{table} WHERE session_id = '{s['id']}'")
        assert left.result_rows[0][0] == 0, table


def test_a_round_number_is_claimed_by_storing_the_round(api, store, make_dataset):
    """Another trainer stored round 1 first: storing one after round 0 is dropped by the engine and
    takes round 2; two trainings that race get distinct numbers, and the rounds have no gap."""
    import threading

    from vectrain.labeling.multiclass.model import ClassSession, get_round, insert_round, store_next_round

    vectors, labels, ids = make_dataset(n=120, clusters=3)
    s = _create(api, classes=CLASSES, examples=_examples(ids, labels))
    start = get_round(store, ClassSession.of(session_row(store, s["id"])), 0)
    insert_round(store, s["id"], 1, "auto", start, claimant="another trainer")
    assert store_next_round(store, s["id"], 0, "auto", start) == 2
    got = []
    threads = [
        threading.Thread(target=lambda: got.append(api.post(f"/sessions/{s['id']}/train", json={}).json()["round"]))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [3, 4]
    assert [r["round"] for r in api.get(f"/sessions/{s['id']}").json()["rounds"]] == [0, 1, 2, 3, 4]
