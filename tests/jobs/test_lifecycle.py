"""Deleting a dataset (refused while in use, forced with everything that refers to it) and the
exports of a dataset and a session, read back with pandas."""

import io
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from vectrain.jobs import exports
from vectrain.storage.query import Query


def count(store, sql, **params) -> int:
    return int(store.scalar(Query(sql, params)))


@pytest.fixture
def used(api, store, make_dataset):
    """A dataset with a session (labeled, applied: a published function and view) and stored
    zero-shot predictions."""
    vectors, labels, ids = make_dataset("toy", n=300, dim=16, clusters=4)
    centers = [vectors[labels == c].mean(axis=0).tolist() for c in range(4)]
    assert (
        api.post(
            "/labelsets", json={"name": "four", "labels": [f"c{c}" for c in range(4)], "vectors": centers}
        ).status_code
        == 201
    )
    assert api.post("/classify/zero-shot", json={"dataset": "toy", "labelset": "four"}).status_code == 200
    s = api.post("/sessions", json={"dataset": "toy", "name": "zeros", "positive_ids": ids[:2]}).json()
    negatives = [i for i, label in zip(ids, labels) if label != labels[0]][:3]
    api.post(
        f"/sessions/{s['id']}/labels",
        json={"labels": [{"item_id": i, "score": -1} for i in negatives] + [{"item_id": ids[5], "score": 0.5}]},
    )
    assert api.post(f"/sessions/{s['id']}/train").status_code == 200
    assert api.post(f"/sessions/{s['id']}/apply").status_code == 200
    return {"session": s, "ids": ids, "vectors": vectors, "labels": labels, "negatives": negatives}


def test_delete_is_refused_while_in_use_then_forced(api, store, used):
    s = used["session"]
    function = s["function"]
    r = api.delete("/datasets/toy")
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    assert "1 session(s) (zeros)" in r.json()["detail"] and "four" in r.json()["detail"]
    assert "force" in r.json()["detail"]
    assert api.get("/datasets/toy").json()["rows"] == 300  # nothing was removed
    assert count(store, "SELECT count() FROM system.functions WHERE name = {f:String}", f=function) == 1
    r = api.delete("/datasets/toy", params={"force": "true"})
    assert r.status_code == 200, r.text
    assert r.json() == {"dataset": "toy", "rows": 300, "sessions": ["zeros"], "labelsets": ["four"]}
    assert api.get("/datasets/toy").status_code == 404
    assert not store.table_exists("items_toy") and not store.table_exists("clf_zeros")
    assert count(store, "SELECT count() FROM system.functions WHERE name = {f:String}", f=function) == 0
    for table, column in (("predictions", "session_id"), ("labels", "session_id"), ("rounds", "session_id")):
        assert count(store, f"SELECT count() FROM {table} WHERE {column} = {{s:String}}", s=s["id"]) == 0, table
    assert count(store, "SELECT count() FROM zero_shot WHERE dataset = 'toy'") == 0
    assert api.get(f"/sessions/{s['id']}").status_code == 404
    assert api.get("/labelsets/four").status_code == 200  # label sets belong to no dataset
    assert api.delete("/datasets/toy").status_code == 404
    # the names are free again: a new dataset and a session of the same names
    from vectrain.loaders.writer import DatasetWriter

    w = DatasetWriter(store, "toy", 16, "features", progress=False)
    w.write(ids=["a", "b"], vectors=np.eye(2, 16, dtype=np.float32))
    w.finish()
    assert api.post("/sessions", json={"dataset": "toy", "name": "zeros", "positive_ids": ["a"]}).status_code == 201


def test_delete_an_unused_dataset(api, store, make_dataset):
    make_dataset("plain", n=50, dim=8)
    r = api.delete("/datasets/plain")
    assert r.status_code == 200 and r.json() == {"dataset": "plain", "rows": 50, "sessions": [], "labelsets": []}
    assert api.get("/datasets/plain").status_code == 404 and not store.table_exists("items_plain")
    assert api.delete("/datasets/Bad-Name").status_code == 400


