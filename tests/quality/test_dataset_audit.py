"""Label errors and near-duplicates over a whole dataset, on data with planted answers: flipped
labels are found, planted duplicates grouped exactly (across matmul blocks too), results stored
in tables analysts can join, and bad requests are 4xx with codes."""

import json

import numpy as np
import pytest

from tests.fixtures import clustered
from vectrain.core.budget import Deadline
from vectrain.core.errors import TimeBudgetExceeded, TooLarge
from vectrain.quality import duplicates, label_errors


def flipped(labels, share, classes, seed=0):
    rng = np.random.default_rng(seed)
    out = np.array(labels, dtype=object)
    picks = rng.choice(len(out), size=int(share * len(out)), replace=False)
    for i in picks:
        out[i] = rng.choice([c for c in classes if c != out[i]])
    return list(out), set(picks.tolist())


def planted(n_base=400, dim=32, copies=(1, 2, 3), noise=0.02, seed=0):
    """Random unit vectors (no two near each other) and groups of noisy copies of some of them."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_base, dim))
    vectors, groups = [*base], []
    for g, extra in enumerate(rng.choice(copies, size=n_base // 10)):
        members = [g]
        for _ in range(extra):
            members.append(len(vectors))
            vectors.append(base[g] + noise * rng.normal(size=dim))
        groups.append(sorted(members))
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, groups


def test_flipped_labels_are_the_top_suspects():
    vectors, y = clustered(1000, 16, clusters=5, noise=0.4, seed=1)
    classes = [f"c{i}" for i in range(5)]
    labels, flips = flipped([f"c{i}" for i in y], 0.05, classes)
    found = label_errors.find_suspects(vectors, labels, k=10)
    top = set(found.index[: len(flips)].tolist())
    assert len(top & flips) / len(flips) >= 0.95
    for n, i in enumerate(found.index[: len(flips)]):
        if i in flips:
            assert found.suggested[n] == f"c{y[i]}"  # the true label
    assert np.all(np.diff(found.score) <= 1e-12)  # most suspect first
    clean = label_errors.find_suspects(vectors, [f"c{i}" for i in y], k=10)
    assert len(clean.index) <= 2


def test_planted_duplicates_are_grouped_exactly_across_blocks(monkeypatch):
    vectors, groups = planted()
    monkeypatch.setattr(label_errors, "BLOCK_BYTES", 4 * len(vectors) * 32)  # 32-row blocks
    assert label_errors.block_rows(len(vectors)) == 32
    seen = []
    found = duplicates.duplicate_groups(vectors, 0.98, progress=lambda done, total: seen.append((done, total)))
    assert sorted(g.tolist() for g in found.groups) == sorted(groups)
    assert seen[-1] == (len(vectors), len(vectors)) and len(seen) == -(-len(vectors) // 32)
    # The reference: every pair, brute force.
    sims = vectors @ vectors.T
    pairs = {(i, j) for i, j in zip(*np.nonzero(sims >= 0.98)) if i < j}
    assert found.pairs == len(pairs)
    members = np.concatenate(found.groups)
    np.testing.assert_allclose(
        found.similarity[members], np.where(np.eye(len(sims), dtype=bool), -1, sims).max(axis=1)[members], atol=1e-5
    )
    assert sizes_desc(found.groups)


def sizes_desc(groups):
    return all(len(a) >= len(b) for a, b in zip(groups, groups[1:]))


def test_chains_make_one_group_and_too_many_pairs_stop():
    v = np.array([[1, 0], [np.cos(0.1), np.sin(0.1)], [np.cos(0.2), np.sin(0.2)], [0, 1]], dtype=np.float32)
    found = duplicates.duplicate_groups(v, np.cos(0.15))
    assert [g.tolist() for g in found.groups] == [[0, 1, 2]]  # 0-1 and 1-2 link; 0-2 do not
    with pytest.raises(TooLarge, match="Raise the threshold"):
        duplicates.duplicate_groups(v, -1.0, max_pairs=3)
    with pytest.raises(TimeBudgetExceeded):
        duplicates.duplicate_groups(v, 0.5, deadline=Deadline(0.0, "the test"))


def _load(store, name, vectors, labels=None, splits=None):
    from vectrain.loaders.writer import DatasetWriter

    ids = [f"x{i:05d}" for i in range(len(vectors))]
    writer = DatasetWriter(store, name, vectors.shape[1], "features", progress=False)
    writer.write(ids=ids, vectors=vectors, labels=labels, splits=splits)
    writer.finish(build_index=False)
    return ids


def test_label_audit_api_stores_a_run_analysts_can_join(api, store):
    vectors, y = clustered(600, 16, clusters=4, noise=0.4, seed=2)
    labels, flips = flipped([f"c{i}" for i in y], 0.05, [f"c{i}" for i in range(4)], seed=3)
    ids = _load(store, "pets", vectors, labels, splits=["train" if i % 3 else "test" for i in range(600)])
    r = api.post("/datasets/pets/audit/labels", json={"limit": len(flips)})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["checked"] == 600 and len(out["items"]) == len(flips) and out["table"] == "label_issues"
    assert len({ids.index(x["id"]) for x in out["items"]} & flips) / len(flips) >= 0.9
    first = out["items"][0]
    assert first["suggested"] != first["label"] and len(first["neighbors"]) == 10 and first["score"] > 0
    joined = store.client.query(
        "SELECT count() FROM label_issues AS s INNER JOIN items_pets AS i ON i.id = s.id "
        "WHERE s.dataset = 'pets' AND s.run_at = (SELECT max(run_at) FROM label_issues WHERE dataset = 'pets')"
    ).result_rows[0][0]
    assert joined == out["flagged"]
    again = api.get("/datasets/pets/audit/labels", params={"limit": len(flips)}).json()
    assert [x["id"] for x in again["items"]] == [x["id"] for x in out["items"]] and again["run_at"] == out["run_at"]
    # A split: its labeled items, voted on by the same split only.
    r = api.post("/datasets/pets/audit/labels", json={"split": "test", "k": 5})
    assert r.status_code == 200 and r.json()["checked"] == 200 and r.json()["split"] == "test"
    assert {ids.index(x["id"]) % 3 for x in r.json()["items"]} <= {0}


def test_duplicate_audit_api(api, store):
    vectors, groups = planted(n_base=300, dim=16)
    ids = _load(store, "snaps", vectors)
    r = api.post("/datasets/snaps/audit/duplicates", json={"threshold": 0.98})
    assert r.status_code == 200, r.text
    out = r.json()
    want = sorted(sorted(ids[i] for i in g) for g in groups)
    assert sorted(out["groups"]) == want and out["count"] == len(groups) and out["checked"] == len(vectors)
    assert out["items"] == sum(len(g) for g in groups)
    stored = store.client.query(
        "SELECT group_id, groupArray(id) FROM duplicate_groups WHERE dataset = 'snaps' GROUP BY group_id"
    ).result_rows
    assert sorted(sorted(g) for _, g in stored) == want
    latest = api.get("/datasets/snaps/audit/duplicates", params={"limit": 2}).json()
    assert latest["groups"] == out["groups"][:2] and latest["truncated"] is True


@pytest.mark.parametrize(
    "method, path, body, status, code",
    [
        ("post", "/datasets/nope/audit/labels", {}, 404, "dataset_not_found"),
        ("post", "/datasets/toy/audit/labels", {"split": "nope"}, 400, "bad_input"),
        ("post", "/datasets/toy/audit/labels", {"k": 0}, 422, "invalid_request"),
        ("post", "/datasets/toy/audit/labels", {"k": 100000}, 400, "bad_input"),
        ("post", "/datasets/toy/audit/labels", {"min_agreement": 2}, 422, "invalid_request"),
        ("post", "/datasets/toy/audit/labels", {"limit": 10**9}, 400, "bad_input"),
        ("post", "/datasets/toy/audit/duplicates", {"threshold": 1.5}, 422, "invalid_request"),
        ("post", "/datasets/toy/audit/duplicates", {"threshold": 0}, 422, "invalid_request"),
        ("post", "/datasets/toy/audit/duplicates", {"bogus": 1}, 422, "invalid_request"),
        ("get", "/datasets/toy/audit/duplicates", None, 404, "not_found"),
    ],
)
def test_audit_errors_are_4xx_with_codes(api, make_dataset, method, path, body, status, code):
    make_dataset(n=60)
    r = getattr(api, method)(path, **({"json": body} if body is not None else {}))
    assert r.status_code == status, r.text
    assert r.json()["code"] == code


def test_over_the_time_budget_points_at_the_cli(api, store, make_dataset):
    make_dataset(n=200)
    store.settings = store.settings.model_copy(update={"batch_time_budget": 1e-9})
    r = api.post("/datasets/toy/audit/labels", json={})
    assert r.status_code == 422 and r.json()["code"] == "time_budget_exceeded"
    assert "vectrain audit labels toy" in r.json()["detail"]


def test_audit_cli(api, make_dataset, monkeypatch):
    import httpx
    from click.testing import CliRunner

    from vectrain.cli.main import main

    make_dataset(n=120)
    monkeypatch.setattr(
        httpx,
        "request",
        lambda method, url, timeout=None, **kw: api.request(method, url.replace("http://svc", ""), **kw),
    )
    runner = CliRunner()
    r = runner.invoke(main, ["--url", "http://svc", "audit", "labels", "toy", "--limit", "3"])
    assert r.exit_code == 0 and "labeled items flagged" in r.output, r.output
    r = runner.invoke(main, ["--url", "http://svc", "--json", "audit", "duplicates", "toy", "--threshold", "0.999"])
    assert r.exit_code == 0 and json.loads(r.output)["checked"] == 120
    r = runner.invoke(main, ["--url", "http://svc", "audit", "duplicates", "toy", "--threshold", "7"])
    assert r.exit_code != 0 and "threshold" in r.output and "Traceback" not in r.output
