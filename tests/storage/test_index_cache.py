"""The engine keeps vector indexes in memory between searches: a part's index that does not fit
its cache is read from disk again by every search (seconds at 4M rows), so the service sizes the
cache and says when an index cannot stay in it."""

import os
import subprocess
import sys
from pathlib import Path

from vectrain.storage.engine import engine_options, memory_bytes
from vectrain.storage.query import Query

ROOT = Path(__file__).resolve().parents[2]


def test_cache_defaults_to_half_the_memory_with_lru():
    assert engine_options(0) == {
        "vector_similarity_index_cache_size": str(memory_bytes() // 2),
        "vector_similarity_index_cache_policy": "LRU",
    }
    assert engine_options(3 * 2**30)["vector_similarity_index_cache_size"] == str(3 * 2**30)
    assert 2**28 < memory_bytes() < 2**50


def test_the_embedded_engine_runs_with_that_cache(shared_store, shared_toy):
    cache = shared_store.rows(Query.named("meta.index_cache"))[0]
    assert cache["policy"] == "LRU"
    assert cache["size"] == int(
        engine_options(shared_store.settings.index_cache_bytes)["vector_similarity_index_cache_size"]
    )
    assert shared_store.registry.get("toy")["index"] == "ready"
    assert shared_store.registry.index_cache_warning("toy") is None


def test_a_load_says_when_the_index_cannot_stay_in_memory(tmp_path):
    env = {
        **os.environ,
        "VECTRAIN_DATABASE_URL": f"chdb://{tmp_path / 'db'}",
        "VECTRAIN_SERVICE_URL": "",
        "VECTRAIN_INDEX_CACHE_BYTES": "4096",
    }
    loaded = subprocess.run(
        [sys.executable, "-m", "vectrain.cli.main", "load", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "the vector index of dataset digits needs about" in loaded.stderr
    assert "holds 0.0 GiB per entry (LRU" in loaded.stderr
    assert "Raise VECTRAIN_INDEX_CACHE_BYTES" in loaded.stderr