def test_dataset_export_round_trips_through_pandas(api, store, make_dataset, monkeypatch):
    vectors, labels, ids = make_dataset("toy", n=230, dim=8)
    monkeypatch.setattr(exports, "PAGE_ROWS", 64)  # several pages
    monkeypatch.setattr(exports, "VECTOR_PAGE_VALUES", 50 * 8)
    expected = pd.DataFrame(
        {
            "id": ids,
            "label": [f"c{x}" for x in labels],
            "split": ["train" if i % 5 else "test" for i in range(len(ids))],
        }
    )
    r = api.get("/datasets/toy/export", params={"format": "parquet", "vectors": "true"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.parquet"
    assert 'filename="toy.parquet"' in r.headers["content-disposition"]
    got = pd.read_parquet(io.BytesIO(r.content))
    assert list(got.columns) == ["id", "url", "label", "split", "meta", "vector"]
    assert pq.ParquetFile(io.BytesIO(r.content)).num_row_groups == 5  # one per page of 50
    pd.testing.assert_frame_equal(got[["id", "label", "split"]], expected)
    assert (got["url"] == [f"https://example.test/{i}" for i in ids]).all()
    np.testing.assert_allclose(np.stack(got["vector"].to_numpy()), vectors, atol=1e-6)
    r = api.get("/datasets/toy/export", params={"format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    got = pd.read_csv(io.BytesIO(r.content), keep_default_na=False)
    assert list(got.columns) == ["id", "url", "label", "split", "meta"]
    pd.testing.assert_frame_equal(got[["id", "label", "split"]], expected)
    assert all(json.loads(m) == {} for m in got["meta"])
    r = api.get("/datasets/toy/export", params={"format": "csv", "vectors": "true"})
    got = pd.read_csv(io.BytesIO(r.content), keep_default_na=False)
    np.testing.assert_allclose(np.array([json.loads(v) for v in got["vector"]]), vectors, atol=1e-6)
    assert api.get("/datasets/nope/export").status_code == 404
    assert api.get("/datasets/toy/export", params={"format": "xml"}).status_code == 422


def test_session_export_has_labels_and_latest_predictions(api, store, used, monkeypatch):
    monkeypatch.setattr(exports, "PAGE_ROWS", 100)
    s = used["session"]
    labels = {x["item_id"]: x["score"] for x in api.get(f"/sessions/{s['id']}/labels").json()["labels"]}
    predictions = api.get(f"/sessions/{s['id']}/predictions", params={"limit": 1000}).json()
    r = api.get(f"/sessions/{s['id']}/export")
    assert r.status_code == 200 and 'filename="zeros_r1.csv"' in r.headers["content-disposition"]
    got = pd.read_csv(io.BytesIO(r.content))
    assert list(got.columns) == ["id", "label", "score", "positive", "round"]
    assert len(got) == 300 and got["id"].is_unique and (got["round"] == predictions["round"]).all()
    by_id = got.set_index("id")
    for p in predictions["items"]:
        assert by_id.loc[p["id"], "score"] == pytest.approx(p["score"], abs=1e-5)
        assert bool(by_id.loc[p["id"], "positive"]) == p["positive"]
    assert by_id["label"].dropna().to_dict() == pytest.approx(labels)
    lines = pd.read_json(
        io.BytesIO(api.get(f"/sessions/{s['id']}/export", params={"format": "jsonl"}).content), lines=True
    )
    assert len(lines) == 300 and lines.set_index("id")["label"].dropna().to_dict() == pytest.approx(labels)
    # before any apply: the labels alone
    fresh = api.post("/sessions", json={"dataset": "toy", "name": "fresh", "positive_ids": used["ids"][:3]}).json()
    got = pd.read_csv(io.BytesIO(api.get(f"/sessions/{fresh['id']}/export").content))
    assert sorted(got["id"]) == sorted(used["ids"][:3]) and (got["label"] == 1).all() and got["score"].isna().all()
    assert api.get("/sessions/nope/export").status_code == 404
