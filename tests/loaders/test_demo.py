"""The offline demo: scikit-learn's digits through the pixels encoder, via the CLI as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from vectrain.loaders.demo import load_demo

ROOT = Path(__file__).resolve().parents[2]


def test_demo_loads_1797_digits_with_splits(store, api):
    summary = load_demo(store, progress=False)
    assert summary.loaded == 1797
    body = api.get("/datasets/digits").json()
    assert body["rows"] == 1797 and body["dim"] == 192 and body["encoder"] == "pixels@size=8"
    splits = api.post(
        "/sql", json={"query": "SELECT split, count() FROM items_digits GROUP BY split ORDER BY split"}
    ).json()
    assert splits["rows"] == [["test", 360], ["train", 1437]]
    # Nearest neighbours in pixel space mostly share the digit: the demo is meaningful.
    r = api.post("/datasets/digits/search", json={"item_id": "digit-0000", "k": 5, "exclude_ids": ["digit-0000"]})
    labels = [i["label"] for i in r.json()["items"]]
    assert labels.count("0") >= 4
    assert load_demo(store, progress=False).loaded == 0  # idempotent


def test_cli_load_demo_search_and_sql(tmp_path):
    env = {**os.environ, "VECTRAIN_DATABASE_URL": f"chdb://{tmp_path / 'db'}", "VECTRAIN_SERVICE_URL": ""}

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "vectrain.cli.main", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    loaded = cli("load", "demo")
    assert loaded.returncode == 0, loaded.stderr
    assert "digits: loaded 1797" in loaded.stdout
    listed = cli("--json", "datasets")
    assert '"rows": 1797' in listed.stdout
    found = cli("search", "digits", "--id", "digit-0010", "-k", "3")
    assert found.returncode == 0 and found.stdout.count("digit-") == 3
    vec = tmp_path / "q.npy"
    np.save(vec, np.ones(192, dtype=np.float32))
    assert cli("search", "digits", "--vector-file", str(vec), "-k", "2").returncode == 0
    refused = cli("sql", "DROP TABLE items_digits")
    assert refused.returncode == 1 and "read-only" in refused.stderr
    counted = cli("sql", "SELECT count() FROM items_digits")
    assert "1797" in counted.stdout
