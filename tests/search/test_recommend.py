"""Search and sessions with positive and negative examples, against numpy references on data
with known structure: negatives move results away from them, examples never come back, exactly
k rows under exclusions, through the index and by scan; bad examples are 4xx with codes."""

import uuid

import numpy as np
import pytest

from vectrain.search.recommend import average_vector, best_scores


def _search(api, **body):
    r = api.post("/datasets/toy/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _reference(scores, ids, k, exclude):
    order = sorted((i for i in range(len(ids)) if ids[i] not in exclude), key=lambda i: (-scores[i], ids[i]))
    return [ids[i] for i in order[:k]]


def test_average_vector_is_qdrants_formula_and_negatives_push_results_away(api, make_dataset):
    vectors, labels, ids = make_dataset(n=800, clusters=4)
    pos = [ids[i] for i in np.flatnonzero(labels == 0)[:3]]
    neg = [ids[i] for i in np.flatnonzero(labels == 1)[:3]]
    P, N = vectors[[ids.index(i) for i in pos]], vectors[[ids.index(i) for i in neg]]
    q = 2 * P.mean(axis=0) - N.mean(axis=0)
    np.testing.assert_allclose(average_vector(P, N), q / np.linalg.norm(q), atol=1e-6)
    got = _search(api, positive_ids=pos, negative_ids=neg, k=20, exact=True)
    want = _reference(vectors @ (q / np.linalg.norm(q)), ids, 20, set(pos + neg))
    assert [i["id"] for i in got["items"]] == want
    # Against the positives alone, every result got further from the negatives.
    alone = _search(api, positive_ids=pos, k=20, exact=True)
    near_neg = lambda items: np.mean([vectors[ids.index(i["id"])] @ N.mean(axis=0) for i in items])
    assert near_neg(got["items"]) < near_neg(alone["items"])


def test_a_negative_drops_what_looks_like_it(api, make_dataset):
    vectors, labels, ids = make_dataset(n=600, clusters=3)
    pos = ids[0]
    first = _search(api, positive_ids=[pos], k=10, exact=True)["items"]
    negative = first[0]["id"]  # the best match so far turns out to be wrong
    similar = {i["id"] for i in _search(api, item_id=negative, k=5, exact=True)["items"]}
    for strategy in ("average_vector", "best_score"):
        got = _search(api, positive_ids=[pos], negative_ids=[negative], k=10, strategy=strategy, exact=True)
        assert negative not in {i["id"] for i in got["items"]}
        ranks_before = [r for r, i in enumerate(first) if i["id"] in similar]
        ranks_after = [r for r, i in enumerate(got["items"]) if i["id"] in similar]
        assert len(ranks_after) < len(ranks_before) or np.mean(ranks_after or [10]) > np.mean(ranks_before), strategy


@pytest.mark.parametrize("exact", [True, False], ids=["scan", "index"])
def test_best_score_matches_the_reference_with_exact_k_under_exclusions(api, store, make_dataset, exact):
    vectors, labels, ids = make_dataset(n=3000, dim=16, clusters=6)
    rng = np.random.default_rng(4)
    pos = [ids[i] for i in rng.choice(np.flatnonzero(labels == 2), 3, replace=False)]
    neg = [ids[i] for i in rng.choice(np.flatnonzero(labels != 2), 2, replace=False)]
    extra = rng.normal(size=16)
    exclude = [ids[i] for i in np.argsort(-(vectors @ vectors[ids.index(pos[0])]))[:40]]  # the nearest 40
    P = np.concatenate([vectors[[ids.index(i) for i in pos]], (extra / np.linalg.norm(extra))[None]])
    N = vectors[[ids.index(i) for i in neg]]
    got = _search(
        api,
        positive_ids=pos,
        positive_vectors=[extra.tolist()],
        negative_ids=neg,
        k=25,
        strategy="best_score",
        exclude_ids=exclude,
        exact=exact,
    )
    scores = best_scores(vectors, P, N)
    want = _reference(scores, ids, 25, set(exclude + pos + neg))
    got_ids = [i["id"] for i in got["items"]]
    assert got["plan"] == ("exact" if exact else "ann")
    if exact:
        assert got_ids == want
    else:  # the HNSW index is approximate: exactly k, none excluded, nearly all of the true top k
        assert len(set(got_ids)) == 25 and not set(got_ids) & set(exclude + pos + neg)
        # The engine builds the graph in parallel, so recall varies from build to build: 17-25 of
        # 25 seen across runs. 15 still fails a plan that is not nearest-first (random picks
        # share about 25 x 25 / 3,000 with the true top 25); speed and recall at scale: bench.scale.
        assert len(set(got_ids) & set(want)) >= 15, (got_ids, want)
    np.testing.assert_allclose([i["score"] for i in got["items"]], [scores[ids.index(i)] for i in got_ids], atol=1e-5)
    assert [i["score"] for i in got["items"]] == sorted((i["score"] for i in got["items"]), reverse=True)


def test_negatives_alone_and_the_reference_formula(api, make_dataset):
    vectors, labels, ids = make_dataset(n=300)
    got = _search(api, negative_ids=ids[:2], k=5, strategy="best_score")
    N = vectors[:2]
    scores = best_scores(vectors, np.zeros((0, 16), np.float32), N)
    assert [i["id"] for i in got["items"]] == _reference(scores, ids, 5, set(ids[:2]))
    # best_score by hand: the positive's similarity wins when it is at least the negative's.
    v = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    s = best_scores(v, np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
    np.testing.assert_allclose(s, [1.0, -1.0, -(0.8**2)])


def test_single_query_search_is_unchanged(api, make_dataset):
    vectors, _, ids = make_dataset(n=200)
    got = _search(api, item_id=ids[3], k=5, exclude_ids=[ids[3]], exact=True)
    want = _reference(vectors @ vectors[3], ids, 5, {ids[3]})
    assert [i["id"] for i in got["items"]] == want


@pytest.mark.parametrize(
    "body, status, code, words",
    [
        (
            {"positive_ids": ["item-00001"], "negative_ids": ["item-00001"]},
            400,
            "bad_input",
            "both positive and negative",
        ),
        ({"positive_ids": ["nope"]}, 404, "item_not_found", "not in dataset"),
        ({"positive_ids": ["item-00001"], "item_id": "item-00002"}, 400, "bad_input", "exactly one"),
        ({"positive_ids": ["item-00001"], "strategy": "sum"}, 422, "invalid_request", "strategy"),
        ({"positive_vectors": [[1.0, 2.0]]}, 400, "bad_input", "dimensions"),
        ({"positive_vectors": [[0.0] * 16]}, 400, "bad_input", "zeros"),
        ({"positive_ids": [], "negative_ids": []}, 400, "bad_input", "at least one example"),
        ({"positive_ids": [f"item-{i:05d}" for i in range(70)]}, 413, "too_large", "VECTRAIN_SEARCH_MAX_EXAMPLES"),
        (
            {"positive_ids": ["item-00001"], "negative_ids": ["item-00001"], "strategy": "best_score"},
            400,
            "bad_input",
            "both",
        ),
    ],
)
def test_bad_examples_are_4xx_with_codes(shared_api, body, status, code, words):
    r = shared_api.post("/datasets/toy/search", json=body)
    assert r.status_code == status, r.text
    assert r.json()["code"] == code and words in r.json()["detail"]


def test_examples_that_cancel_out_have_no_direction(api, make_dataset):
    vectors, _, _ = make_dataset(n=50)
    r = api.post("/datasets/toy/search", json={"positive_vectors": [vectors[0].tolist(), (-vectors[0]).tolist()]})
    assert r.status_code == 400 and "no direction" in r.json()["detail"]


def test_a_session_starts_from_positives_and_negatives(api, make_dataset):
    vectors, labels, ids = make_dataset(n=300, clusters=3)
    pos, neg = [ids[i] for i in np.flatnonzero(labels == 0)[:3]], [ids[i] for i in np.flatnonzero(labels == 1)[:2]]
    r = api.post(
        "/sessions",
        json={"dataset": "toy", "name": "n_" + uuid.uuid4().hex[:8], "positive_ids": pos, "negative_ids": neg},
    )
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["labels"] == {"labeled": 5, "positives": 3, "negatives": 2, "neutral": 0}
    stored = {x["item_id"]: (x["score"], x["source"]) for x in api.get(f"/sessions/{s['id']}/labels").json()["labels"]}
    assert stored == {**{i: (1.0, "user") for i in pos}, **{i: (-1.0, "user") for i in neg}}
    w = np.asarray(api.get(f"/sessions/{s['id']}/weights").json()["weights"])
    q = 2 * vectors[[ids.index(i) for i in pos]].mean(axis=0) - vectors[[ids.index(i) for i in neg]].mean(axis=0)
    np.testing.assert_allclose(w, q / np.linalg.norm(q), atol=1e-6)
    # The session's first top batch is the search by the same examples.
    top = api.post(f"/sessions/{s['id']}/next", json={"k": 8, "strategy": "top"}).json()["items"]
    found = _search(api, positive_ids=pos, negative_ids=neg, k=8, exact=True)["items"]
    assert [i["id"] for i in top] == [i["id"] for i in found]


@pytest.mark.parametrize(
    "body, words",
    [
        ({"negative_ids": ["item-00001"], "vector": [1.0] * 16}, "negative_ids go with positive_ids"),
        ({"positive_ids": ["item-00001"], "negative_ids": ["item-00001"]}, "both positive and negative"),
        ({"positive_ids": ["item-00001"], "negative_ids": ["nope"]}, "not in dataset"),
    ],
)
def test_bad_session_examples(shared_api, body, words):
    r = shared_api.post("/sessions", json={"dataset": "toy", "name": "n_" + uuid.uuid4().hex[:8], **body})
    assert 400 <= r.status_code < 500 and words in r.json()["detail"], r.text
