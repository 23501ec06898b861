"""vectrain load features: happy paths, idempotent re-load, and every bad input leaving the
dataset exactly as it was."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.fixtures import clustered
from vectrain.core.errors import BadInput
from vectrain.core.names import items_table
from vectrain.loaders.features import load_features


def write_npz(path, n=50, dim=8, seed=0, **overrides):
    vectors, labels = clustered(n, dim, 3, seed=seed)
    arrays = {
        "vectors": vectors * 3.0,
        "ids": np.array([f"f{seed}-{i}" for i in range(n)]),
        "labels": np.array([f"c{l}" for l in labels]),
        "urls": np.array([f"u{i}" for i in range(n)]),
        "splits": np.array(["train"] * n),
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return arrays


def write_parquet(path, n=50, dim=8, seed=0, vectors=None, ids=None):
    vecs = clustered(n, dim, 3, seed=seed)[0] if vectors is None else vectors
    ids = [f"p{seed}-{i}" for i in range(len(vecs))] if ids is None else ids
    pq.write_table(
        pa.table({"id": ids, "vector": [list(map(float, v)) for v in vecs], "label": ["x"] * len(ids)}),
        path,
        row_group_size=16,
    )
    return vecs, ids


def snapshot(store, name="feat"):
    if not store.table_exists(items_table(name)):
        return None
    return sorted(store.client.query(f"SELECT id, label, vector FROM {items_table(name)}").result_rows)


def test_npz_load_normalizes_and_is_idempotent(store, tmp_path):
    arrays = write_npz(tmp_path / "a.npz", n=60)
    summary = load_features(store, "feat", tmp_path / "a.npz", progress=False)
    assert summary.loaded == 60
    info = store.registry.get("feat")
    assert info["rows"] == 60 and info["dim"] == 8
    rows = store.client.query("SELECT id, vector, label, url, split FROM items_feat ORDER BY id").result_rows
    stored = np.array([r[1] for r in rows], dtype=np.float32)
    np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-6)
    first = {r[0]: r for r in rows}["f0-3"]
    expected = arrays["vectors"][3] / np.linalg.norm(arrays["vectors"][3])
    np.testing.assert_allclose(first[1], expected, atol=1e-6)
    assert first[2:] == (arrays["labels"][3], "u3", "train")
    again = load_features(store, "feat", tmp_path / "a.npz", progress=False)
    assert again.loaded == 0 and again.skipped == 60
    assert store.client.query("SELECT count(), uniqExact(id) FROM items_feat").result_rows == [(60, 60)]


def test_parquet_load_and_index_is_built(store, tmp_path):
    vecs, ids = write_parquet(tmp_path / "a.parquet", n=70)
    assert load_features(store, "feat", tmp_path / "a.parquet", progress=False).loaded == 70
    assert store.registry.get("feat")["rows"] == 70
    plan = "\n".join(
        r[0]
        for r in store.client.query(
            "EXPLAIN indexes = 1 SELECT id FROM items_feat ORDER BY cosineDistance(vector, {q:Array(Float32)}) LIMIT 5",
            parameters={"q": vecs[0].tolist()},
        ).result_rows
    )
    assert "vector_similarity" in plan


def _bad_npz(tmp_path, case):
    path = tmp_path / f"{case}.npz"
    if case == "nan":
        v = clustered(50, 8, 3, seed=5)[0]
        v[10, 2] = np.nan
        write_npz(path, seed=5, vectors=v)
    elif case == "inf":
        v = clustered(50, 8, 3, seed=5)[0]
        v[49, 0] = np.inf
        write_npz(path, seed=5, vectors=v)
    elif case == "zero":
        v = clustered(50, 8, 3, seed=5)[0]
        v[7] = 0
        write_npz(path, seed=5, vectors=v)
    elif case == "dim":
        write_npz(path, seed=5, dim=12)
    elif case == "dupes":
        ids = np.array([f"d{i % 40}" for i in range(50)])
        write_npz(path, seed=5, ids=ids)
    elif case == "empty_id":
        ids = np.array([f"d{i}" if i != 3 else "" for i in range(50)])
        write_npz(path, seed=5, ids=ids)
    elif case == "no_ids":
        write_npz(path, seed=5, ids=None)
    elif case == "no_vectors":
        write_npz(path, seed=5, vectors=None)
    elif case == "count":
        write_npz(path, seed=5, labels=np.array(["a"] * 10))
    elif case == "truncated":
        write_npz(path, seed=5)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "not_npz":
        path.write_text("id,vector\n1,2\n")
    return path


BAD = {
    "nan": "NaN",
    "inf": "infinity",
    "zero": "zeros",
    "dim": "dimensions",
    "dupes": "duplicate",
    "empty_id": "empty",
    "no_ids": "'ids'",
    "no_vectors": "'vectors'",
    "count": "labels",
    "truncated": "truncated",
    "not_npz": "not a readable",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_npz_is_refused_and_nothing_changes(store, tmp_path, case):
    write_npz(tmp_path / "good.npz", n=30, seed=1)
    load_features(store, "feat", tmp_path / "good.npz", progress=False)
    before = snapshot(store)
    with pytest.raises(BadInput) as err:
        load_features(store, "feat", _bad_npz(tmp_path, case), progress=False)
    assert BAD[case] in str(err.value)
    assert snapshot(store) == before
    assert store.registry.get("feat")["dim"] == 8


def test_bad_file_into_a_new_dataset_creates_nothing(store, tmp_path):
    with pytest.raises(BadInput):
        load_features(store, "fresh", _bad_npz(tmp_path, "nan"), progress=False)
    assert [d["name"] for d in store.registry.list()] == []


def test_bad_parquet_files(store, tmp_path):
    write_parquet(tmp_path / "good.parquet", n=30, seed=1)
    load_features(store, "feat", tmp_path / "good.parquet", progress=False)
    before = snapshot(store)

    mixed = tmp_path / "mixed.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "vector": [[1.0] * 8, [1.0] * 7]}), mixed)
    late_nan = clustered(40, 8, 3, seed=9)[0]
    late_nan[39, 1] = np.nan  # in the last row group: found by the checking pass, before any insert
    write_parquet(tmp_path / "late_nan.parquet", vectors=late_nan, seed=9)
    dup = tmp_path / "dup.parquet"
    write_parquet(dup, vectors=clustered(40, 8, 3, seed=9)[0], ids=[f"x{i % 20}" for i in range(40)])
    no_vec = tmp_path / "novec.parquet"
    pq.write_table(pa.table({"id": ["a"], "embedding": [[1.0] * 8]}), no_vec)
    truncated = tmp_path / "trunc.parquet"
    write_parquet(truncated, seed=9)
    truncated.write_bytes(truncated.read_bytes()[:-100])
    wrong_dim = tmp_path / "dim.parquet"
    write_parquet(wrong_dim, dim=4, seed=9)

    for path, words in [
        (mixed, "mixed dimensions"),
        (tmp_path / "late_nan.parquet", "NaN"),
        (dup, "duplicate"),
        (no_vec, "'vector'"),
        (truncated, "not a readable Parquet"),
        (wrong_dim, "dimensions"),
    ]:
        with pytest.raises(BadInput) as err:
            load_features(store, "feat", path, progress=False)
        assert words in str(err.value), (path, err.value)
        assert snapshot(store) == before


def test_unknown_file_type_and_missing_file(store, tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(BadInput, match="unknown file type"):
        load_features(store, "feat", tmp_path / "x.csv", progress=False)
    with pytest.raises(BadInput, match="No such file"):
        load_features(store, "feat", tmp_path / "missing.npz", progress=False)


def test_encoder_mismatch_is_refused(store, tmp_path):
    write_npz(tmp_path / "a.npz", n=20)
    load_features(store, "feat", tmp_path / "a.npz", encoder="clip", progress=False)
    write_npz(tmp_path / "b.npz", n=20, seed=3)
    with pytest.raises(BadInput, match="loaded with encoder clip"):
        load_features(store, "feat", tmp_path / "b.npz", encoder="pixels", progress=False)
    assert store.registry.get("feat")["rows"] == 20
