"""Features files whose headers lie or promise too much: bounded from the headers (the npy headers
inside the zip, the Parquet footer) before any row is read, and read in bounded batches."""

import io
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vectrain.core.errors import BadInput, TooLarge
from vectrain.loaders.features import load_features


def rss_peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def npy_header(shape, dtype="<f4") -> bytes:
    """An npy (1.0) header alone: what np.save writes before the data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_a_470_byte_npz_declaring_10_12_rows_is_refused_from_its_header(store, tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("vectors.npy", npy_header((10**12, 512)))
        z.writestr("ids.npy", npy_header((10**12,), "<U8"))
    assert path.stat().st_size < 1000
    with pytest.raises(TooLarge) as err:
        load_features(store, "bomb", path, progress=False)
    assert "1,000,000,000,000 rows" in err.value.message and "VECTRAIN_MAX_LOAD_ROWS" in err.value.message
    assert store.registry.list() == []


def test_an_npz_whose_header_and_zip_disagree_is_refused(store, tmp_path):
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("vectors.npy", npy_header((1000, 512)) + bytes(100))  # declares 2 MB, holds 100 bytes
        z.writestr("ids.npy", npy_header((1000,), "<U8") + bytes(32_000))
    with pytest.raises(BadInput, match="truncated or corrupt"):
        load_features(store, "liar", path, progress=False)


def test_two_mb_of_zeros_declaring_2_gb_are_refused_in_bounded_memory(store, tmp_path):
    path = tmp_path / "zeros.npz"
    n, dim = 1_000_000, 512
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("vectors.npy", "w", force_zip64=True) as f:
            f.write(npy_header((n, dim)))
            block = bytes(4 * dim * 10_000)
            for _ in range(n // 10_000):
                f.write(block)
        z.writestr("ids.npy", npy_header((n,), "<U7") + np.array([f"i{i}" for i in range(n)], "<U7").tobytes())
    assert path.stat().st_size < 20_000_000
    Path("/proc/self/clear_refs").write_text("5")
    before, started = rss_peak_mb(), time.monotonic()
    with pytest.raises(BadInput, match="all zeros"):
        load_features(store, "zeros", path, progress=False)
    assert rss_peak_mb() - before < 200  # was +1,985 MB
    assert time.monotonic() - started < 10
    assert store.registry.list() == []


def test_object_arrays_are_refused_without_unpickling(store, tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, vectors=np.ones((3, 4), np.float32), ids=np.array(["a", "b", "c"], dtype=object))
    with pytest.raises(BadInput, match="Python objects"):
        load_features(store, "pickled", path, progress=False)


def test_a_parquet_file_declaring_more_rows_than_the_limit_is_refused_from_its_footer(store, tmp_path):
    store.settings.max_load_rows = 1000
    path = tmp_path / "many.parquet"
    n = 5000
    ids = pa.array(np.arange(n, dtype=np.int64))
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(np.ones(n * 4, np.float32)), 4)
    pq.write_table(
        pa.table({"id": ids, "vector": vectors}),
        path,
        use_dictionary=False,
        column_encoding={"id": "DELTA_BINARY_PACKED"},
    )
    with pytest.raises(TooLarge) as err:
        load_features(store, "many", path, progress=False)
    assert "5,000 rows" in err.value.message and "VECTRAIN_MAX_LOAD_ROWS" in err.value.message
    assert store.registry.list() == []


def test_large_files_load_in_bounded_batches(store, tmp_path):
    """Rows within the limits still load, in batches sized by bytes (here a few rows each)."""
    import vectrain.loaders.features as features

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 64)).astype(np.float32)
    np.savez(tmp_path / "ok.npz", vectors=vectors, ids=np.array([f"r{i}" for i in range(300)]))
    batches = []
    original = features.DatasetWriter.write

    def counting(self, **batch):
        batches.append(len(batch["ids"]))
        return original(self, **batch)

    features.DatasetWriter.write = counting
    try:
        old = features.BATCH_BYTES
        features.BATCH_BYTES = 64 * 4 * 50  # 50 rows of vectors (ids take a little more)
        summary = load_features(store, "ok", tmp_path / "ok.npz", progress=False)
    finally:
        features.DatasetWriter.write = original
        features.BATCH_BYTES = old
    assert summary.loaded == 300 and max(batches) <= 50 and sum(batches) == 300
    stored = store.client.query("SELECT id, vector FROM items_ok ORDER BY toUInt32(substring(id, 2))").result_rows
    np.testing.assert_allclose(
        np.array([r[1] for r in stored]), vectors / np.linalg.norm(vectors, axis=1, keepdims=True), atol=1e-6
    )


def test_ids_as_bytes_and_numbers(store, tmp_path):
    v = np.eye(3, 4, dtype=np.float32) + 0.1
    np.savez(tmp_path / "b.npz", vectors=v, ids=np.array([b"a", b"b", b"c"]))
    np.savez(tmp_path / "n.npz", vectors=v, ids=np.array([7, 8, 9]))
    load_features(store, "b", tmp_path / "b.npz", progress=False)
    load_features(store, "n", tmp_path / "n.npz", progress=False)
    assert sorted(r[0] for r in store.client.query("SELECT id FROM items_b").result_rows) == ["a", "b", "c"]
    assert sorted(r[0] for r in store.client.query("SELECT id FROM items_n").result_rows) == ["7", "8", "9"]


def test_wide_dictionary_encoded_vectors_are_read_in_batches_bounded_by_their_decoded_size(store, tmp_path):
    """One value dictionary-encoded: the footer's stored sizes say ~0 bytes a row, the vectors
    decode to 64 KB each (a 0.8 MB file of 20,000 x 65,536 ones grew a service past 23 GB)."""
    path = tmp_path / "wide.parquet"
    n, dim = 3000, 16_384
    schema = pa.schema([("id", pa.string()), ("vector", pa.list_(pa.float32(), dim))])
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(np.ones(n * dim, np.float32)), dim)
    ids = pa.array([f"r{i}" for i in range(n - 1)] + ["r0"])  # a duplicate: refused after reading every row
    pq.write_table(pa.table({"id": ids, "vector": vectors}, schema=schema), path, use_dictionary=True)
    element = pq.ParquetFile(path).metadata.row_group(0).column(1)
    assert element.total_uncompressed_size < n * 10  # what the footer says it stores
    Path("/proc/self/clear_refs").write_text("5")
    before = rss_peak_mb()
    with pytest.raises(BadInput, match="duplicate ids"):
        load_features(store, "wide", path, progress=False)
    assert rss_peak_mb() - before < 500  # was +1,583 MB in 3,000-row batches (196 MB decoded each)
    assert store.registry.list() == []


def test_a_parquet_vector_larger_than_a_row_may_be_is_refused_from_the_footer(store, tmp_path):
    import vectrain.loaders.features as features

    path = tmp_path / "huge_rows.parquet"
    n, dim = 4, 100_000
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(np.ones(n * dim, np.float32)), dim)
    pq.write_table(pa.table({"id": pa.array(["a", "b", "c", "d"]), "vector": vectors}), path, use_dictionary=True)
    old = features.ROW_BYTES_MAX
    features.ROW_BYTES_MAX = 100_000  # 400 KB a row declared
    try:
        with pytest.raises(TooLarge, match="a row"):
            load_features(store, "huge", path, progress=False)
    finally:
        features.ROW_BYTES_MAX = old


def test_a_dictionary_encoded_label_standing_for_every_row_is_read_in_bounded_batches(store, tmp_path):
    """One 50 KB label for 30,000 rows: ~1 MB stored, 1.5 GB decoded; batches are cut by the
    longest value of each string column's dictionary (was +1 GB at 10,000 rows a batch)."""
    path = tmp_path / "labels.parquet"
    n = 30_000
    vectors = pa.FixedSizeListArray.from_arrays(pa.array(np.random.default_rng(0).normal(size=n * 4), pa.float32()), 4)
    ids = pa.array([f"r{i}" for i in range(n - 1)] + ["r0"])  # a duplicate: refused after reading every row
    label = pa.array(["x" * 50_000] * n).dictionary_encode()
    pq.write_table(pa.table({"id": ids, "vector": vectors, "label": label}), path, compression="zstd")
    assert path.stat().st_size < 2_000_000
    Path("/proc/self/clear_refs").write_text("5")
    before = rss_peak_mb()
    with pytest.raises(BadInput, match="duplicate ids"):
        load_features(store, "labels", path, progress=False)
    assert rss_peak_mb() - before < 300
    assert store.registry.list() == []
