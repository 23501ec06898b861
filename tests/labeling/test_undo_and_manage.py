"""Undo across a session's history, deleting and renaming sessions, through the REST API on the
real engine: undo restores exactly what an action replaced (provenance included), one step per
request however many items, after a restart of the app and after the labels table merged;
a deleted session leaves nothing behind and frees its name; a renamed one publishes again."""

import uuid

from fastapi.testclient import TestClient

from vectrain.api.app import create_app


def _name():
    return "t_" + uuid.uuid4().hex[:10]  # SQL functions are global to the engine


def _session(api, **start):
    r = api.post("/sessions", json={"dataset": "toy", "name": _name(), **start})
    assert r.status_code == 201, r.text
    return r.json()


def _labels(api, sid):
    return {x["item_id"]: x["score"] for x in api.get(f"/sessions/{sid}/labels").json()["labels"]}


def _label(api, sid, pairs, **extra):
    r = api.post(f"/sessions/{sid}/labels", json={"labels": [{"item_id": i, "score": s, **extra} for i, s in pairs]})
    assert r.status_code == 200, r.text
    return r.json()


def _undo(api, sid):
    return api.post(f"/sessions/{sid}/labels/undo")


def test_undo_walks_back_through_the_history_one_action_at_a_time(api, make_dataset, store):
    vectors, _, ids = make_dataset(n=200)
    s = _session(api, positive_ids=ids[:2])  # the examples are the first action
    sid = s["id"]
    _label(api, sid, [(i, -1.0) for i in ids[2:20]])  # 18 at once
    _label(api, sid, [(ids[2], 1.0), (ids[3], 0.5)])  # relabel two
    assert api.post(f"/sessions/{sid}/labels/remove", json={"item_ids": ids[4:7]}).status_code == 200
    assert _labels(api, sid) == {
        ids[0]: 1.0,
        ids[1]: 1.0,
        ids[2]: 1.0,
        ids[3]: 0.5,
        **{i: -1.0 for i in ids[7:20]},
    }

    # The merge keeps only the newest version of each label: undo does not need the older ones.
    store.client.command(f"OPTIMIZE TABLE `{store.database}`.labels FINAL")

    # Undo the removal: the three labels are back as they were.
    r = _undo(api, sid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["undone"]["kind"] == "remove" and body["more"] is True
    assert {x["item_id"]: x["score"] for x in body["undone"]["items"]} == {i: -1.0 for i in ids[4:7]}
    assert body["labels"]["labeled"] == 20

    # A new app on the same database (a restart): the history is in the database.
    with TestClient(create_app(store.settings, store)) as again:
        r = _undo(again, sid)  # the relabel of two: back to -1
        assert r.json()["undone"]["kind"] == "label"
        assert {x["item_id"]: x["score"] for x in r.json()["undone"]["items"]} == {ids[2]: -1.0, ids[3]: -1.0}
        assert _labels(again, sid) == {ids[0]: 1.0, ids[1]: 1.0, **{i: -1.0 for i in ids[2:20]}}
        r = _undo(again, sid)  # the 18 at once: one step, and they have no label again
        assert r.json()["undone"]["items"] == [{"item_id": i, "score": None} for i in sorted(ids[2:20])]
        assert _labels(again, sid) == {ids[0]: 1.0, ids[1]: 1.0}
        r = _undo(again, sid)  # the session's examples
        assert r.json()["more"] is False and _labels(again, sid) == {}
        r = _undo(again, sid)
        assert r.status_code == 404 and r.json()["code"] == "nothing_to_undo"
        assert "Nothing to undo" in r.json()["detail"]
    # The labels count that next batches exclude follows undo (the state cache is updated).
    got = api.post(f"/sessions/{sid}/next", json={"k": 10}).json()["items"]
    assert len(got) == 10


def test_undo_restores_provenance_and_a_relabel_after_an_undo_is_undoable(api, make_dataset):
    vectors, _, ids = make_dataset(n=120)
    sid = _session(api, vector=vectors[0].tolist(), audit_rate=0.5)["id"]
    batch = api.post(f"/sessions/{sid}/next", json={"k": 4, "audit": 2}).json()
    audit = [i["id"] for i in batch["items"] if i["source"] == "audit"]
    _label(api, sid, [(i, 1.0) for i in audit], source="audit", round=0)
    before = {x["item_id"]: x for x in api.get(f"/sessions/{sid}/labels").json()["labels"]}
    _label(api, sid, [(audit[0], -1.0)])  # a relabel by hand keeps it an audit label
    assert _undo(api, sid).status_code == 200
    after = {x["item_id"]: x for x in api.get(f"/sessions/{sid}/labels").json()["labels"]}
    assert after == before  # score, source, audit, round and time, exactly
    _label(api, sid, [(audit[1], 0.5)])
    assert _undo(api, sid).json()["undone"]["items"] == [{"item_id": audit[1], "score": 1.0}]


def test_delete_a_session_removes_everything_and_frees_its_name(api, make_dataset, store):
    vectors, _, ids = make_dataset(n=150)
    name = _name()
    sid = api.post("/sessions", json={"dataset": "toy", "name": name, "positive_ids": ids[:2]}).json()["id"]
    _label(api, sid, [(i, -1.0) for i in ids[2:8]])
    assert api.post(f"/sessions/{sid}/train", json={}).status_code == 200
    assert api.post(f"/sessions/{sid}/apply", json={}).status_code == 200
    function = api.get(f"/sessions/{sid}").json()["function"]
    r = api.delete(f"/sessions/{sid}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": sid, "name": name, "dataset": "toy", "labels": 8}
    assert api.get(f"/sessions/{sid}").json()["code"] == "session_not_found"
    assert api.delete(f"/sessions/{sid}").status_code == 404
    for table in ("labels", "label_history", "rounds", "predictions", "unseen_decisions"):
        n = store.client.query(
            f"SELECT count() FROM `{store.database}`.{table} WHERE session_id = {{s:String}}", parameters={"s": sid}
        ).result_rows[0][0]
        assert n == 0, table
    functions = store.client.query(
        "SELECT name FROM system.functions WHERE name = {f:String}", parameters={"f": function}
    )
    assert functions.result_rows == []
    assert sid not in [s["id"] for s in api.get("/sessions").json()]
    # The name is free again.
    again = api.post("/sessions", json={"dataset": "toy", "name": name, "positive_ids": ids[:1]})
    assert again.status_code == 201 and again.json()["labels"]["labeled"] == 1


def test_rename_a_session_publishes_again_and_frees_the_old_name(api, make_dataset, store):
    vectors, _, ids = make_dataset(n=150)
    old, new = _name(), _name()
    sid = api.post("/sessions", json={"dataset": "toy", "name": old, "positive_ids": ids[:2]}).json()["id"]
    _label(api, sid, [(i, -1.0) for i in ids[2:8]])
    api.post(f"/sessions/{sid}/train", json={})
    applied = api.post(f"/sessions/{sid}/apply", json={}).json()
    taken = _session(api, positive_ids=ids[:1])["name"]

    r = api.patch(f"/sessions/{sid}", json={"name": taken})
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    assert api.patch(f"/sessions/{sid}", json={"name": "Bad-Name"}).status_code == 422
    assert api.patch(f"/sessions/{sid}", json={"name": "a__b"}).status_code == 400

    r = api.patch(f"/sessions/{sid}", json={"name": new})
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["name"] == new and info["function"].endswith(f"__{new}") and info["labels"]["labeled"] == 8
    assert info["rounds"] == api.get(f"/sessions/{sid}").json()["rounds"]
    # The new function counts what apply counted; the old one is gone.
    count = api.post("/sql", json={"query": f"SELECT countIf({info['function']}(vector) > 0) FROM items_toy"})
    assert count.status_code == 200, count.text
    assert count.json()["rows"][0][0] == applied["positives"]
    old_function = applied["function"]
    gone = api.post("/sql", json={"query": f"SELECT {old_function}(vector) FROM items_toy LIMIT 1"})
    assert gone.status_code >= 400
    assert api.patch(f"/sessions/{sid}", json={"name": new}).json()["name"] == new  # idempotent
    # The old name is free.
    assert api.post("/sessions", json={"dataset": "toy", "name": old, "positive_ids": ids[:1]}).status_code == 201
