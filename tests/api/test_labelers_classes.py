"""Labelers on a multi-class session, through the REST API on the real engine: class labels record
who gave them, each labeler's answers are counted per class, agreement is Cohen's kappa over the
classes (against scikit-learn's), per-labeler undo restores the class, and every strategy skips
items leased to labelers."""

import uuid

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

CLASSES = ["c0", "c1", "c2"]


def as_(name: str) -> dict:
    return {"X-Vectrain-Labeler": name} if name else {}


def _session(api, ids, labels, who="ann") -> str:
    examples = {f"c{c}": [ids[int(np.flatnonzero(labels == c)[0])]] for c in range(3)}
    body = {"dataset": "toy", "name": "m_" + uuid.uuid4().hex[:10], "classes": CLASSES, "examples": examples}
    r = api.post("/sessions", json=body, headers=as_(who))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _label(api, sid, who, pairs):
    r = api.post(
        f"/sessions/{sid}/labels", json={"labels": [{"item_id": i, "class": c} for i, c in pairs]}, headers=as_(who)
    )
    assert r.status_code == 200, r.text
    return r.json()


def _labels(api, sid) -> dict:
    return {x["item_id"]: x for x in api.get(f"/sessions/{sid}/labels").json()["labels"]}


def test_class_labels_record_their_labeler_and_agreement_is_over_classes(api, make_dataset):
    _, labels, ids = make_dataset(n=300, clusters=3)
    sid = _session(api, ids, labels)
    items = ids[100:124]
    ann = [f"c{labels[100 + n]}" for n in range(24)]
    ben = [c if n % 4 else CLASSES[(CLASSES.index(c) + 1) % 3] for n, c in enumerate(ann)]  # 6 differ
    _label(api, sid, "ann", zip(items, ann))
    stored = _label(api, sid, "ben", zip(items, ben))
    counts = {x["labeler"]: x for x in stored["labelers"]}
    assert counts["ann"]["answers"] == 27 and counts["ann"]["labels"] == 3  # the 3 examples are still hers
    assert counts["ben"]["answers"] == counts["ben"]["labels"] == 24
    assert counts["ben"]["classes"] == {c: ben.count(c) for c in CLASSES if c in ben}
    assert counts["ben"]["positives"] == counts["ben"]["negatives"] == 0
    got = _labels(api, sid)
    for i, a, b in zip(items, ann, ben):  # the newest answer is the session's label; both are kept
        assert (got[i]["class"], got[i]["labeler"]) == (b, "ben")
        assert {(x["labeler"], x["class"]) for x in got[i]["answers"]} == {("ann", a), ("ben", b)}
    review = api.get(f"/sessions/{sid}/disagreements").json()
    assert review["shared"] == 24 and review["disagreements"] == 6
    differ = {x["item_id"]: x for x in review["items"]}
    assert set(differ) == {i for i, a, b in zip(items, ann, ben) if a != b}
    assert all(x["class"] == got[i]["class"] and x["labeler"] == "ben" for i, x in differ.items())
    (pair,) = review["agreement"]
    assert pair["labelers"] == ["ann", "ben"] and pair["items"] == 24 and pair["agreed"] == 18
    assert pair["kappa"] == pytest.approx(cohen_kappa_score(ann, ben), abs=1e-9)


def test_undo_of_a_labeler_restores_the_class_they_replaced(api, make_dataset):
    _, labels, ids = make_dataset(n=200, clusters=3)
    sid = _session(api, ids, labels)
    a, b = ids[150], ids[151]
    _label(api, sid, "ann", [(a, "c0"), (b, "c1")])
    _label(api, sid, "ben", [(a, "c2")])
    r = api.post(f"/sessions/{sid}/labels/undo", headers=as_("ben")).json()
    assert r["undone"]["items"] == [{"item_id": a, "score": 1.0, "class": "c0"}] and r["undone"]["kept"] == []
    got = _labels(api, sid)
    assert (got[a]["class"], got[a]["labeler"]) == ("c0", "ann") and got[a]["answers"] == []  # ben's answer is gone
    _label(api, sid, "ben", [(a, "c2")])
    r = api.post(f"/sessions/{sid}/labels/undo", headers=as_("ann")).json()
    assert r["undone"]["kept"] == [a] and r["undone"]["items"] == [{"item_id": b, "score": None}]
    got = _labels(api, sid)
    assert (got[a]["class"], got[a]["labeler"]) == ("c2", "ben") and b not in got


def test_every_class_strategy_skips_leased_items(api, make_dataset):
    """Each strategy gives a named labeler what it gives a caller without a name; once that is
    leased, the next caller's batch holds none of it, and the labeler's next batch is theirs again."""
    _, labels, ids = make_dataset(n=400, clusters=3)
    sid = _session(api, ids, labels)
    leased: set[str] = set()

    def batch(who, strategy):
        r = api.post(f"/sessions/{sid}/next", json={"k": 8, "strategy": strategy}, headers=as_(who))
        assert r.status_code == 200, r.text
        return r.json()

    for n, strategy in enumerate(("balanced", "margin", "top", "random")):
        before = [i["id"] for i in batch("", strategy)["items"]]
        got = batch(f"labeler{n}", strategy)
        assert got["lease_seconds"] == 600 and all(i["class"] in CLASSES for i in got["items"])
        ids_got = [i["id"] for i in got["items"]]
        assert ids_got == before, strategy  # the same rule, the same rows
        assert len(set(ids_got)) == 8 and not set(ids_got) & leased, strategy
        leased |= set(ids_got)
        after = [i["id"] for i in batch("", strategy)["items"]]
        assert len(after) == 8 and not set(after) & leased, strategy
        assert [i["id"] for i in batch(f"labeler{n}", "random")["items"]] == ids_got  # a reload: theirs again
