"""A cancel stops every phase of a load: checking the file, inserting, the index build; and a
job cancelled while it checks a large file ends in seconds."""

import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.jobs import test_jobs
from tests.jobs.test_jobs import wait
from vectrain.jobs.records import JobCancelled
from vectrain.loaders.features import load_features
from vectrain.storage.query import Query

root, service = test_jobs.root, test_jobs.service  # the service and its load root, as test_jobs sets them up


class CancelAt:
    """A job's progress handle (what the runner hands the work), cancelled at its n-th check or
    once the work says it builds the index."""

    def __init__(self, at: int | None = None, at_note: str | None = None, after_note: int = 1):
        self.at, self.at_note, self.after_note = at, at_note, after_note
        self.checks, self.since_note = 0, None

    def __call__(self, done, total=None):
        self.check()

    def note(self, message):
        if self.at_note is not None and self.at_note in message and self.since_note is None:
            self.since_note = 0

    def check(self):
        self.checks += 1
        if self.since_note is not None:
            self.since_note += 1
        if (self.at is not None and self.checks >= self.at) or (self.since_note or 0) >= self.after_note:
            raise JobCancelled()


def write_npz(path, n, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, vectors=rng.normal(size=(n, dim)).astype(np.float32), ids=np.array([f"r{i}" for i in range(n)]))


def stored(store, name):
    return store.registry.get(name)["rows"] if name in [d["name"] for d in store.registry.list()] else 0


def test_a_cancel_while_the_file_is_checked_stores_nothing(store, tmp_path):
    store.settings.insert_batch_rows = 100
    write_npz(tmp_path / "a.npz", 5000)
    progress = CancelAt(at=5)  # during the checking pass (50 batches)
    with pytest.raises(JobCancelled):
        load_features(store, "a", tmp_path / "a.npz", progress=progress)
    assert progress.checks == 5 and stored(store, "a") == 0


def test_a_cancel_while_inserting_stops_at_the_next_batch(store, tmp_path):
    store.settings.insert_batch_rows = 100
    write_npz(tmp_path / "a.npz", 5000)
    progress = CancelAt(at=50 + 10)  # 50 checks in the first pass, then 10 in the second
    with pytest.raises(JobCancelled):
        load_features(store, "a", tmp_path / "a.npz", progress=progress)
    assert 0 < stored(store, "a") < 5000


def test_a_cancel_during_the_index_build_kills_it(store, tmp_path):
    write_npz(tmp_path / "a.npz", 40_000, dim=128)
    # the checks before the merge and before the build, then the first while the build runs
    progress = CancelAt(at_note="building the vector index", after_note=3)
    with pytest.raises(JobCancelled):
        load_features(store, "a", tmp_path / "a.npz", progress=progress)
    assert stored(store, "a") == 40_000  # what was stored stays
    where = {"db": store.database, "table": "items_a"}
    assert progress.since_note == 3  # stopped while the engine built it
    assert int(store.scalar(Query.named("items.pending_mutations", **where))) == 0  # the build was killed
    assert store.registry.get("a")["index"] == "missing"
    assert store.registry.build_index("a") > 0 and store.registry.get("a")["index"] == "ready"  # a rebuild works


def test_a_job_checking_a_large_parquet_file_is_cancelled_in_seconds(service, root, store):
    n = 2_000_000
    table = pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(np.tile(np.float32([1, 2, 3, 4]), n)), 4),
        }
    )
    pq.write_table(table, root / "big.parquet", row_group_size=100_000)
    store.settings.insert_batch_rows = 1000
    job = service.post("/datasets/big/load", data={"source": "features", "path": "big.parquet"}).json()
    deadline = time.monotonic() + 30
    while service.get(f"/jobs/{job['id']}").json()["state"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    assert service.delete(f"/jobs/{job['id']}").status_code == 200
    done = wait(service, job["id"], timeout=30)
    assert done["state"] == "cancelled", done
    assert time.monotonic() - started < 5
    assert stored(store, "big") == 0
