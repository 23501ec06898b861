import json
import pickle
import tarfile

import numpy as np
import pytest
from click.testing import CliRunner

from tests.fixtures import NAMES10, cifar10_files
from vectrain.cli.common import Context
from vectrain.cli.main import main
from vectrain.core.errors import BadInput, NotFound
from vectrain.loaders.cifar import load_cifar
from vectrain.loaders.cifar_archive import write_archive


def rows(store, name):
    result = store.client.query(f"SELECT id, label, split, meta, url, vector FROM items_{name} ORDER BY id")
    return {r[0]: dict(zip(result.column_names, r)) for r in result.result_rows}


def expected_pixels(row_uint8):
    hwc = row_uint8.reshape(3, 32, 32).transpose(1, 2, 0).astype(np.float32).ravel()
    return hwc / np.linalg.norm(hwc)


def test_official_layout(tmp_path):
    archive, _ = cifar10_files(tmp_path, 10, 5)
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == sorted(
            ["cifar-10-batches-py/batches.meta", "cifar-10-batches-py/test_batch"]
            + [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)]
        )
        batch = pickle.load(tar.extractfile("cifar-10-batches-py/data_batch_1"), encoding="bytes")
    assert set(batch) == {b"batch_label", b"filenames", b"data", b"labels"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (2, 3072)


def test_cifar10_round_trip(store, tmp_path):
    archive, splits = cifar10_files(tmp_path)
    summary = load_cifar(store, "c10", "cifar10", archive, encoder="pixels", progress=False)
    assert (summary.loaded, summary.skipped, summary.failed) == (70, 0, 0)
    got = rows(store, "c10")
    assert len(got) == 70
    for split, (data, labels) in splits.items():
        for i in (0, 7, len(labels) - 1):
            row = got[f"{split}-{i:05d}"]
            assert row["label"] == NAMES10[labels[i]] and row["split"] == split
            meta = json.loads(row["meta"])
            assert meta["filename"] == f"img_{split}_{i:05d}.png" and meta["label_index"] == labels[i]
            np.testing.assert_allclose(row["vector"], expected_pixels(data[i]), atol=1e-6)
    info = store.registry.get("c10")
    assert (info["encoder"], info["dim"]) == ("pixels", 3072)


def test_cifar100_fine_and_coarse(store, tmp_path):
    rng = np.random.default_rng(1)
    fine, coarse = [f"fine{i}" for i in range(100)], [f"coarse{i}" for i in range(20)]
    data = rng.integers(0, 256, (12, 3072), dtype=np.uint8)
    f_lab, c_lab = rng.integers(0, 100, 12), rng.integers(0, 20, 12)
    archive = write_archive(
        tmp_path / "cifar-100-python.tar.gz",
        "cifar100",
        {"train": (data[:8], f_lab[:8]), "test": (data[8:], f_lab[8:])},
        fine,
        coarse={"train": c_lab[:8], "test": c_lab[8:], "names": coarse},
    )
    load_cifar(store, "c100", "cifar100", archive, encoder="pixels", progress=False)
    got = rows(store, "c100")
    assert len(got) == 12
    row = got["test-00002"]
    assert row["label"] == fine[f_lab[10]] and json.loads(row["meta"])["coarse_label"] == coarse[c_lab[10]]
    np.testing.assert_allclose(row["vector"], expected_pixels(data[10]), atol=1e-6)


def test_split_and_limit(store, tmp_path):
    archive, _ = cifar10_files(tmp_path)
    load_cifar(store, "tr", "cifar10", archive, split="train", limit=13, encoder="pixels", progress=False)
    assert sorted(rows(store, "tr")) == [f"train-{i:05d}" for i in range(13)]
    load_cifar(store, "te", "cifar10", archive, split="test", encoder="pixels", progress=False)
    assert sorted(rows(store, "te")) == [f"test-{i:05d}" for i in range(20)]
    load_cifar(store, "both", "cifar10", archive, split="all", limit=3, encoder="pixels", progress=False)
    assert sorted(rows(store, "both")) == [f"test-{i:05d}" for i in range(3)] + [f"train-{i:05d}" for i in range(3)]


def test_resume(store, tmp_path):
    archive, _ = cifar10_files(tmp_path)
    first = load_cifar(store, "c10", "cifar10", archive, limit=15, encoder="pixels", progress=False)
    assert first.loaded == 30
    second = load_cifar(store, "c10", "cifar10", archive, encoder="pixels", progress=False)
    assert (second.loaded, second.skipped) == (40, 30)
    third = load_cifar(store, "c10", "cifar10", archive, encoder="pixels", progress=False)
    assert (third.loaded, third.skipped) == (0, 70)
    assert store.registry.count_rows("c10") == 70


def test_extracted_folder(store, tmp_path):
    archive, _ = cifar10_files(tmp_path, 10, 5)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    summary = load_cifar(store, "c10", "cifar10", tmp_path / "x", encoder="pixels", progress=False)
    assert summary.loaded == 15


def test_truncated_archive_is_refused_and_changes_nothing(store, tmp_path):
    archive, _ = cifar10_files(tmp_path, 200, 50)
    load_cifar(store, "c10", "cifar10", archive, limit=5, encoder="pixels", progress=False)
    raw = archive.read_bytes()
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(raw[: len(raw) * 2 // 3])
    for name in ("c10", "fresh"):
        with pytest.raises(BadInput, match="not a complete CIFAR-10"):
            load_cifar(store, name, "cifar10", broken, encoder="pixels", progress=False)
    assert store.registry.count_rows("c10") == 10
    with pytest.raises(NotFound):
        store.registry.get("fresh")
    (tmp_path / "junk.tar.gz").write_bytes(b"this is not an archive")
    with pytest.raises(BadInput, match="not a complete"):
        load_cifar(store, "fresh", "cifar10", tmp_path / "junk.tar.gz", encoder="pixels", progress=False)


def test_pickle_with_code_is_refused(store, tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in ["batches.meta", "test_batch"] + [f"data_batch_{i}" for i in range(1, 6)]:
            raw = pickle.dumps({b"label_names": Evil()})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            import io

            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(BadInput, match="posix.system is not part of a CIFAR batch|system is not part"):
        load_cifar(store, "evil", "cifar10", path, encoder="pixels", progress=False)


def test_other_encoder_into_existing_dataset_is_refused(store, tmp_path):
    archive, _ = cifar10_files(tmp_path, 10, 5)
    load_cifar(store, "c10", "cifar10", archive, encoder="pixels", progress=False)
    with pytest.raises(BadInput, match="was loaded with encoder pixels.*pixels@size=8"):
        load_cifar(store, "c10", "cifar10", archive, encoder="pixels@size=8", progress=False)
    assert store.registry.count_rows("c10") == 15


def test_cli(store, tmp_path, monkeypatch):
    archive, _ = cifar10_files(tmp_path, 10, 5)
    monkeypatch.setattr(Context, "store", lambda self, command="vectrain": store)
    runner = CliRunner()
    r = runner.invoke(
        main,
        ["load", "cifar10", "c10", "--path", str(archive), "--encoder", "pixels", "--split", "train", "--limit", "4"],
    )
    assert r.exit_code == 0, r.output
    assert "loaded 4" in r.output
    r = runner.invoke(main, ["--json", "load", "cifar10", "c10", "--path", str(archive), "--encoder", "pixels"])
    assert json.loads(r.stdout[r.stdout.index("{") :])["loaded"] == 11
    (tmp_path / "bad.tar.gz").write_bytes(b"\x1f\x8b broken")
    r = runner.invoke(main, ["load", "cifar10", "c10", "--path", str(tmp_path / "bad.tar.gz"), "--encoder", "pixels"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.strip().startswith("Error:") and "not a complete CIFAR-10" in r.output
