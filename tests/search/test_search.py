import numpy as np
import pytest

from tests.fixtures import exact_topk


def test_search_by_vector_matches_exact_scan(api, make_dataset):
    vectors, _, ids = make_dataset(n=800, dim=16)
    rng = np.random.default_rng(1)
    for _ in range(5):
        q = rng.normal(size=16)
        r = api.post("/datasets/toy/search", json={"vector": q.tolist(), "k": 10})
        assert r.status_code == 200, r.text
        got = [i["id"] for i in r.json()["items"]]
        want = [ids[i] for i in exact_topk(vectors, q, 10)]
        assert got == want
        scores = [i["score"] for i in r.json()["items"]]
        assert scores == sorted(scores, reverse=True)
        np.testing.assert_allclose(scores, np.sort(vectors @ (q / np.linalg.norm(q)))[::-1][:10], atol=1e-5)


def test_search_by_item_id(api, make_dataset):
    vectors, _, ids = make_dataset(n=300)
    r = api.post("/datasets/toy/search", json={"item_id": ids[7], "k": 3, "exclude_ids": [ids[7]]})
    assert r.status_code == 200
    want = [ids[i] for i in exact_topk(vectors, vectors[7], 3, exclude=[7])]
    assert [i["id"] for i in r.json()["items"]] == want


def test_exact_k_with_thousands_of_exclusions(api, make_dataset):
    """ANN post-filtering drops excluded rows; the service still returns exactly k."""
    vectors, _, ids = make_dataset(n=3000, dim=16, clusters=3)
    q = vectors[0]
    order = exact_topk(vectors, q, 3000)
    excluded = [ids[i] for i in order[:1200]]  # the 1,200 nearest: the worst case for a post-filter
    r = api.post("/datasets/toy/search", json={"vector": q.tolist(), "k": 10, "exclude_ids": excluded})
    assert r.status_code == 200, r.text
    got = [i["id"] for i in r.json()["items"]]
    assert len(got) == 10
    assert not set(got) & set(excluded)
    assert got == [ids[i] for i in order[1200:1210]]


def test_fewer_than_k_left(api, make_dataset):
    _, _, ids = make_dataset(n=20)
    r = api.post("/datasets/toy/search", json={"item_id": ids[0], "k": 10, "exclude_ids": ids[:15]})
    assert r.status_code == 200
    assert sorted(i["id"] for i in r.json()["items"]) == ids[15:]


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"vector": [1.0, 2.0], "k": 5}, 400, "dimensions"),
        ({"vector": [0.0] * 16}, 400, "zeros"),
        ({"item_id": "nope"}, 404, "No item"),
        ({"k": 5}, 400, "exactly one"),
        ({"item_id": "item-00001", "k": 0}, 422, "k"),
    ],
)
def test_search_bad_input(shared_api, body, status, words):
    r = shared_api.post("/datasets/toy/search", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_unknown_dataset(api):
    r = api.get("/datasets/nothere")
    assert r.status_code == 404
    assert "Unknown dataset" in r.json()["detail"]
    r = api.post("/datasets/Bad-Name/search", json={"item_id": "x"})
    assert r.status_code == 400 and "Invalid dataset name" in r.json()["detail"]


def test_dataset_listing(api, make_dataset):
    make_dataset(n=123, dim=8)
    r = api.get("/datasets/toy")
    assert r.status_code == 200
    body = r.json()
    assert body["rows"] == 123 and body["dim"] == 8 and body["table"] == "items_toy"
    assert [d["name"] for d in api.get("/datasets").json()] == ["toy"]


def test_small_tables_are_scanned_by_default(store, make_dataset):
    from vectrain.core.config import Settings
    from vectrain.search.find import search

    vectors, _, ids = make_dataset(n=600, dim=16)
    threshold = Settings.model_fields["ann_min_rows"].default
    assert threshold > 600
    default = store.settings.model_copy(update={"ann_min_rows": threshold})
    store.settings = default
    for i in range(0, 600, 7):  # every item is its own nearest: the scan is exact
        result = search(store, "toy", item_id=ids[i], k=5)
        assert result.plan == "exact" and result.items[0]["id"] == ids[i]
    store.settings = default.model_copy(update={"ann_min_rows": 600})  # at the threshold: the index answers
    assert search(store, "toy", item_id=ids[0], k=5).plan == "ann"
